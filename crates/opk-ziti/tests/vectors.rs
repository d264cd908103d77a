//! Known answers from the OpenZiti Go SDK's own packages (tests/vectors/sdk-golang.json, made by
//! testing/ziti-vectors: `go run . > …`): frames marshalled by channel/v4, kx session keys and
//! secretstream messages made by openziti/secretstream, at the versions sdk-golang v1.3.0 uses.

use std::collections::BTreeMap;

use opk_ziti::{Frame, KeyPair};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    frames: Vec<FrameVector>,
    kx: Vec<KxVector>,
    streams: Vec<StreamVector>,
}

#[derive(Deserialize)]
struct FrameVector {
    name: String,
    content_type: i32,
    sequence: i32,
    headers: Option<Vec<HeaderVector>>,
    body_hex: String,
    wire_hex: String,
}

#[derive(Deserialize)]
struct HeaderVector {
    key: i32,
    value_hex: String,
}

#[derive(Deserialize)]
struct KxVector {
    client_sk_hex: String,
    client_pk_hex: String,
    server_sk_hex: String,
    server_pk_hex: String,
    client_rx_hex: String,
    client_tx_hex: String,
    server_rx_hex: String,
    server_tx_hex: String,
}

#[derive(Deserialize)]
struct StreamVector {
    key_hex: String,
    header_hex: String,
    messages: Vec<StreamMessage>,
}

#[derive(Deserialize)]
struct StreamMessage {
    plain_hex: String,
    tag: u8,
    cipher_hex: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("vectors/sdk-golang.json")).expect("vectors parse")
}

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex32(s: &str) -> [u8; 32] {
    hex(s).try_into().expect("32 bytes")
}

#[test]
fn frames_marshalled_by_the_go_sdk_decode_to_their_parts() {
    let v = vectors();
    assert!(v.frames.len() >= 8);
    for f in &v.frames {
        let wire = hex(&f.wire_hex);
        let (frame, used) = Frame::decode(&wire).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        assert_eq!(used, wire.len(), "{}", f.name);
        assert_eq!(frame.content_type, f.content_type, "{}", f.name);
        assert_eq!(frame.sequence, f.sequence, "{}", f.name);
        assert_eq!(frame.body, hex(&f.body_hex), "{}", f.name);
        let want: BTreeMap<i32, Vec<u8>> = f
            .headers
            .iter()
            .flatten()
            .map(|h| (h.key, hex(&h.value_hex)))
            .collect();
        let got: BTreeMap<i32, Vec<u8>> = frame.headers().map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(got, want, "{}", f.name);
        // Go writes headers in map order, so bytes can only match where the order is fixed.
        if want.len() <= 1 {
            assert_eq!(frame.encode(), wire, "{}: re-encoded bytes", f.name);
        }
        let (again, _) = Frame::decode(&frame.encode()).expect("re-decode");
        assert_eq!(again, frame, "{}", f.name);
    }
}

#[test]
fn typed_headers_read_as_the_go_sdk_wrote_them() {
    let v = vectors();
    let frame = |name: &str| {
        let f = v.frames.iter().find(|f| f.name == name).expect(name);
        Frame::decode(&hex(&f.wire_hex)).expect("decode").0
    };
    let hello = frame("hello");
    assert_eq!(hello.sequence, -1);
    assert_eq!(
        hello.get_str(1002),
        Some("3c1e8a6e-5d4b-4e2a-9a0f-0b6c9c1a2d3e")
    );
    let connect = frame("connect");
    assert_eq!(connect.get_u32(1000), Ok(Some(1)));
    assert_eq!(connect.get_u8(1009), Ok(Some(0)));
    assert_eq!(connect.get_bool(1028), Ok(Some(false)));
    assert_eq!(connect.get_str(1006), Some("ssh-host-1"));
    assert_eq!(connect.header(1003), Some(&[0xab; 32][..]));
    assert_eq!(frame("data-fin").get_u32(1010), Ok(Some(1)));
    assert_eq!(
        frame("latency").get_u64(128),
        Ok(Some(1_700_000_000_123_456_789))
    );
    let result = frame("result-reply");
    assert_eq!(result.reply_for(), Ok(Some(-1)));
    assert_eq!(result.get_bool(2), Ok(Some(true)));
    assert_eq!(opk_ziti::edge::check_hello_result(&result), Ok(()));
}

#[test]
fn kx_session_keys_match_the_go_sdk() {
    let v = vectors();
    assert!(!v.kx.is_empty());
    for k in &v.kx {
        let client = KeyPair::from_secret(hex32(&k.client_sk_hex));
        let server = KeyPair::from_secret(hex32(&k.server_sk_hex));
        assert_eq!(client.public(), &hex32(&k.client_pk_hex));
        assert_eq!(server.public(), &hex32(&k.server_pk_hex));
        let ck = client
            .client_session_keys(server.public())
            .expect("client keys");
        let sk = server
            .server_session_keys(client.public())
            .expect("server keys");
        assert_eq!(ck.rx(), &hex32(&k.client_rx_hex));
        assert_eq!(ck.tx(), &hex32(&k.client_tx_hex));
        assert_eq!(sk.rx(), &hex32(&k.server_rx_hex));
        assert_eq!(sk.tx(), &hex32(&k.server_tx_hex));
    }
}

#[test]
fn secretstream_messages_sealed_by_the_go_sdk_open() {
    let v = vectors();
    assert!(!v.streams.is_empty());
    for s in &v.streams {
        // The vector's stream key is the Go sender's tx key, so it is our rx key.
        let keys = opk_ziti::SessionKeys::from_raw(hex32(&s.key_hex), [0; 32]);
        let mut opener = keys.opener(&hex(&s.header_hex)).expect("opener");
        for (i, m) in s.messages.iter().enumerate() {
            assert!(!opener.is_finished(), "finished early at {i}");
            let plain = opener.open(&hex(&m.cipher_hex)).expect("open");
            assert_eq!(plain, hex(&m.plain_hex), "message {i}");
            assert_eq!(opener.is_finished(), m.tag == 3, "tag of message {i}");
        }
        // Out of order: the second message first does not open.
        let mut fresh = keys.opener(&hex(&s.header_hex)).expect("opener");
        assert!(fresh.open(&hex(&s.messages[1].cipher_hex)).is_err());
    }
}

#[test]
fn every_single_byte_corruption_of_a_go_frame_is_handled() {
    for f in &vectors().frames {
        let wire = hex(&f.wire_hex);
        for at in 0..wire.len().min(256) {
            for flip in [0x01, 0x80, 0xff] {
                let mut bad = wire.clone();
                bad[at] ^= flip;
                opk_ziti::fuzzing::fuzz_frame(&bad);
            }
        }
    }
}
