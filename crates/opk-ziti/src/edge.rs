//! The edge protocol on top of channel v2 frames: message types, header ids, flags, and the
//! messages a dialing client sends and reads. Numbers are the edge protocol's own (the same in
//! every OpenZiti SDK and router since the v1 line).

use crate::{Frame, ProtocolError as Error};

/// Frame content types.
pub mod content_type {
    /// Channel hello (client → router, sequence −1).
    pub const HELLO: i32 = 0;
    /// Channel ping.
    pub const PING: i32 = 1;
    /// Channel result: the answer to hello and to latency probes.
    pub const RESULT: i32 = 2;
    /// Latency probe (answered with a result echoing header 128).
    pub const LATENCY: i32 = 3;
    /// Channel heartbeat.
    pub const HEARTBEAT: i32 = 5;
    /// Dial a service (client → router).
    pub const CONNECT: i32 = 60783;
    /// A dial succeeded (reply to Connect).
    pub const STATE_CONNECTED: i32 = 60784;
    /// A connection closed, or a dial failed (reply to Connect).
    pub const STATE_CLOSED: i32 = 60785;
    /// Payload of one connection.
    pub const DATA: i32 = 60786;
    /// An incoming dial for a hosted service (router → host).
    pub const DIAL: i32 = 60787;
    /// The host accepts an incoming dial.
    pub const DIAL_SUCCESS: i32 = 60788;
    /// The host refuses an incoming dial.
    pub const DIAL_FAILED: i32 = 60789;
    /// Host a service (host → router).
    pub const BIND: i32 = 60790;
    /// Stop hosting.
    pub const UNBIND: i32 = 60791;
    /// The service session ended.
    pub const STATE_SESSION_ENDED: i32 = 60792;
    /// The router created the terminator for a Bind.
    pub const BIND_SUCCESS: i32 = 60800;
    /// A new API session token (OIDC sessions) was accepted.
    pub const UPDATE_TOKEN_SUCCESS: i32 = 60801;
    /// A new API session token was refused.
    pub const UPDATE_TOKEN_FAILURE: i32 = 60802;
    /// Push a refreshed API session token to the router.
    pub const UPDATE_TOKEN: i32 = 60803;
}

/// Header ids.
pub mod header {
    /// Channel result: success flag (bool).
    pub const RESULT_SUCCESS: i32 = 2;
    /// Echoed unchanged by the peer (latency probes put their send time here).
    pub const REFLECTED: i32 = 128;
    /// The connection a message belongs to (u32, chosen by the dialer).
    pub const CONN_ID: i32 = 1000;
    /// Per-connection message counter (u32).
    pub const SEQ: i32 = 1001;
    /// The API session token, in the hello (string).
    pub const SESSION_TOKEN: i32 = 1002;
    /// The sender's X25519 public key for end-to-end encryption (32 bytes).
    pub const PUBLIC_KEY: i32 = 1003;
    /// Terminator cost (u16).
    pub const COST: i32 = 1004;
    /// Terminator precedence (byte).
    pub const PRECEDENCE: i32 = 1005;
    /// Which identity's terminator to reach: addressable terminators (string).
    pub const TERMINATOR_IDENTITY: i32 = 1006;
    /// Proof that a host owns its terminator identity.
    pub const TERMINATOR_IDENTITY_SECRET: i32 = 1007;
    /// The dialer's identity name (string).
    pub const CALLER_ID: i32 = 1008;
    /// End-to-end method (byte; 0 = kx + secretstream, the only one opk speaks).
    pub const CRYPTO_METHOD: i32 = 1009;
    /// Message flags (u32, see [`super::flags`]).
    pub const FLAGS: i32 = 1010;
    /// Application data passed to the host.
    pub const APP_DATA: i32 = 1011;
    /// The router chose the connection id of an incoming dial (bool / u32).
    pub const ROUTER_PROVIDED_CONN_ID: i32 = 1012;
    /// Why something failed (u32).
    pub const ERROR_CODE: i32 = 1014;
    /// Optional router-side inspection support (bool).
    pub const SUPPORTS_INSPECT: i32 = 1023;
    /// The host understands the asynchronous BindSuccess message (bool).
    pub const SUPPORTS_BIND_SUCCESS: i32 = 1024;
    /// Random marker for tracing a connection across routers (string).
    pub const CONNECTION_MARKER: i32 = 1025;
    /// The circuit the router built (string).
    pub const CIRCUIT_ID: i32 = 1026;
    /// Whether the router wants SDK-side flow control (bool; opk always sends false).
    pub const USE_XGRESS_TO_SDK: i32 = 1028;
}

/// Bits of [`header::FLAGS`].
pub mod flags {
    /// The sender will send no more data on this connection (half close).
    pub const FIN: u32 = 1;
    /// The sender accepts multipart messages.
    pub const MULTIPART: u32 = 4;
    /// This message's (decrypted) body is multipart: `(u16 length, bytes)*`.
    pub const MULTIPART_MSG: u32 = 16;
}

/// End-to-end crypto method 0: X25519 key exchange + XChaCha20-Poly1305 secretstream.
pub const CRYPTO_METHOD_KX_SECRETSTREAM: u8 = 0;

/// The first frame on a router connection: `identity` is any name for logs (the SDKs send the
/// certificate's common name), `api_session_token` authenticates it.
pub fn hello(identity: &str, api_session_token: &str) -> Frame {
    let mut f = Frame::new(content_type::HELLO, identity.as_bytes()).with_sequence(-1);
    f.put_str(header::SESSION_TOKEN, api_session_token);
    f
}

/// Checks the router's answer to [`hello`].
pub fn check_hello_result(reply: &Frame) -> Result<(), Error> {
    if reply.content_type != content_type::RESULT || reply.reply_for()? != Some(-1) {
        return Err(Error::Unexpected {
            expected: "the answer to hello",
            content_type: reply.content_type,
        });
    }
    match reply.get_bool(header::RESULT_SUCCESS)? {
        Some(true) => Ok(()),
        _ => Err(Error::RouterRefused {
            message: peer_text(&reply.body),
        }),
    }
}

/// A dial: reach `service` (named by its Dial session token) at `terminator_identity`'s
/// terminator, optionally end-to-end encrypted with `public_key`.
#[derive(Debug, Clone)]
pub struct Connect<'a> {
    /// The Dial session token from `POST /sessions`.
    pub session_token: &'a str,
    /// Our id for this connection on this router channel.
    pub conn_id: u32,
    /// Our X25519 public key; `None` only for services that do not require encryption.
    pub public_key: Option<&'a [u8; 32]>,
    /// The hosting identity to reach (addressable terminators); `None` for any terminator.
    pub terminator_identity: Option<&'a str>,
    /// Our identity name, shown to the host.
    pub caller_id: Option<&'a str>,
}

impl Connect<'_> {
    /// The Connect frame with channel sequence `sequence`.
    pub fn frame(&self, sequence: i32) -> Frame {
        let mut f = Frame::new(content_type::CONNECT, self.session_token.as_bytes())
            .with_sequence(sequence);
        f.put_u32(header::CONN_ID, self.conn_id)
            .put_bool(header::USE_XGRESS_TO_SDK, false);
        if let Some(pk) = self.public_key {
            f.put_bytes(header::PUBLIC_KEY, pk.as_slice())
                .put_u8(header::CRYPTO_METHOD, CRYPTO_METHOD_KX_SECRETSTREAM);
        }
        if let Some(id) = self.terminator_identity {
            f.put_str(header::TERMINATOR_IDENTITY, id);
        }
        if let Some(id) = self.caller_id {
            f.put_str(header::CALLER_ID, id);
        }
        f
    }
}

/// What the router answered to a Connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectReply {
    /// The circuit is up.
    Connected {
        /// The router's circuit id, for logs.
        circuit_id: Option<String>,
        /// The host's X25519 public key; `None` means the connection is not end-to-end
        /// encrypted.
        host_public_key: Option<[u8; 32]>,
    },
    /// The dial failed (no terminator for that identity, no permission, …).
    Refused {
        /// The router's reason.
        reason: String,
    },
}

/// Reads the reply to the Connect sent with channel sequence `request`.
pub fn connect_reply(reply: &Frame, request: i32) -> Result<ConnectReply, Error> {
    if reply.reply_for()? != Some(request) {
        return Err(Error::Unexpected {
            expected: "the answer to connect",
            content_type: reply.content_type,
        });
    }
    match reply.content_type {
        content_type::STATE_CONNECTED => {
            let host_public_key = reply
                .header(header::PUBLIC_KEY)
                .map(|k| k.try_into().map_err(|_| Error::PublicKeyLength(k.len())))
                .transpose()?;
            if host_public_key.is_some()
                && reply
                    .get_u8(header::CRYPTO_METHOD)?
                    .unwrap_or(CRYPTO_METHOD_KX_SECRETSTREAM)
                    != CRYPTO_METHOD_KX_SECRETSTREAM
            {
                return Err(Error::UnsupportedCryptoMethod);
            }
            Ok(ConnectReply::Connected {
                circuit_id: reply.get_str(header::CIRCUIT_ID).map(str::to_owned),
                host_public_key,
            })
        }
        content_type::STATE_CLOSED => Ok(ConnectReply::Refused {
            reason: peer_text(&reply.body),
        }),
        other => Err(Error::Unexpected {
            expected: "the answer to connect",
            content_type: other,
        }),
    }
}

/// One Data frame of connection `conn_id`.
pub fn data(conn_id: u32, sequence: i32, body: impl Into<Vec<u8>>) -> Frame {
    let mut f = Frame::new(content_type::DATA, body).with_sequence(sequence);
    f.put_u32(header::CONN_ID, conn_id);
    f
}

/// Half close: no more data from us on `conn_id`.
pub fn fin(conn_id: u32, sequence: i32) -> Frame {
    let mut f = data(conn_id, sequence, Vec::new());
    f.put_u32(header::FLAGS, flags::FIN);
    f
}

/// Full close of `conn_id`.
pub fn close(conn_id: u32, sequence: i32) -> Frame {
    let mut f = Frame::new(content_type::STATE_CLOSED, Vec::new()).with_sequence(sequence);
    f.put_u32(header::CONN_ID, conn_id);
    f
}

/// The parts of a multipart body (`(u16 length, bytes)*`).
pub fn multipart(body: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut parts = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<2>() else {
            return Err(Error::MalformedMultipart);
        };
        let len = usize::from(u16::from_le_bytes(*len));
        if len > tail.len() {
            return Err(Error::MalformedMultipart);
        }
        let (part, tail) = tail.split_at(len);
        parts.push(part);
        rest = tail;
    }
    Ok(parts)
}

/// A peer's reason text, bounded and printable (it ends up in a one-line error).
pub(crate) fn peer_text(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.trim().is_empty() {
        "no reason given".into()
    } else {
        text.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_carries_what_the_router_needs() {
        let pk = [7u8; 32];
        let f = Connect {
            session_token: "tok",
            conn_id: 3,
            public_key: Some(&pk),
            terminator_identity: Some("host-1"),
            caller_id: Some("me"),
        }
        .frame(11);
        assert_eq!(
            (f.content_type, f.sequence, f.body.as_slice()),
            (60783, 11, &b"tok"[..])
        );
        assert_eq!(f.get_u32(header::CONN_ID), Ok(Some(3)));
        assert_eq!(f.header(header::PUBLIC_KEY), Some(&pk[..]));
        assert_eq!(f.get_u8(header::CRYPTO_METHOD), Ok(Some(0)));
        assert_eq!(f.get_str(header::TERMINATOR_IDENTITY), Some("host-1"));
        assert_eq!(f.get_str(header::CALLER_ID), Some("me"));
        assert_eq!(f.get_bool(header::USE_XGRESS_TO_SDK), Ok(Some(false)));
    }

    #[test]
    fn connect_replies() {
        let mut ok = Frame::new(content_type::STATE_CONNECTED, Vec::new());
        ok.set_reply_for(11)
            .put_bytes(header::PUBLIC_KEY, [1u8; 32])
            .put_str(header::CIRCUIT_ID, "c1");
        assert_eq!(
            connect_reply(&ok, 11),
            Ok(ConnectReply::Connected {
                circuit_id: Some("c1".into()),
                host_public_key: Some([1; 32])
            })
        );
        assert!(matches!(
            connect_reply(&ok, 12),
            Err(Error::Unexpected { .. })
        ));
        ok.put_u8(header::CRYPTO_METHOD, 1);
        assert_eq!(connect_reply(&ok, 11), Err(Error::UnsupportedCryptoMethod));

        let mut no = Frame::new(
            content_type::STATE_CLOSED,
            &b"service has no terminators\n\x1b[31m"[..],
        );
        no.set_reply_for(11);
        assert_eq!(
            connect_reply(&no, 11),
            Ok(ConnectReply::Refused {
                reason: "service has no terminators  [31m".into()
            })
        );
    }

    #[test]
    fn hello_results() {
        let mut ok = Frame::new(content_type::RESULT, Vec::new());
        ok.set_reply_for(-1).put_bool(header::RESULT_SUCCESS, true);
        assert_eq!(check_hello_result(&ok), Ok(()));
        let mut bad = Frame::new(content_type::RESULT, &b"invalid api session"[..]);
        bad.set_reply_for(-1)
            .put_bool(header::RESULT_SUCCESS, false);
        assert_eq!(
            check_hello_result(&bad),
            Err(Error::RouterRefused {
                message: "invalid api session".into()
            })
        );
    }

    #[test]
    fn multipart_bodies() {
        assert_eq!(
            multipart(b"\x02\x00hi\x00\x00\x01\x00!"),
            Ok(vec![&b"hi"[..], b"", b"!"])
        );
        assert_eq!(multipart(b"\x05\x00hi"), Err(Error::MalformedMultipart));
        assert_eq!(multipart(b"\x05"), Err(Error::MalformedMultipart));
        assert_eq!(multipart(b""), Ok(vec![]));
    }
}
