//! Errors of PK Token parsing, signing and verification: one enum, with typed details.

use std::fmt;

use crate::{Alg, ExpiryPolicy};

/// Why a JWK could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The JWK is not a JSON object.
    #[error("JWK is not a JSON object")]
    NotAnObject,
    /// The JWKS has no `keys` array.
    #[error("JWKS has no \"keys\" array")]
    NotAJwks,
    /// A required member is absent.
    #[error("JWK lacks member {0:?}")]
    MissingMember(&'static str),
    /// A member has the wrong JSON type.
    #[error("JWK member {0:?} has the wrong type")]
    MemberType(&'static str),
    /// `kty` is not RSA, EC or OKP.
    #[error("JWK key type {0:?} is not supported (RSA, EC P-256, OKP Ed25519)")]
    UnsupportedKty(String),
    /// `crv` is not P-256 (EC) or Ed25519 (OKP).
    #[error("JWK curve {0:?} is not supported (P-256, Ed25519)")]
    UnsupportedCurve(String),
    /// `alg` is not one opk accepts.
    #[error("JWK alg {0:?} is not supported (RS256, PS256, ES256, EdDSA)")]
    UnsupportedAlg(String),
    /// An RSA modulus under 2048 bits, over 8192, or a bad exponent.
    #[error("RSA JWK has an unacceptable size (modulus 2048..8192 bits)")]
    RsaSize,
    /// EC coordinates are not 32 bytes each.
    #[error("EC JWK coordinates must be 32 bytes each")]
    CoordinateLength,
    /// The point is not on the P-256 curve.
    #[error("EC JWK is not a valid P-256 point")]
    InvalidEcPoint,
    /// The Ed25519 key is not a valid point.
    #[error("OKP JWK is not a valid Ed25519 key")]
    InvalidEd25519,
}

/// Everything that can be wrong with a PK Token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A segment or JWK member is not strict unpadded base64url.
    #[error("invalid base64url in {0}")]
    Base64(Part),
    /// A JWK problem.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Input over the size cap.
    #[error("PK Token is {0} bytes, over the {max} byte limit", max = crate::pktoken::MAX_COMPACT_LEN)]
    TooLarge(usize),
    /// The compact form is not `payload:opHdr:opSig:cicHdr:cicSig[...][.refreshed JWT]`.
    #[error("PK Token is malformed: {0}")]
    Malformed(Malformed),
    /// A header or payload is not a JSON object.
    #[error("{0} is not a JSON object")]
    NotJsonObject(Part),
    /// A JSON object (at any depth) repeats a member name.
    #[error("{0} repeats the member {1:?}")]
    DuplicateMember(Part, String),
    /// A protected header's `typ` is none of JWT, at+jwt, CIC, COS.
    #[error("PK Token signature has unrecognised typ {0:?}")]
    UnknownTyp(String),
    /// Not exactly one OP and one CIC signature (openpubkey panics on a missing CIC: hazard O-5
    /// in docs/hazards.md).
    #[error("PK Token must have exactly one {0} signature, found {1}")]
    SignatureCount(SignatureKind, usize),
    /// A claim or header member has the wrong JSON type.
    #[error("{0} has the wrong JSON type")]
    ClaimType(&'static str),
    /// A required claim is absent.
    #[error("ID token lacks the {0} claim")]
    MissingClaim(&'static str),
    /// `crit` names extensions opk does not implement (RFC 7515 section 4.1.11).
    #[error("protected header has a crit member; no critical extensions are supported")]
    Critical,
    /// The header's `alg` is absent or unsupported (`none`, HS*, GQ256, …).
    #[error("signature algorithm {0:?} is not supported (RS256, PS256, ES256, EdDSA)")]
    UnsupportedAlg(String),
    /// An expiry keyword other than those of the providers file.
    #[error(
        "invalid expiration policy {0:?}; use one of {list}",
        list = ExpiryPolicy::KEYWORDS
    )]
    UnknownExpiry(String),
    /// The CIC header is incomplete or inconsistent.
    #[error("CIC is invalid: {0}")]
    Cic(CicProblem),
    /// A signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The chosen key does not allow this algorithm.
    #[error("key does not allow algorithm {0}")]
    KeyAlgMismatch(Alg),
    /// `iss` is not the provider's issuer.
    #[error("ID token issuer {got:?} is not {want:?}")]
    IssuerMismatch {
        /// The token's `iss`.
        got: String,
        /// The configured issuer.
        want: String,
    },
    /// `aud` does not contain the client ID.
    #[error("ID token audience does not contain client ID {0:?}")]
    Audience(String),
    /// No JWKS key fits the token's `kid`.
    #[error("no key in the OP's JWKS has kid {0:?}")]
    UnknownKid(Option<String>),
    /// The OP token is key-bound, which opkssh does not accept either.
    #[error("key-bound ID tokens (typ dpop+id_token) are not supported")]
    KeyBound,
    /// `nonce` is not the CIC commitment.
    #[error("ID token nonce does not commit to this PK Token's key (nonce != CIC hash)")]
    Commitment,
    /// Too old under the provider's expiry policy.
    #[error(
        "PK Token expired under policy {policy}: valid until {limit}, now {now}; run `opk login` again"
    )]
    Expired {
        /// The policy applied.
        policy: ExpiryPolicy,
        /// Last acceptable second (unix time).
        limit: i64,
        /// Now (unix time).
        now: i64,
    },
    /// `iat` lies beyond the allowed clock skew in the future.
    #[error("ID token iat {iat} is in the future (now {now}); check the clocks")]
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// Now (unix time).
        now: i64,
    },
    /// The refreshed ID token fails the checks openpubkey's `VerifyRefreshedIDToken` makes.
    #[error("refreshed ID token is invalid: {0}")]
    Refreshed(RefreshedProblem),
}

/// Writes each variant's fixed text; the enums below are details of an [`Error`], not errors.
macro_rules! texts {
    ($ty:ident { $($variant:ident => $text:literal,)+ }) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Self::$variant => $text,)+
                })
            }
        }
    };
}

/// The piece of input an [`Error::Base64`], [`Error::NotJsonObject`] or
/// [`Error::DuplicateMember`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The ID token payload.
    Payload,
    /// A protected header of the PK Token.
    ProtectedHeader,
    /// A signature of the PK Token.
    Signature,
    /// The refreshed ID token's header.
    RefreshedHeader,
    /// The refreshed ID token's payload.
    RefreshedPayload,
    /// The refreshed ID token's signature.
    RefreshedSignature,
    /// JWK member `n` (RSA modulus).
    JwkN,
    /// JWK member `e` (RSA exponent).
    JwkE,
    /// JWK member `x`.
    JwkX,
    /// JWK member `y`.
    JwkY,
}

texts!(Part {
    Payload => "payload",
    ProtectedHeader => "protected header",
    Signature => "signature",
    RefreshedHeader => "refreshed header",
    RefreshedPayload => "refreshed payload",
    RefreshedSignature => "refreshed signature",
    JwkN => "JWK n",
    JwkE => "JWK e",
    JwkX => "JWK x",
    JwkY => "JWK y",
});

/// How the compact form is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The OP's ID token given to [`crate::PkToken::issue`] is not `header.payload.signature`.
    IdTokenNotJws,
    /// What follows the first `.` is not a compact JWT.
    RefreshedNotJwt,
    /// The `:`-separated segments are not a payload and (header, signature) pairs.
    Segments,
}

texts!(Malformed {
    IdTokenNotJws => "ID token is not a compact JWS (header.payload.signature)",
    RefreshedNotJwt => "refreshed ID token after '.' must be a compact JWT",
    Segments => "expected payload followed by (header, signature) pairs",
});

/// Which signature an [`Error::SignatureCount`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureKind {
    /// The OP's signature over the ID token.
    Op,
    /// The user key's signature over the CIC.
    Cic,
    /// A cosigner's signature.
    Cos,
}

texts!(SignatureKind {
    Op => "OP",
    Cic => "CIC",
    Cos => "COS",
});

/// What is wrong with a CIC header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CicProblem {
    /// `rz` is absent or not a string.
    Rz,
    /// `alg` is absent or not a string.
    MissingAlg,
    /// `upk` is absent.
    MissingUpk,
    /// `upk` has no `alg` member.
    UpkWithoutAlg,
    /// `upk`'s `alg` is not the CIC's `alg`.
    UpkAlgMismatch,
    /// The CIC `alg` is not ES256, EdDSA or RS256.
    Alg,
    /// The key signing the CIC is not its `upk`.
    SignerNotUpk,
}

texts!(CicProblem {
    Rz => "rz is missing or not a string",
    MissingAlg => "alg is missing",
    MissingUpk => "upk is missing",
    UpkWithoutAlg => "upk has no alg",
    UpkAlgMismatch => "upk alg differs from the CIC alg",
    Alg => "alg must be ES256, EdDSA or RS256",
    SignerNotUpk => "signer key is not the CIC upk",
});

/// Which rule of openpubkey's `VerifyRefreshedIDToken` a refreshed ID token breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshedProblem {
    /// It is not `header.payload.signature`.
    NotJwt,
    /// No JWKS key fits its `kid`.
    UnknownKid,
    /// Its signature does not verify.
    BadSignature,
    /// `iss` or `sub` differs from the original ID token's.
    Subject,
    /// `aud` does not contain the client ID.
    Audience,
    /// It was issued before the original ID token.
    IssuedEarlier,
}

texts!(RefreshedProblem {
    NotJwt => "not a compact JWT",
    UnknownKid => "no JWKS key for its kid",
    BadSignature => "signature does not verify",
    Subject => "iss or sub differs from the original ID token",
    Audience => "audience lacks the client ID",
    IssuedEarlier => "issued before the original ID token",
});
