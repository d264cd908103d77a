//! base64url without padding (RFC 7515 section 2), decoded strictly: padding, other alphabets and
//! non-zero trailing bits are errors, as in openpubkey's compact parser.

use base64ct::{Base64UrlUnpadded, Encoding};

use crate::{Error, Part};

/// Encodes bytes as base64url without padding.
pub(crate) fn encode(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding; `part` names the field for the error message.
pub(crate) fn decode(text: &str, part: Part) -> Result<Vec<u8>, Error> {
    Base64UrlUnpadded::decode_vec(text).map_err(|_| Error::Base64(part))
}
