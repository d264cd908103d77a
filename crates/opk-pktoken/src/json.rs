//! Strict JSON object parsing for headers and payloads: duplicate member names are rejected
//! (RFC 7515 §4 lets a JWS parser reject them; silently keeping the last one invites confusion
//! between what was signed and what is read).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::Error;

/// Parses `bytes` as one JSON object whose top-level member names are unique.
pub(crate) fn object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = de.deserialize_map(UniqueMap).map_err(|e| {
        let text = e.to_string();
        match text.strip_prefix(DUPLICATE_PREFIX) {
            Some(name) => Error::DuplicateMember(what, name.to_owned()),
            None => Error::NotJsonObject(what),
        }
    })?;
    de.end().map_err(|_| Error::NotJsonObject(what))?;
    Ok(parsed)
}

const DUPLICATE_PREFIX: &str = "duplicate member ";

struct UniqueMap;

impl<'de> Visitor<'de> for UniqueMap {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = Map::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE_PREFIX}{key}")));
            }
            map.insert(key, value);
        }
        Ok(map)
    }
}
