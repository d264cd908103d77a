//! End-to-end encryption between a dialer and the identity hosting a service ("crypto method 0"
//! of the edge protocol), so that edge routers relay only ciphertext:
//!
//! 1. each side has an X25519 key pair and sends its public key in Connect / Bind;
//! 2. both derive two session keys as libsodium's `crypto_kx` does:
//!    `BLAKE2b-512(X25519(own secret, peer public) ‖ client public ‖ server public)`, the dialer
//!    (client) receiving with the first half and sending with the second, the host the reverse;
//! 3. each side starts an XChaCha20-Poly1305 `secretstream` with its sending key, sends the
//!    24-byte stream header as its first Data body, then one stream message per Data body.

use blake2::digest::consts::{U32, U64};
use blake2::{Blake2b, Digest as _};
use crypto_secretstream::{Header, Key, PullStream, PushStream, Tag};
use zeroize::Zeroizing;

use crate::ProtocolError as Error;

/// An X25519 key pair for one connection.
pub struct KeyPair {
    secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh pair. As the Go SDK does (libsodium's `crypto_kx_seed_keypair`), the secret is the
    /// BLAKE2b-256 hash of 32 random bytes.
    pub fn generate() -> Result<Self, Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|_| Error::Random)?;
        let secret: [u8; 32] = Blake2b::<U32>::digest(seed.as_ref()).into();
        Ok(Self::from_secret(secret))
    }

    /// The pair whose secret scalar is `secret` (clamped when used, as X25519 specifies).
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let public = x25519_dalek::x25519(secret, x25519_dalek::X25519_BASEPOINT_BYTES);
        Self {
            secret: Zeroizing::new(secret),
            public,
        }
    }

    /// The public key to send to the peer (edge header PublicKey).
    pub fn public(&self) -> &[u8; 32] {
        &self.public
    }

    /// Session keys of the dialer, given the host's public key.
    pub fn client_session_keys(&self, server_public: &[u8]) -> Result<SessionKeys, Error> {
        let server = peer_key(server_public)?;
        let h = self.kx_hash(&server, &self.public, &server)?;
        Ok(SessionKeys::from_halves(&h, false))
    }

    /// Session keys of the host, given the dialer's public key.
    pub fn server_session_keys(&self, client_public: &[u8]) -> Result<SessionKeys, Error> {
        let client = peer_key(client_public)?;
        let h = self.kx_hash(&client, &client, &self.public)?;
        Ok(SessionKeys::from_halves(&h, true))
    }

    fn kx_hash(
        &self,
        peer: &[u8; 32],
        client: &[u8; 32],
        server: &[u8; 32],
    ) -> Result<Zeroizing<[u8; 64]>, Error> {
        let shared = Zeroizing::new(x25519_dalek::x25519(*self.secret, *peer));
        // An all-zero result means a low-order peer key: every session key would be predictable.
        if shared.iter().all(|b| *b == 0) {
            return Err(Error::WeakPublicKey);
        }
        let mut h = Blake2b::<U64>::new();
        h.update(shared.as_ref());
        h.update(client);
        h.update(server);
        Ok(Zeroizing::new(h.finalize().into()))
    }
}

fn peer_key(bytes: &[u8]) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| Error::PublicKeyLength(bytes.len()))
}

/// The two directions' keys of one connection.
pub struct SessionKeys {
    rx: Zeroizing<[u8; 32]>,
    tx: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKeys { .. }")
    }
}

impl SessionKeys {
    fn from_halves(h: &[u8; 64], server: bool) -> Self {
        let (first, second) = h.split_at(32);
        let (rx, tx) = if server {
            (second, first)
        } else {
            (first, second)
        };
        let half = |s: &[u8]| {
            let mut k = Zeroizing::new([0u8; 32]);
            k.copy_from_slice(s);
            k
        };
        Self {
            rx: half(rx),
            tx: half(tx),
        }
    }

    /// Keys given directly, for known-answer tests against other implementations; connections
    /// get theirs from [`KeyPair::client_session_keys`] or [`KeyPair::server_session_keys`].
    pub fn from_raw(rx: [u8; 32], tx: [u8; 32]) -> Self {
        Self {
            rx: Zeroizing::new(rx),
            tx: Zeroizing::new(tx),
        }
    }

    /// The receiving key (for tests against other implementations).
    pub fn rx(&self) -> &[u8; 32] {
        &self.rx
    }

    /// The sending key.
    pub fn tx(&self) -> &[u8; 32] {
        &self.tx
    }

    /// Starts the sending stream: the header goes out as the first Data body, alone.
    pub fn sealer(&self) -> (StreamHeader, Sealer) {
        let (header, stream) = PushStream::init(OsRandom, &Key::from(*self.tx));
        (StreamHeader(*header.as_ref()), Sealer(stream))
    }

    /// Starts the receiving stream from the peer's first Data body.
    pub fn opener(&self, header: &[u8]) -> Result<Opener, Error> {
        let header: [u8; 24] = header
            .try_into()
            .map_err(|_| Error::StreamHeaderLength(header.len()))?;
        Ok(Opener {
            stream: PullStream::init(Header::from(header), &Key::from(*self.rx)),
            finished: false,
        })
    }
}

/// The 24-byte header that starts a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader(pub [u8; 24]);

/// Encrypts one Data body at a time.
pub struct Sealer(PushStream);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer { .. }")
    }
}

impl Sealer {
    /// One stream message (tag "message", no associated data): 17 bytes longer than `plain`.
    pub fn seal(&mut self, plain: &[u8]) -> Vec<u8> {
        self.push(plain, Tag::Message)
    }

    /// The stream's last message (tag "final").
    pub fn seal_final(&mut self, plain: &[u8]) -> Vec<u8> {
        self.push(plain, Tag::Final)
    }

    fn push(&mut self, plain: &[u8], tag: Tag) -> Vec<u8> {
        let mut buf = Vec::with_capacity(plain.len() + 17);
        buf.extend_from_slice(plain);
        // Pushing into a Vec cannot fail: the only error is a buffer that cannot grow.
        let _ = self.0.push(&mut buf, &[], tag);
        buf
    }
}

/// Decrypts one Data body at a time, in order.
pub struct Opener {
    stream: PullStream,
    finished: bool,
}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Opener {
    /// The plaintext of the next message. Fails on tampering, reordering or a wrong key, and
    /// after the peer's final message.
    pub fn open(&mut self, cipher: &[u8]) -> Result<Vec<u8>, Error> {
        if self.finished {
            return Err(Error::StreamFinished);
        }
        let mut buf = cipher.to_vec();
        let tag = self
            .stream
            .pull(&mut buf, &[])
            .map_err(|_| Error::Decrypt)?;
        self.finished = tag == Tag::Final;
        Ok(buf)
    }

    /// Whether the peer sent its final message.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

/// The operating system's random source for the stream header, behind the rand_core 0.6 traits
/// the secretstream crate takes.
struct OsRandom;

impl rand_core_06::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }

    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // A header from a failed random source would repeat nonces across streams: stop instead.
        #[allow(clippy::expect_used)]
        getrandom::fill(dest).expect("the operating system's random source failed");
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core_06::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core_06::CryptoRng for OsRandom {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialer_and_host_talk_both_ways() {
        let client = KeyPair::generate().expect("client");
        let server = KeyPair::generate().expect("server");
        let ck = client.client_session_keys(server.public()).expect("ck");
        let sk = server.server_session_keys(client.public()).expect("sk");
        assert_eq!(ck.tx(), sk.rx());
        assert_eq!(ck.rx(), sk.tx());
        assert_ne!(ck.rx(), ck.tx());

        let (header, mut seal) = ck.sealer();
        let mut open = sk.opener(&header.0).expect("opener");
        for msg in [&b""[..], b"SSH-2.0-opk", &[7u8; 40000]] {
            let c = seal.seal(msg);
            assert_eq!(c.len(), msg.len() + 17);
            assert_eq!(open.open(&c).expect("open"), msg);
        }
        let last = seal.seal_final(b"bye");
        assert_eq!(open.open(&last).expect("final"), b"bye");
        assert!(open.is_finished());
        assert_eq!(open.open(&seal.seal(b"late")), Err(Error::StreamFinished));
    }

    #[test]
    fn tampering_reordering_and_bad_keys_are_refused() {
        let keys = KeyPair::generate()
            .expect("c")
            .client_session_keys(KeyPair::generate().expect("s").public())
            .expect("keys");
        let (header, mut seal) = keys.sealer();
        let (a, b) = (seal.seal(b"first"), seal.seal(b"second"));

        // Our own rx key does not open what our tx key sealed.
        let mut wrong = keys.opener(&header.0).expect("opener");
        assert_eq!(wrong.open(&a), Err(Error::Decrypt));

        let peer = SessionKeys {
            rx: Zeroizing::new(*keys.tx()),
            tx: Zeroizing::new(*keys.rx()),
        };
        let mut flipped = a.clone();
        flipped[3] ^= 1;
        assert_eq!(
            peer.opener(&header.0).expect("o").open(&flipped),
            Err(Error::Decrypt)
        );
        assert_eq!(
            peer.opener(&header.0).expect("o").open(&b),
            Err(Error::Decrypt)
        );
        assert_eq!(
            peer.opener(&header.0).expect("o").open(&a[..10]),
            Err(Error::Decrypt)
        );
        let mut ok = peer.opener(&header.0).expect("o");
        assert_eq!(ok.open(&a).as_deref(), Ok(&b"first"[..]));
        assert_eq!(ok.open(&b).as_deref(), Ok(&b"second"[..]));

        assert_eq!(
            keys.opener(&[0; 23]).map(|_| ()),
            Err(Error::StreamHeaderLength(23))
        );
    }

    #[test]
    fn weak_and_malformed_peer_keys_are_refused() {
        let pair = KeyPair::generate().expect("pair");
        // The identity point (order 1) gives an all-zero shared secret.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            pair.client_session_keys(&identity).map(|_| ()),
            Err(Error::WeakPublicKey)
        );
        assert_eq!(
            pair.server_session_keys(&[0; 32]).map(|_| ()),
            Err(Error::WeakPublicKey)
        );
        assert_eq!(
            pair.client_session_keys(&[9; 31]).map(|_| ()),
            Err(Error::PublicKeyLength(31))
        );
    }
}
