//! base64url without padding (RFC 7515 §2), decoded strictly: padding, other alphabets and
//! non-zero trailing bits are errors, as in openpubkey's compact parser.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::Error;

/// Encodes bytes as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding; `what` names the field for the error message.
pub fn decode(text: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Error::Base64(what))
}
