//! Minimal HTTP/1.x for the loopback redirect listener: read one request head (capped and
//! time-limited, since anything on the machine can connect), parse it with `httparse`, and write
//! small fixed responses (hand-written: four headers, no server framework needed for that).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Largest request head accepted (request line + headers).
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// Most header lines accepted.
const MAX_HEADERS: usize = 100;
/// How long one connection may take to deliver its request head, in total (slowloris guard).
pub(crate) const READ_BUDGET: Duration = Duration::from_secs(10);

/// A parsed request line; headers are validated but not kept (nothing here needs them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The method, e.g. `GET`.
    pub(crate) method: String,
    /// The path without the query, still percent-encoded.
    pub(crate) path: String,
    /// The raw query (after `?`, before any `#`), if present.
    pub(crate) query: Option<String>,
}

/// Why a connection produced no request.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The head exceeded [`MAX_HEAD`]: answer 431.
    TooLarge,
    /// The head is not valid HTTP/1.x: answer 400.
    Malformed(&'static str),
    /// The peer closed or stalled before sending a full head: just drop the connection.
    Gone,
}

/// Finds the end of the head (`\r\n\r\n`), returning the head length without the terminator.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n")
}

/// Parses a complete request head (bytes up to `\r\n\r\n`, or a whole buffer containing it)
/// with `httparse`, then applies the stricter rules of a loopback callback listener.
pub(crate) fn parse_head(data: &[u8]) -> Result<Request, ReadError> {
    let end = head_end(data).ok_or(ReadError::Malformed("incomplete request head"))?;
    if end > MAX_HEAD {
        return Err(ReadError::TooLarge);
    }
    let head = &data[..end + 4];
    // httparse accepts obs-text in header values; nothing legitimate here sends non-UTF-8.
    if std::str::from_utf8(head).is_err() {
        return Err(ReadError::Malformed("head is not UTF-8"));
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(ReadError::Malformed("bad request head")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::Malformed("too many headers"));
        }
        Err(httparse::Error::Version) => {
            return Err(ReadError::Malformed("unsupported HTTP version"));
        }
        Err(_) => return Err(ReadError::Malformed("bad request head")),
    }
    let (Some(method), Some(target)) = (req.method, req.path) else {
        return Err(ReadError::Malformed("bad request line"));
    };
    // httparse takes any token as a method; real ones are upper case.
    if !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Malformed("bad method"));
    }
    // Browsers send origin-form ("/path?query") to an origin server; nothing else is expected.
    if !target.starts_with('/') || target.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return Err(ReadError::Malformed("bad request target"));
    }
    let target = target.split('#').next().unwrap_or_default();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (target, None),
    };
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query,
    })
}

/// Reads one request head from `stream`, giving up after [`READ_BUDGET`] in total.
pub(crate) fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    let deadline = Instant::now() + READ_BUDGET;
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Gone);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| ReadError::Gone)?;
        let n = match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(ReadError::Gone),
            Ok(n) => n,
        };
        // Search only the new bytes plus a 3-byte overlap so reading stays linear.
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if head_end(&buf[from..]).is_some() {
            return parse_head(&buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge);
        }
    }
}

/// Escapes text for inclusion in HTML element content or a double-quoted attribute.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A response to write back on the loopback listener.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
    pub(crate) location: Option<String>,
    pub(crate) body: String,
}

impl Response {
    /// An HTML page with a title and one paragraph (`text` is escaped here).
    pub(crate) fn page(status: u16, reason: &'static str, title: &str, text: &str) -> Self {
        let body = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\
             <body><h1>{t}</h1><p>{p}</p></body></html>\n",
            t = html_escape(title),
            p = html_escape(text),
        );
        Response {
            status,
            reason,
            location: None,
            body,
        }
    }

    /// A 302 redirect.
    pub(crate) fn redirect(location: String) -> Self {
        Response {
            status: 302,
            reason: "Found",
            location: Some(location),
            body: String::new(),
        }
    }

    /// Serialises the response; always `Connection: close` since one request per connection is served.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\
             X-Content-Type-Options: nosniff\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.body.len()
        );
        if let Some(loc) = &self.location {
            head.push_str("Location: ");
            head.push_str(loc);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }

    /// Writes the response and closes our side. Errors are ignored: the browser may already be gone
    /// and there is nobody to tell.
    pub(crate) fn send(&self, stream: &mut TcpStream) {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = stream.write_all(&self.to_bytes());
        let _ = stream.flush();
        let _ = stream.shutdown(Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Request {
        parse_head(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e:?}"))
    }

    #[test]
    fn parses_callback() {
        let r = ok("GET /login-callback?code=a&state=b HTTP/1.1\r\nHost: localhost:3000\r\n\r\n");
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, "/login-callback");
        assert_eq!(r.query.as_deref(), Some("code=a&state=b"));
        let r = ok("GET /login HTTP/1.0\r\n\r\n");
        assert_eq!(r.path, "/login");
        assert_eq!(r.query, None);
        let r = ok("GET /x?q#frag HTTP/1.1\r\n\r\ntrailing body");
        assert_eq!(r.query.as_deref(), Some("q"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "GET / HTTP/1.1\r\n",
            "GET / HTTP/1.1\r\n\r",
            "GET /  HTTP/1.1\r\n\r\n",
            "GET / HTTP/2\r\n\r\n",
            "get / HTTP/1.1\r\n\r\n",
            "GET http://x/ HTTP/1.1\r\n\r\n",
            "GET * HTTP/1.1\r\n\r\n",
            "GET /\x01 HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
            "GET / HTTP/1.1\r\n: empty\r\n\r\n",
            "\r\n\r\n",
        ] {
            assert!(
                parse_head(bad.as_bytes()).is_err(),
                "{bad:?} should be rejected"
            );
        }
        assert!(parse_head(b"GET /\xff HTTP/1.1\r\n\r\n").is_err());
    }

    #[test]
    fn header_limits() {
        let mut many = String::from("GET / HTTP/1.1\r\n");
        for i in 0..=MAX_HEADERS {
            many.push_str(&format!("X-{i}: v\r\n"));
        }
        many.push_str("\r\n");
        assert!(parse_head(many.as_bytes()).is_err());
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(
            parse_head(big.as_bytes()),
            Err(ReadError::TooLarge)
        ));
    }

    #[test]
    fn html_escape_escapes_markup() {
        assert_eq!(
            html_escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }

    #[test]
    fn response_bytes() {
        let r = Response::page(400, "Bad Request", "T<", "p&");
        let s = String::from_utf8(r.to_bytes()).expect("utf8");
        assert!(s.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(s.contains(&format!("Content-Length: {}\r\n", r.body.len())));
        assert!(s.contains("T&lt;") && s.contains("p&amp;"));
        let r = Response::redirect("https://op/authorize?a=b".into());
        let s = String::from_utf8(r.to_bytes()).expect("utf8");
        assert!(s.contains("\r\nLocation: https://op/authorize?a=b\r\n"));
    }
}
