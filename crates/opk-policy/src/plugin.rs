//! opkssh's policy-plugin contract, as pure functions: the `OPKSSH_PLUGIN_*` variables a plugin
//! command gets, how its command line is split, and what output means "allow". Running the
//! command (permissions, timeout, environment) is opk-verify's.

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use opk_pktoken::PkToken;
use serde_json::Value;

use crate::gofmt::sprint;
use crate::table::ProblemKind;

/// The prefix of every variable opkssh sets for a plugin; inherited ones are removed first.
pub const PLUGIN_ENV_PREFIX: &str = "OPKSSH_PLUGIN_";

/// What a plugin is told about one login attempt.
#[derive(Debug, Clone, Copy)]
pub struct PluginRequest<'a> {
    /// `%u`.
    pub principal: &'a str,
    /// `%k`: the offered certificate, base64.
    pub key_b64: &'a str,
    /// `%t`.
    pub key_type: &'a str,
    /// sshd tokens after `%t` (e.g. `%C`).
    pub extra_args: &'a [String],
    /// The verified PK Token.
    pub pkt: &'a PkToken,
    /// The userinfo JSON, when there is one.
    pub userinfo: Option<&'a str>,
}

/// The variables opkssh's `PopulatePluginEnvVars` sets, plus `OPKSSH_PLUGIN_CONFIG` for a plugin
/// whose config file has `name` and `command`. Absent claims are `""`.
pub fn plugin_env(req: &PluginRequest<'_>, name: &str, command: &str) -> Vec<(String, String)> {
    let claims = req.pkt.claims();
    let text = |k: &str| match claims.get(k) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let int = |k: &str| match claims.get(k) {
        Some(v @ Value::Number(_)) => v.to_string(),
        _ => String::new(),
    };
    let list = |items: &[Value]| {
        let items: Vec<String> = items.iter().map(sprint).collect();
        format!("[\"{}\"]", items.join("\",\""))
    };
    let aud = match claims.get("aud") {
        Some(Value::Array(items)) => list(items),
        _ => text("aud"),
    };
    let groups = match claims.get("groups") {
        Some(Value::Array(items)) => list(items),
        _ => String::new(),
    };
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => b.to_string(),
        // H-4: a string form is read as Go's ParseBool would, else passed as written.
        Some(Value::String(s)) => go_parse_bool(s).map_or_else(|| s.clone(), |b| b.to_string()),
        Some(v) => sprint(v),
        None => String::new(),
    };
    let id_token = req.pkt.id_token();
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| Base64UrlUnpadded::decode_vec(p).ok())
        .map(|raw| Base64::encode_string(&raw))
        .unwrap_or_default();
    let upk = Base64::encode_string(req.pkt.cic().upk().to_json().to_string().as_bytes());
    let extra = if req.extra_args.is_empty() {
        String::new()
    } else {
        Value::from(req.extra_args.to_vec()).to_string()
    };
    let config = format!(
        "name: {}\ncommand: {}\n",
        yaml_scalar(name),
        yaml_scalar(command)
    );
    [
        ("U", req.principal.to_owned()),
        ("K", req.key_b64.to_owned()),
        ("T", req.key_type.to_owned()),
        ("ISS", text("iss")),
        ("SUB", text("sub")),
        ("EMAIL", text("email")),
        ("EMAIL_VERIFIED", email_verified),
        ("AUD", aud),
        ("EXP", int("exp")),
        ("NBF", int("nbf")),
        ("IAT", int("iat")),
        ("JTI", text("jti")),
        ("GROUPS", groups),
        ("PAYLOAD", payload),
        ("UPK", upk),
        ("PKT", req.pkt.to_compact()),
        ("IDT", id_token),
        ("USERINFO", req.userinfo.unwrap_or_default().to_owned()),
        ("EXTRA_ARGS", extra),
        ("CONFIG", Base64::encode_string(config.as_bytes())),
    ]
    .into_iter()
    .map(|(k, v)| (format!("{PLUGIN_ENV_PREFIX}{k}"), v))
    .collect()
}

/// Go `strconv.ParseBool`.
fn go_parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A YAML scalar that reads back as `s`: plain when that is unambiguous, else double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn yaml_scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b" _./-".contains(&b))
        && !s.starts_with([' ', '-', '.'])
        && !s.ends_with(' ')
        && !s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        s.to_owned()
    } else {
        Value::from(s).to_string()
    }
}

/// A plugin's `command` split into program and arguments with go-shellquote's rules (as
/// opkssh); `None` for an empty command.
pub fn split_command(command: &str) -> Result<Option<Vec<String>>, ProblemKind> {
    let words = crate::table::split_words(command)?;
    Ok((!words.is_empty()).then_some(words))
}

/// opkssh's rule: a plugin allows if and only if it exits 0 and its output, trimmed of white
/// space, is exactly `allow`. Only stdout is looked at: stderr never changes the decision
/// (hazard O-10 in docs/hazards.md; opkssh reads both together).
pub fn plugin_allows(exited_zero: bool, stdout: &[u8]) -> bool {
    exited_zero && stdout.trim_ascii() == b"allow"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clean_allow_allows() {
        assert!(plugin_allows(true, b"allow"));
        assert!(plugin_allows(true, b"  allow\n"));
        for out in [
            &b"Allow"[..],
            b"allow allow",
            b"allowed",
            b"",
            b"deny",
            b"allow\0",
        ] {
            assert!(!plugin_allows(true, out), "{out:?}");
        }
        assert!(!plugin_allows(false, b"allow"));
    }

    #[test]
    fn commands_split_like_shell_words() {
        assert_eq!(
            split_command("/etc/opk/check.sh 'a b' \"c\\\"d\" e\\ f").expect("ok"),
            Some(vec![
                "/etc/opk/check.sh".into(),
                "a b".into(),
                "c\"d".into(),
                "e f".into()
            ])
        );
        assert_eq!(split_command("  ").expect("ok"), None);
        assert!(split_command("/bin/x 'open").is_err());
    }

    #[test]
    fn config_yaml_reads_back() {
        for (s, want) in [
            ("Match email", "Match email"),
            ("/etc/opk/x.sh example.com", "/etc/opk/x.sh example.com"),
            ("yes", "\"yes\""),
            ("a: b", "\"a: b\""),
            ("123", "\"123\""),
            ("", "\"\""),
            ("-x", "\"-x\""),
            ("it's #1", "\"it's #1\""),
        ] {
            assert_eq!(yaml_scalar(s), want, "{s:?}");
        }
        assert_eq!(go_parse_bool("True"), Some(true));
        assert_eq!(go_parse_bool("yes"), None);
    }
}
