//! The channel v2 frame that edge routers and SDKs exchange over TLS. All integers are
//! little-endian:
//!
//! ```text
//! magic 03 06 09 0c | content type i32 | sequence i32 | header bytes u32 | body bytes u32
//! headers: (key i32, length u32, value)*  | body
//! ```
//!
//! Stricter than the Go SDK on purpose: a repeated header key is an error (Go keeps the last one,
//! so two parties could read one frame differently), and both sections are capped before any
//! allocation.

use std::collections::BTreeMap;

use crate::ProtocolError as Error;

const MAGIC_V2: [u8; 4] = [0x03, 0x06, 0x09, 0x0c];
/// What a peer that does not speak our version answers: this magic, a u32 count, u32 versions.
const MAGIC_UNKNOWN_VERSION: [u8; 4] = [0x03, 0x06, 0x09, 0x0a];
const PREFIX_LEN: usize = 20;

/// Cap on a frame's header section. Routers refuse a hello with more than 16 KiB of headers;
/// nothing a client receives legitimately comes close to this.
pub const MAX_HEADERS: usize = 64 * 1024;
/// Cap on a frame's body. SDKs keep data bodies at or under 32 KiB; the cap leaves room for
/// larger controller-issued tokens without letting a peer make us allocate at will.
pub const MAX_BODY: usize = 1024 * 1024;

/// Header 1: the sequence number of the request a message answers ([`Frame::reply_for`]).
pub(crate) const REPLY_FOR: i32 = 1;

/// One channel v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// What the message is (channel-level types 0–6, edge types 60783 and up).
    pub content_type: i32,
    /// The sender's counter; replies name it in header 1 (see [`Frame::reply_for`]).
    pub sequence: i32,
    headers: BTreeMap<i32, Vec<u8>>,
    /// The payload.
    pub body: Vec<u8>,
}

impl Frame {
    /// A message of `content_type` with `body`, sequence 0 and no headers.
    pub fn new(content_type: i32, body: impl Into<Vec<u8>>) -> Self {
        Self {
            content_type,
            sequence: 0,
            headers: BTreeMap::new(),
            body: body.into(),
        }
    }

    /// Sets the sequence number.
    #[must_use]
    pub fn with_sequence(mut self, sequence: i32) -> Self {
        self.sequence = sequence;
        self
    }

    /// Sets header `key` to raw bytes (replacing any earlier value).
    pub fn put_bytes(&mut self, key: i32, value: impl Into<Vec<u8>>) -> &mut Self {
        self.headers.insert(key, value.into());
        self
    }

    /// Sets a UTF-8 string header (no terminator, as the SDKs encode strings).
    pub fn put_str(&mut self, key: i32, value: &str) -> &mut Self {
        self.put_bytes(key, value.as_bytes())
    }

    /// Sets a one-byte header.
    pub fn put_u8(&mut self, key: i32, value: u8) -> &mut Self {
        self.put_bytes(key, [value])
    }

    /// Sets a boolean header (one byte, 1 or 0).
    pub fn put_bool(&mut self, key: i32, value: bool) -> &mut Self {
        self.put_u8(key, u8::from(value))
    }

    /// Sets a little-endian u16 header.
    pub fn put_u16(&mut self, key: i32, value: u16) -> &mut Self {
        self.put_bytes(key, value.to_le_bytes())
    }

    /// Sets a little-endian u32 header.
    pub fn put_u32(&mut self, key: i32, value: u32) -> &mut Self {
        self.put_bytes(key, value.to_le_bytes())
    }

    /// Sets a little-endian u64 header.
    pub fn put_u64(&mut self, key: i32, value: u64) -> &mut Self {
        self.put_bytes(key, value.to_le_bytes())
    }

    /// Marks this message as the reply to the message with sequence `request`.
    pub fn set_reply_for(&mut self, request: i32) -> &mut Self {
        self.put_bytes(REPLY_FOR, request.to_le_bytes())
    }

    /// The raw value of header `key`.
    pub fn header(&self, key: i32) -> Option<&[u8]> {
        self.headers.get(&key).map(Vec::as_slice)
    }

    /// All headers, by ascending key.
    pub fn headers(&self) -> impl Iterator<Item = (i32, &[u8])> {
        self.headers.iter().map(|(k, v)| (*k, v.as_slice()))
    }

    fn fixed<const N: usize>(&self, key: i32) -> Result<Option<[u8; N]>, Error> {
        self.header(key)
            .map(|v| {
                v.try_into().map_err(|_| Error::HeaderLength {
                    key,
                    len: v.len(),
                    expected: N,
                })
            })
            .transpose()
    }

    /// Header `key` as a one-byte value.
    pub fn get_u8(&self, key: i32) -> Result<Option<u8>, Error> {
        Ok(self.fixed::<1>(key)?.map(|[b]| b))
    }

    /// Header `key` as a boolean (any non-zero byte is true, as the SDKs read it).
    pub fn get_bool(&self, key: i32) -> Result<Option<bool>, Error> {
        Ok(self.get_u8(key)?.map(|b| b != 0))
    }

    /// Header `key` as a little-endian u16.
    pub fn get_u16(&self, key: i32) -> Result<Option<u16>, Error> {
        Ok(self.fixed(key)?.map(u16::from_le_bytes))
    }

    /// Header `key` as a little-endian u32.
    pub fn get_u32(&self, key: i32) -> Result<Option<u32>, Error> {
        Ok(self.fixed(key)?.map(u32::from_le_bytes))
    }

    /// Header `key` as a little-endian u64.
    pub fn get_u64(&self, key: i32) -> Result<Option<u64>, Error> {
        Ok(self.fixed(key)?.map(u64::from_le_bytes))
    }

    /// Header `key` as UTF-8 text; `None` when absent or not UTF-8.
    pub fn get_str(&self, key: i32) -> Option<&str> {
        self.header(key).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The sequence number this message answers, if it is a reply.
    pub fn reply_for(&self) -> Result<Option<i32>, Error> {
        Ok(self.fixed(REPLY_FOR)?.map(i32::from_le_bytes))
    }

    /// The wire form. Headers go out by ascending key (the Go SDK writes them in map order,
    /// which readers must not depend on).
    pub fn encode(&self) -> Vec<u8> {
        let header_len: usize = self.headers.values().map(|v| 8 + v.len()).sum();
        let mut out = Vec::with_capacity(PREFIX_LEN + header_len + self.body.len());
        out.extend_from_slice(&MAGIC_V2);
        out.extend_from_slice(&self.content_type.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&wire_len(header_len).to_le_bytes());
        out.extend_from_slice(&wire_len(self.body.len()).to_le_bytes());
        for (key, value) in &self.headers {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&wire_len(value.len()).to_le_bytes());
            out.extend_from_slice(value);
        }
        out.extend_from_slice(&self.body);
        out
    }

    /// Decodes one frame from the start of `buf` and says how many bytes it used.
    /// [`Error::Truncated`] means: read at least `need` bytes, then call again.
    pub fn decode(buf: &[u8]) -> Result<(Self, usize), Error> {
        let Some(magic) = buf.first_chunk::<4>() else {
            return Err(Error::Truncated {
                need: PREFIX_LEN,
                have: buf.len(),
            });
        };
        if *magic == MAGIC_UNKNOWN_VERSION {
            return Err(unknown_version(buf));
        }
        if *magic != MAGIC_V2 {
            return Err(Error::BadMagic(*magic));
        }
        let Some(prefix) = buf.first_chunk::<PREFIX_LEN>() else {
            return Err(Error::Truncated {
                need: PREFIX_LEN,
                have: buf.len(),
            });
        };
        let field = |at: usize| [prefix[at], prefix[at + 1], prefix[at + 2], prefix[at + 3]];
        let content_type = i32::from_le_bytes(field(4));
        let sequence = i32::from_le_bytes(field(8));
        let header_len = u32::from_le_bytes(field(12)) as usize;
        let body_len = u32::from_le_bytes(field(16)) as usize;
        if header_len > MAX_HEADERS || body_len > MAX_BODY {
            return Err(Error::TooLarge {
                headers: header_len,
                body: body_len,
            });
        }
        let total = PREFIX_LEN + header_len + body_len;
        if buf.len() < total {
            return Err(Error::Truncated {
                need: total,
                have: buf.len(),
            });
        }
        let headers = decode_headers(&buf[PREFIX_LEN..PREFIX_LEN + header_len])?;
        let body = buf[PREFIX_LEN + header_len..total].to_vec();
        Ok((
            Self {
                content_type,
                sequence,
                headers,
                body,
            },
            total,
        ))
    }
}

/// Lengths on the wire are u32; every length here is below the caps, far under u32::MAX.
fn wire_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn decode_headers(mut section: &[u8]) -> Result<BTreeMap<i32, Vec<u8>>, Error> {
    let start = section.len();
    let mut headers = BTreeMap::new();
    while !section.is_empty() {
        let offset = start - section.len();
        let Some((meta, rest)) = section.split_first_chunk::<8>() else {
            return Err(Error::MalformedHeaders(offset));
        };
        let key = i32::from_le_bytes([meta[0], meta[1], meta[2], meta[3]]);
        let len = u32::from_le_bytes([meta[4], meta[5], meta[6], meta[7]]) as usize;
        if len > rest.len() {
            return Err(Error::MalformedHeaders(offset));
        }
        let (value, rest) = rest.split_at(len);
        if headers.insert(key, value.to_vec()).is_some() {
            return Err(Error::DuplicateHeader(key));
        }
        section = rest;
    }
    Ok(headers)
}

/// The versions a peer offers in its "unknown version" answer (capped: a peer lists one or two).
fn unknown_version(buf: &[u8]) -> Error {
    const MAX_VERSIONS: usize = 16;
    let Some(count) = buf.get(4..8) else {
        return Error::Truncated {
            need: 8,
            have: buf.len(),
        };
    };
    let count =
        (u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize).min(MAX_VERSIONS);
    let need = 8 + 4 * count;
    match buf.get(8..need) {
        Some(list) => Error::UnsupportedVersion(
            list.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        None => Error::Truncated {
            need,
            have: buf.len(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_typed_headers() {
        let mut f = Frame::new(60786, b"payload".to_vec()).with_sequence(-7);
        f.put_u32(1000, 42)
            .put_u16(1004, 7)
            .put_u64(128, u64::MAX - 1)
            .put_bool(1028, true)
            .put_str(1006, "host")
            .set_reply_for(-1);
        let wire = f.encode();
        let (back, used) = Frame::decode(&wire).expect("decode");
        assert_eq!(used, wire.len());
        assert_eq!(back, f);
        assert_eq!(back.get_u32(1000), Ok(Some(42)));
        assert_eq!(back.get_u16(1004), Ok(Some(7)));
        assert_eq!(back.get_u64(128), Ok(Some(u64::MAX - 1)));
        assert_eq!(back.get_bool(1028), Ok(Some(true)));
        assert_eq!(back.get_str(1006), Some("host"));
        assert_eq!(back.reply_for(), Ok(Some(-1)));
        assert_eq!(back.get_u32(9), Ok(None));
        // A four-byte string reads as a u32: header types are the reader's convention.
        assert_eq!(back.get_u32(1006), Ok(Some(u32::from_le_bytes(*b"host"))));
        assert!(matches!(
            back.get_u16(1000),
            Err(Error::HeaderLength {
                key: 1000,
                len: 4,
                expected: 2
            })
        ));
    }

    #[test]
    fn every_prefix_of_a_frame_asks_for_more() {
        let mut f = Frame::new(0, b"id".to_vec());
        f.put_str(1002, "token");
        let wire = f.encode();
        for cut in 0..wire.len() {
            match Frame::decode(&wire[..cut]) {
                Err(Error::Truncated { need, have }) => {
                    assert_eq!(have, cut);
                    assert!(need > cut && need <= wire.len());
                }
                other => panic!("prefix {cut}: {other:?}"),
            }
        }
        // Two frames back to back: the first is decoded, the rest left for the next call.
        let mut two = wire.clone();
        two.extend_from_slice(&wire);
        assert_eq!(Frame::decode(&two).map(|(_, n)| n), Ok(wire.len()));
    }

    #[test]
    fn hostile_frames_are_refused_before_allocating() {
        let mut wire = Frame::new(60786, Vec::new()).encode();
        wire[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Frame::decode(&wire), Err(Error::TooLarge { .. })));
        wire[16..20].copy_from_slice(&0u32.to_le_bytes());
        wire[12..16].copy_from_slice(&(MAX_HEADERS as u32 + 1).to_le_bytes());
        assert!(matches!(Frame::decode(&wire), Err(Error::TooLarge { .. })));

        assert_eq!(
            Frame::decode(b"SSH-2.0-OpenSSH_9.2\r\n"),
            Err(Error::BadMagic(*b"SSH-"))
        );

        // A header whose length runs past the section, and a repeated key.
        let mut f = Frame::new(1, Vec::new());
        f.put_u32(5, 1);
        let mut wire = f.encode();
        wire[24..28].copy_from_slice(&9u32.to_le_bytes());
        assert_eq!(Frame::decode(&wire), Err(Error::MalformedHeaders(0)));
        let mut wire = f.encode();
        let entry = wire[20..32].to_vec();
        wire.extend_from_slice(&entry);
        wire[12..16].copy_from_slice(&24u32.to_le_bytes());
        assert_eq!(Frame::decode(&wire), Err(Error::DuplicateHeader(5)));
    }

    #[test]
    fn unknown_version_answer_lists_the_peers_versions() {
        let mut wire = MAGIC_UNKNOWN_VERSION.to_vec();
        wire.extend_from_slice(&2u32.to_le_bytes());
        wire.extend_from_slice(&3u32.to_le_bytes());
        assert!(matches!(
            Frame::decode(&wire),
            Err(Error::Truncated { need: 16, .. })
        ));
        wire.extend_from_slice(&4u32.to_le_bytes());
        assert_eq!(
            Frame::decode(&wire),
            Err(Error::UnsupportedVersion(vec![3, 4]))
        );
    }
}
