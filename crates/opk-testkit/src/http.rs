//! A stub HTTP/1.1 server on 127.0.0.1. Hand-written on purpose: the tests need byte-level control
//! of the answers (no redirect following, exact Content-Length, a server that never answers).

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// One request as the server read it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The request target as sent: path and query (`/authorize?x=1`).
    pub target: String,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    /// The body (Content-Length bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query after `?`, or "".
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// A header's value by its lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the server writes back: `HTTP/1.1 <status> X`, `Content-Length`, `Connection: close`,
/// the extra header lines, the body. Or, for [`Response::hang`], nothing at all.
#[derive(Clone, Debug)]
pub struct Response {
    status: u16,
    headers: Vec<String>,
    body: Vec<u8>,
    hang: bool,
}

impl Response {
    /// A status with no extra headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            hang: false,
        }
    }

    /// `Content-Type: application/json` and `body`.
    pub fn json(status: u16, body: &str) -> Self {
        Self::new(status)
            .header("Content-Type: application/json")
            .body(body)
    }

    /// A 302 to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::new(302).header(&format!("Location: {location}"))
    }

    /// Holds the connection open for 5 s without answering (for client timeouts).
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::new(0)
        }
    }

    /// One more header line (`Name: value`).
    pub fn header(mut self, line: &str) -> Self {
        self.headers.push(line.to_owned());
        self
    }

    /// The body.
    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.body = body.as_ref().to_vec();
        self
    }

    fn write_to(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.body.len()
        );
        for h in &self.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A server on a free 127.0.0.1 port, one thread per connection, one request per connection.
/// It runs until the test process ends.
pub struct StubServer {
    base: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl StubServer {
    /// Answers exact request targets from `routes`; anything else is a JSON 404.
    pub fn routes<'a>(routes: impl IntoIterator<Item = (&'a str, Response)>) -> Self {
        let routes: HashMap<String, Response> =
            routes.into_iter().map(|(p, a)| (p.to_owned(), a)).collect();
        Self::start(move |req| {
            routes
                .get(&req.target)
                .cloned()
                .unwrap_or_else(|| Response::json(404, "{\"error\":\"not found\"}"))
        })
    }

    /// As [`StubServer::routes`], for answers that name the server's own base URL
    /// (`http://127.0.0.1:PORT`): `routes` is called with it.
    pub fn routes_at<'a>(routes: impl FnOnce(&str) -> Vec<(&'a str, Response)>) -> Self {
        Self::start_at(|base| {
            let routes: HashMap<String, Response> = routes(base)
                .into_iter()
                .map(|(p, a)| (p.to_owned(), a))
                .collect();
            move |req: &Request| {
                routes
                    .get(&req.target)
                    .cloned()
                    .unwrap_or_else(|| Response::json(404, "{\"error\":\"not found\"}"))
            }
        })
    }

    /// Answers every request with `handler`.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        Self::start_at(|_| handler)
    }

    /// Answers every request with the handler that `make` builds from the server's base URL.
    pub fn start_at<H>(make: impl FnOnce(&str) -> H) -> Self
    where
        H: Fn(&Request) -> Response + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let base = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("local addr").port()
        );
        let handler: Arc<Handler> = Arc::new(make(&base));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, log) = (Arc::clone(&handler), Arc::clone(&log));
                thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Self { base, seen }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port in base URL")
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request read so far, in the order they were read.
    pub fn requests(&self) -> Vec<Request> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The targets of [`StubServer::requests`].
    pub fn targets(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.target).collect()
    }
}

fn serve(mut stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Request>>) {
    let Some(request) = read_request(&stream) else {
        return;
    };
    let response = handler(&request);
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request);
    if response.hang {
        thread::sleep(Duration::from_secs(5));
        return;
    }
    let _ = response.write_to(&mut stream);
}

/// Reads the request line, the headers up to the blank line, and Content-Length bytes of body.
fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}
