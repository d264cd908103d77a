//! Strict JSON object parsing for headers and payloads: a member name repeated in any object, at
//! any depth, is an error (RFC 7515 section 4 lets a JWS parser reject them; silently keeping the
//! last one invites confusion between what was signed and what is read).
//!
//! The visitor below builds the [`Value`] itself and, on a repeat, records the name in a slot the
//! caller owns; the caller reads the slot, never the error text.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::{Error, Part};

/// Parses `bytes` as one JSON object in which no object repeats a member name.
pub(crate) fn object(bytes: &[u8], part: Part) -> Result<Map<String, Value>, Error> {
    let mut duplicate = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict {
        duplicate: &mut duplicate,
        top: true,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, duplicate) {
        (_, Some(name)) => Err(Error::DuplicateMember(part, name)),
        (Ok(Value::Object(map)), None) => Ok(map),
        _ => Err(Error::NotJsonObject(part)),
    }
}

/// Deserializes one JSON value; `top` demands an object.
struct Strict<'a> {
    duplicate: &'a mut Option<String>,
    top: bool,
}

impl Strict<'_> {
    fn nested(&mut self) -> Strict<'_> {
        Strict {
            duplicate: &mut *self.duplicate,
            top: false,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.top {
            d.deserialize_map(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.top {
            "a JSON object"
        } else {
            "a JSON value"
        })
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        // JSON text cannot spell NaN or infinity, so this always succeeds.
        Number::from_f64(n)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = access.next_element_seed(self.nested())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                *self.duplicate = Some(key);
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value_seed(self.nested())?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Result<Map<String, Value>, Error> {
        object(text.as_bytes(), Part::Payload)
    }

    fn dup(name: &str) -> Result<Map<String, Value>, Error> {
        Err(Error::DuplicateMember(Part::Payload, name.to_owned()))
    }

    #[test]
    fn parses_what_serde_json_parses() {
        let text =
            r#"{"a":[1,-2,3.5,true,null,"s",{"b":{}}],"c":{"d":[]},"e":18446744073709551615}"#;
        let want: Value = serde_json::from_str(text).unwrap();
        assert_eq!(Value::Object(parse(text).unwrap()), want);
        assert_eq!(parse("{}").unwrap(), Map::new());
        assert_eq!(
            Value::Object(parse(r#" {"a" : "\u00e9\n"} "#).unwrap()),
            json!({"a": "é\n"})
        );
    }

    #[test]
    fn repeated_top_level_member() {
        assert_eq!(parse(r#"{"alg":"ES256","alg":"none"}"#), dup("alg"));
        assert_eq!(parse(r#"{"a":1,"b":2,"a":1}"#), dup("a"));
    }

    #[test]
    fn repeated_member_in_nested_objects() {
        assert_eq!(parse(r#"{"upk":{"x":"1","x":"2"}}"#), dup("x"));
        assert_eq!(parse(r#"{"a":[{"k":1},{"k":1,"k":2}]}"#), dup("k"));
        assert_eq!(parse(r#"{"a":{"b":{"c":{"d":1,"d":1}}}}"#), dup("d"));
        // The same name at different levels, or in sibling objects, is no repeat.
        assert!(parse(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#).is_ok());
    }

    #[test]
    fn names_equal_after_unescaping_are_repeats() {
        assert_eq!(parse(r#"{"a":1,"\u0061":2}"#), dup("a"));
        assert_eq!(parse(r#"{"\u0061lg":"ES256","alg":"none"}"#), dup("alg"));
        assert_eq!(parse(r#"{"x":{"é":1,"\u00e9":2}}"#), dup("é"));
        assert_eq!(parse(r#"{"\/":1,"/":2}"#), dup("/"));
        // Different after unescaping: not repeats.
        assert!(parse(r#"{"a":1,"\u0041":2,"a ":3}"#).is_ok());
    }

    #[test]
    fn a_repeat_is_reported_even_when_the_rest_is_invalid() {
        assert_eq!(parse(r#"{"a":1,"a":2,"#), dup("a"));
    }

    #[test]
    fn non_objects_and_bad_json() {
        for text in [
            "",
            "[]",
            "1",
            "\"a\"",
            "null",
            "{",
            "{\"a\"}",
            "{}x",
            "{} {}",
            "{\"a\":01}",
        ] {
            assert_eq!(
                parse(text),
                Err(Error::NotJsonObject(Part::Payload)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(parse(&deep), Err(Error::NotJsonObject(Part::Payload)));
    }
}
