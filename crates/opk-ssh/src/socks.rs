//! Hand-written on purpose: the SOCKS5 subset `-D` needs (RFC 1928 no-auth CONNECT) is a few
//! dozen lines, and the crates add their own server loops and DNS resolution we must not do
//! (names are resolved by the SSH server, as with OpenSSH).

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 1;

/// Reads the greeting and the CONNECT request; returns the destination. Replies to the method
/// negotiation; the caller sends [`reply`] once the SSH side is open.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
) -> std::io::Result<(String, u16)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Err(bad("not SOCKS5"));
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    s.read_exact(&mut methods).await?;
    if !methods.contains(&NO_AUTH) {
        s.write_all(&[VERSION, NO_ACCEPTABLE]).await?;
        return Err(bad("client offers no no-auth method"));
    }
    s.write_all(&[VERSION, NO_AUTH]).await?;
    let mut req = [0u8; 4];
    s.read_exact(&mut req).await?;
    if req[0] != VERSION || req[1] != CONNECT {
        // 7: command not supported.
        s.write_all(&[VERSION, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Err(bad("only CONNECT is supported"));
    }
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            s.read_exact(&mut a).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        3 => {
            let len = s.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            s.read_exact(&mut name).await?;
            String::from_utf8(name).map_err(|_| bad("host name is not UTF-8"))?
        }
        4 => {
            let mut a = [0u8; 16];
            s.read_exact(&mut a).await?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        _ => {
            // 8: address type not supported.
            s.write_all(&[VERSION, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Err(bad("unknown address type"));
        }
    };
    let port = s.read_u16().await?;
    Ok((host, port))
}

/// Answers the CONNECT: success, or 5 (connection refused).
pub(crate) async fn reply<S: AsyncWrite + Unpin>(s: &mut S, ok: bool) -> std::io::Result<()> {
    let code = if ok { 0 } else { 5 };
    // The bound address is meaningless through a tunnel; 0.0.0.0:0 as OpenSSH sends.
    s.write_all(&[VERSION, code, 0, 1, 0, 0, 0, 0, 0, 0]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::DuplexStream;
    use tokio::task::JoinHandle;

    /// `bytes` written by a client, with [`handshake`] running on the other end: the client end
    /// (to read the answer from) and the handshake's outcome.
    async fn client_sends(
        bytes: &[u8],
    ) -> (DuplexStream, JoinHandle<std::io::Result<(String, u16)>>) {
        let (mut client, mut server) = tokio::io::duplex(256);
        let srv = tokio::spawn(async move { handshake(&mut server).await });
        client.write_all(bytes).await.expect("client bytes");
        (client, srv)
    }

    /// The server's two-byte answer to a greeting.
    async fn answer(client: &mut DuplexStream) -> [u8; 2] {
        let mut ans = [0u8; 2];
        client.read_exact(&mut ans).await.expect("answer");
        ans
    }

    #[tokio::test]
    async fn connect_by_name_and_by_address() {
        let (mut client, srv) = client_sends(&[5, 1, 0]).await;
        assert_eq!(answer(&mut client).await, [5, 0]);
        let mut req = vec![5, 1, 0, 3, 9];
        req.extend_from_slice(b"localhost");
        req.extend_from_slice(&8080u16.to_be_bytes());
        client.write_all(&req).await.expect("request");
        let got = srv.await.expect("join").expect("handshake");
        assert_eq!(got, ("localhost".to_owned(), 8080));

        // Greeting and request in one write.
        let (_client, srv) = client_sends(&[5, 1, 0, 5, 1, 0, 1, 127, 0, 0, 1, 0, 22]).await;
        let got = srv.await.expect("join").expect("handshake");
        assert_eq!(got, ("127.0.0.1".to_owned(), 22));
    }

    #[tokio::test]
    async fn refuses_auth_only_clients_and_bind() {
        let (mut client, srv) = client_sends(&[5, 1, 2]).await;
        assert_eq!(answer(&mut client).await, [5, 0xff]);
        assert!(srv.await.expect("join").is_err());

        let (_client, srv) = client_sends(&[5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 22]).await;
        assert!(srv.await.expect("join").is_err());
    }
}
