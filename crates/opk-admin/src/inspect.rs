//! `opk inspect <cert|file|->`: a human-readable dump of an opk/opkssh certificate and its PK
//! Token, in `opkssh inspect`'s layout (same section titles and field names), plus when the
//! token stops being accepted under each providers expiry policy. Nothing is verified here: it
//! shows what the certificate claims.

use serde_json::Value;
use std::fmt::Write as _;

use opk_pktoken::{ExpiryPolicy, PkToken};
use opk_sshcert::OpkCert;

use crate::Error;

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (proleptic Gregorian, UTC).
pub fn rfc3339(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = opk_pktoken::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn validity(t: u64) -> String {
    match t {
        0 => "Not set".into(),
        u64::MAX => "Forever".into(),
        t => rfc3339(t as i64),
    }
}

fn relative(limit: i64, now: i64) -> String {
    let d = limit - now;
    let span = |s: i64| match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s => format!("{}m{}s", s / 60, s % 60),
    };
    if d >= 0 {
        format!("{} (in {})", rfc3339(limit), span(d))
    } else {
        format!("{} (expired {} ago)", rfc3339(limit), span(-d))
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn header(compact: &str, index: usize) -> Option<Value> {
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let part = compact.split('.').next()?.split(':').nth(index)?;
    serde_json::from_slice(&Base64UrlUnpadded::decode_vec(part).ok()?).ok()
}

/// The dump of a certificate given as an authorized_keys-style line (`<type> <base64>
/// [comment]`, as in a `-cert.pub` file), at time `now`.
pub fn inspect(text: &str, now: i64) -> Result<String, Error> {
    let cert = OpkCert::from_line(text.trim()).map_err(Error::Inspect)?;
    let mut o = String::new();
    let _ = writeln!(o, "--- SSH Certificate Information ---");
    let _ = writeln!(o, "Serial:           {}", cert.serial());
    let kind = if cert.is_user_cert() { "User" } else { "Host" };
    let _ = writeln!(
        o,
        "Type:             {kind} certificate ({})",
        cert.cert_type()
    );
    let _ = writeln!(o, "Key ID:           {}", cert.key_id());
    let _ = writeln!(o, "Principals:       [{}]", cert.principals().join(" "));
    let _ = writeln!(o, "Valid After:      {}", validity(cert.valid_after()));
    let _ = writeln!(o, "Valid Before:     {}", validity(cert.valid_before()));
    let crit: Vec<String> = cert
        .critical_options()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let _ = writeln!(o, "Critical Options: [{}]", crit.join(" "));
    let self_signed = cert.is_self_signed() && cert.verify_self_signature().is_ok();
    let _ = writeln!(
        o,
        "Self-signed:      {}",
        if self_signed { "yes" } else { "NO" }
    );
    let _ = writeln!(o, "Extensions:");
    for (k, v) in cert.extensions() {
        match k {
            "openpubkey-pkt" => {
                let _ = writeln!(o, "  {k}: [PKToken data] {} bytes", v.len());
            }
            "openpubkey-act" => {
                let _ = writeln!(o, "  {k}: [access token] {} bytes", v.len());
            }
            _ => {
                let _ = writeln!(o, "  {k}");
            }
        }
    }
    let Some(compact) = cert.pk_token() else {
        let _ = writeln!(
            o,
            "\nNo PK Token (openpubkey-pkt): not an opk/opkssh certificate"
        );
        return Ok(o);
    };
    let pkt = PkToken::from_compact(compact).map_err(Error::InspectToken)?;
    let claims = pkt.claims();
    let _ = writeln!(
        o,
        "\n--- PK Token ---\nPayload:\n{}",
        pretty(&Value::Object(claims.clone()))
    );
    if let Some(h) = header(compact, 1) {
        let _ = writeln!(o, "Provider Signature (OP) exists\n{}", pretty(&h));
    }
    if let Some(h) = header(compact, 3) {
        let _ = writeln!(o, "Client Signature (CIC) exists\n{}", pretty(&h));
    }
    let s = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    let aud = match claims.get("aud") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::String(a)) => a.clone(),
        _ => String::new(),
    };
    let _ = writeln!(o, "\n--- Metadata ---");
    let _ = writeln!(o, "Issuer:             {}", pkt.issuer());
    let _ = writeln!(o, "Audience:           {aud}");
    let _ = writeln!(o, "Subject:            {}", s("sub"));
    let _ = writeln!(o, "Email:              {}", s("email"));
    let _ = writeln!(o, "Identity:           {} {}", s("sub"), pkt.issuer());
    let alg = header(compact, 1)
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(o, "Provider Algorithm: {alg}");
    let _ = writeln!(
        o,
        "Refreshed ID token: {}",
        if compact.contains('.') { "yes" } else { "no" }
    );

    let int = |name: &str| claims.get(name).and_then(Value::as_i64);
    let _ = writeln!(
        o,
        "\n--- Expiry per providers policy (now {}) ---",
        rfc3339(now)
    );
    for policy in [
        ExpiryPolicy::Hours12,
        ExpiryPolicy::Hours24,
        ExpiryPolicy::Hours48,
        ExpiryPolicy::Week,
    ] {
        let line = match (policy.max_age_secs(), int("iat")) {
            (Some(age), Some(iat)) => relative(iat + age, now),
            _ => "no iat: refused".into(),
        };
        let _ = writeln!(o, "{:<15} {line}", policy.as_str());
    }
    let exp = int("exp").map_or("no exp: refused".into(), |e| relative(e, now));
    let _ = writeln!(o, "{:<15} {exp}", "oidc");
    let _ = writeln!(
        o,
        "{:<15} {exp}; later only with a signed refreshed ID token",
        "oidc_refreshed"
    );
    let _ = writeln!(o, "{:<15} never expires", "never");
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_221_383), "2026-12-02T14:23:03Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn not_a_certificate_is_one_error() {
        let plain =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxCN4w2PPkQMjeOb4p1D1I3aKh1lqL4fqz1Ib8cKjKT";
        assert!(matches!(inspect(plain, 0), Err(Error::Inspect(_))));
        assert!(matches!(inspect("garbage", 0), Err(Error::Inspect(_))));
    }
}
