//! Hand-written on purpose: `oidc:` rows compare against Go's `fmt.Sprint` text, which no crate reproduces.
//!
//! Go `fmt.Sprint` of values decoded by `encoding/json` into `any`, which is how opkssh turns
//! non-string claims into the strings that `oidc:` rows compare against.

use serde_json::Value;

/// `fmt.Sprint(v)` for a JSON value: numbers are float64 printed with `%v`, null is `<nil>`,
/// arrays are `[a b]`, objects are `map[k:v]` with sorted keys.
///
/// Limitation: the number is whatever serde_json parsed; for integers beyond `u64` it may be
/// one ulp away from Go's correctly rounded float64 (serde_json's `float_roundtrip` is off).
pub(crate) fn sprint(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), float),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(sprint).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Object(m) => {
            // Sorted explicitly: serde_json's map may keep insertion order under feature unification.
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let parts: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{k}:{}", sprint(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest round-tripping
/// digits, in exponent form (`1.2345678e+07`, at least two exponent digits) when the decimal
/// exponent is below -4 or at least 6, plain otherwise (`999999.5`, `0.0001`).
pub(crate) fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` and `{}` both print the shortest round-tripping digits, as Go does.
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci;
    };
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings produced by Go: `json.Unmarshal` into `any`, then `fmt.Sprint`.
    #[test]
    fn sprint_matches_go() {
        let cases: &[(&str, &str)] = &[
            ("12345678", "1.2345678e+07"),
            ("1000000", "1e+06"),
            ("999999", "999999"),
            ("123456", "123456"),
            ("0.0001", "0.0001"),
            ("0.00001", "1e-05"),
            ("1.5", "1.5"),
            ("-2", "-2"),
            ("1e21", "1e+21"),
            ("1e20", "1e+20"),
            // Not tested: Go gives 1.2345678901234568e+20 for 123456789012345678901, but
            // serde_json without `float_roundtrip` parses it one ulp lower (see `sprint`).
            ("1.5e300", "1.5e+300"),
            ("3.14159", "3.14159"),
            ("0", "0"),
            ("1e-7", "1e-07"),
            ("100000", "100000"),
            ("12345.678", "12345.678"),
            ("9007199254740993", "9.007199254740992e+15"),
            ("1234567.5", "1.2345675e+06"),
            ("999999.5", "999999.5"),
            ("123456.7", "123456.7"),
            ("0.000123", "0.000123"),
            ("0.0000123", "1.23e-05"),
            ("1e100", "1e+100"),
            ("-1e-100", "-1e-100"),
            ("5e-324", "5e-324"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("100", "100"),
            ("42", "42"),
            ("-7", "-7"),
            ("0.1", "0.1"),
            ("1e5", "100000"),
            ("2.5e6", "2.5e+06"),
            ("123456789", "1.23456789e+08"),
            ("-123456.5", "-123456.5"),
            ("true", "true"),
            ("null", "<nil>"),
            (
                "[1,\"a\",true,null,[2,\"b\"],{\"z\":1,\"a\":[3]}]",
                "[1 a true <nil> [2 b] map[a:[3] z:1]]",
            ),
            ("{\"k\":\"v\"}", "map[k:v]"),
        ];
        for (json, want) in cases {
            let v: Value = serde_json::from_str(json).expect("valid test JSON");
            assert_eq!(sprint(&v), *want, "json {json}");
        }
    }

    #[test]
    fn float_specials() {
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
    }
}
