//! Hand-written on purpose: no crate reproduces Go's `encoding/json` output byte for byte.
//!
//! The JSON form that openpubkey hashes for the CIC commitment: what Go's `encoding/json` emits for
//! a `map[string]any` — object keys sorted by bytes at every level, no whitespace, Go's string
//! escaping (`<`, `>`, `&`, U+2028, U+2029 escaped). Byte-for-byte equality with Go matters: the
//! nonce in every ID token is the hash of this string.

use std::fmt::Write as _;

use serde_json::Value;

/// Serialises `value` canonically (see the module docs).
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's default Map is a BTreeMap<String, _>: iteration is in byte order,
            // which is how Go sorts map keys.
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_number(out: &mut String, n: &serde_json::Number) {
    // Go decodes every JSON number into float64 and prints it back: integers print plainly while
    // |x| < 1e21, larger ones in exponent form. Standard CICs hold no numbers at all.
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        if f.fract() == 0.0 && f.abs() < 1e21 {
            let _ = write!(out, "{f:.0}");
        } else if f.abs() >= 1e21 || (f != 0.0 && f.abs() < 1e-6) {
            let _ = write!(out, "{}", go_exponent(f));
        } else {
            let _ = write!(out, "{f}");
        }
    }
}

/// Go writes `1e+21`, Rust `1e21`: add the explicit sign and a two-digit minimum exponent.
fn go_exponent(f: f64) -> String {
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            let digits = if digits.len() < 2 {
                format!("0{digits}")
            } else {
                digits.to_owned()
            };
            format!("{mantissa}e{sign}{digits}")
        }
        None => s,
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_level_without_whitespace() {
        let v = json!({"upk": {"y": "2", "x": "1", "kty": "EC"}, "alg": "ES256", "typ": "CIC"});
        assert_eq!(
            to_string(&v),
            r#"{"alg":"ES256","typ":"CIC","upk":{"kty":"EC","x":"1","y":"2"}}"#
        );
    }

    #[test]
    fn escapes_like_go() {
        let v = json!("a<b>&c\u{2028}\u{1}\n\u{8}é\"\\");
        assert_eq!(
            to_string(&v),
            r#""a\u003cb\u003e\u0026c\u2028\u0001\n\bé\"\\""#
        );
    }

    #[test]
    fn numbers_like_go_float64() {
        assert_eq!(
            to_string(&json!([1, -2, 1.5, 1e21, 0.0000001])),
            "[1,-2,1.5,1e+21,1e-07]"
        );
    }
}
