//! opkssh's server config, `/etc/opk/config.yml`: `env_vars`, `deny_emails`, `deny_users`, and
//! opk's own `email_verified` (per issuer: `require` or `warn`), which opkssh ignores as it ignores
//! every key outside its schema.
//!
//! opkssh ignores a config it cannot read, which turns its deny lists off without a word (hazard
//! O-2 in docs/hazards.md). Here a config that cannot be read as that schema fails closed, naming
//! the file and line. Unknown keys are ignored, as opkssh (Go yaml.v3, non-strict) does, but
//! logged.

use std::path::Path;

// saphyr: maintained, safe Rust, YAML 1.2; rejects duplicate keys and caps alias expansion, and
// adds four small crates to verify (serde_yaml is archived, its forks wrap C-translated libyaml).
use saphyr::{MarkedYaml, ScalarStyle, ScanError, YamlData, YamlLoader};
use saphyr_parser::{Event, Parser, SpannedEventReceiver as _};

use crate::Error;

/// Deeper than the schema needs (mapping → list or mapping → scalar) by far; a cap keeps a
/// pathological file from exhausting the stack when the tree is dropped.
const MAX_DEPTH: usize = 32;

/// The server config, in opkssh's schema. Absent keys are empty, as in opkssh.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerConfig {
    /// Environment variables opkssh exports before any network call; opk passes them to the
    /// HTTP client and to policy plugins instead (in file order; a name appears once).
    pub(crate) env_vars: Vec<(String, String)>,
    /// `deny_emails` and `deny_users`.
    pub(crate) deny: opk_policy::DenyList,
    /// `email_verified`: issuer (or `*`, every other issuer) → what an email row needs.
    pub(crate) email_verified: Vec<(String, opk_policy::EmailVerified)>,
    /// Keys outside the schema, with their line: ignored, as opkssh ignores them.
    pub(crate) unknown_keys: Vec<(String, usize)>,
}

impl ServerConfig {
    /// The `email_verified` setting for `issuer`: its own entry, else `*`, else `require`.
    pub(crate) fn email_verified_for(&self, issuer: &str) -> opk_policy::EmailVerified {
        let entry = |key: &str| {
            self.email_verified
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| *v)
        };
        entry(issuer).or_else(|| entry("*")).unwrap_or_default()
    }
}

/// Why a server config cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Bytes that are not UTF-8 (YAML 1.2 files here are UTF-8; a UTF-8 BOM is fine).
    #[error("not UTF-8")]
    NotUtf8,
    /// The YAML itself is invalid: syntax, a duplicate key, an unknown alias, an alias bomb.
    #[error("{}", .0.info())]
    Yaml(ScanError),
    /// Nested far deeper than the schema ever needs.
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    /// A second document (opkssh would read only the first).
    #[error("a second YAML document; keep one")]
    MultipleDocuments,
    /// The document is a list or a scalar.
    #[error("not a mapping of keys to values")]
    NotAMapping,
    /// A required key is absent or empty (a policy plugin's `name` or `command`).
    #[error("{0} is missing or empty")]
    MissingKey(&'static str),
    /// The same key twice (with different quoting, which the parser does not catch).
    #[error("{0} appears twice")]
    DuplicateKey(String),
    /// A known key with a value of another shape.
    #[error("{key} must be {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// What its value must be.
        expected: &'static str,
    },
    /// An `email_verified` entry whose value is neither `require` nor `warn`.
    #[error("email_verified for {issuer:?} must be require or warn")]
    BadEmailVerified {
        /// The issuer (or `*`).
        issuer: String,
    },
    /// A YAML 1.1 merge key, which YAML 1.2 parsers do not expand: ignoring it could hide a
    /// deny list.
    #[error("merge keys (<<) are not supported; write the keys out")]
    MergeKey,
}

/// Reads the server config at `path`; `None` when it does not exist.
pub(crate) fn load(path: &Path) -> Result<Option<ServerConfig>, Error> {
    let text = match crate::files::read_checked(path, crate::files::Owner::System) {
        Ok(t) => t,
        Err(Error::Read { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    parse(&text)
        .map(Some)
        .map_err(|(line, problem)| Error::Config {
            path: path.to_owned(),
            line,
            problem,
        })
}

type Problem = (usize, ConfigProblem);

/// The file's only YAML document, `None` when empty; a problem comes with its (1-based) line.
fn document(bytes: &[u8]) -> Result<Option<MarkedYaml<'_>>, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (line + 1, ConfigProblem::NotUtf8)
    })?;
    let mut loader = YamlLoader::<MarkedYaml<'_>>::default();
    // Raw scalars: opkssh reads `8080` or `yes` into a string as written, not as a number.
    loader.early_parse(false);
    // Events one by one rather than `Parser::load`, which recurses once per nesting level.
    let mut depth = 0usize;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(yaml_problem)?;
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => depth += 1,
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Err((span.start.line(), ConfigProblem::TooDeep));
        }
        loader.on_event(event, span);
        if let Some(e) = loader.error() {
            return Err(yaml_problem(e.clone()));
        }
    }
    let mut docs = loader.into_documents().into_iter().filter(|d| !is_null(d));
    let Some(doc) = docs.next() else {
        return Ok(None);
    };
    if let Some(second) = docs.next() {
        return Err((line(&second), ConfigProblem::MultipleDocuments));
    }
    Ok(Some(doc))
}

/// Parses the file's bytes; a problem comes with its (1-based) line.
pub(crate) fn parse(bytes: &[u8]) -> Result<ServerConfig, Problem> {
    let Some(doc) = document(bytes)? else {
        return Ok(ServerConfig::default()); // empty, as the installer creates it
    };
    let YamlData::Mapping(map) = &doc.data else {
        return Err((line(&doc), ConfigProblem::NotAMapping));
    };
    let mut config = ServerConfig::default();
    for (key, key_line, value) in unique_entries(map)? {
        match key.as_str() {
            "env_vars" => config.env_vars = string_map(value, "env_vars")?,
            "deny_emails" => config.deny.emails = string_list(value, "deny_emails")?,
            "deny_users" => config.deny.users = string_list(value, "deny_users")?,
            "email_verified" => config.email_verified = email_verified(value)?,
            _ => config.unknown_keys.push((key, key_line)),
        }
    }
    Ok(config)
}

/// A policy plugin's config (`/etc/opk/policy.d/*.yml`), in opkssh's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PluginConfig {
    /// What the plugin is called, for the log.
    pub(crate) name: String,
    /// The command line, split like shell words when run.
    pub(crate) command: String,
}

/// Parses a plugin config: `name` and `command` are required strings; other keys are ignored, as
/// Go's yaml.v3 ignores them.
pub(crate) fn parse_plugin(bytes: &[u8]) -> Result<PluginConfig, Problem> {
    let doc = document(bytes)?.ok_or((1, ConfigProblem::MissingKey("name")))?;
    let YamlData::Mapping(map) = &doc.data else {
        return Err((line(&doc), ConfigProblem::NotAMapping));
    };
    let (mut name, mut command) = (String::new(), String::new());
    for (key, _, value) in unique_entries(map)? {
        let slot = match key.as_str() {
            "name" => &mut name,
            "command" => &mut command,
            _ => continue,
        };
        let key = if key == "name" { "name" } else { "command" };
        *slot = scalar(value).ok_or((
            line(value),
            ConfigProblem::WrongType {
                key,
                expected: "a string",
            },
        ))?;
    }
    for (key, value) in [("name", &name), ("command", &command)] {
        if value.is_empty() {
            return Err((line(&doc), ConfigProblem::MissingKey(key)));
        }
    }
    Ok(PluginConfig { name, command })
}

/// The entries of a mapping as (key, key line, value); merge keys and keys repeated under
/// another quoting are problems. Scalar keys are kept as written (`1`, `true`); a collection key
/// becomes `?`, which no schema key equals.
fn unique_entries<'a, 'i>(
    map: &'a saphyr::AnnotatedMapping<'i, MarkedYaml<'i>>,
) -> Result<Vec<(String, usize, &'a MarkedYaml<'i>)>, Problem> {
    let mut out: Vec<(String, usize, &MarkedYaml<'_>)> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let name = match &key.data {
            YamlData::Representation(text, style, _) => {
                if *style == ScalarStyle::Plain && text == "<<" {
                    return Err((line(key), ConfigProblem::MergeKey));
                }
                text.to_string()
            }
            _ => "?".to_owned(),
        };
        if name != "?" && out.iter().any(|(k, _, _)| *k == name) {
            return Err((line(key), ConfigProblem::DuplicateKey(name)));
        }
        out.push((name, line(key), value));
    }
    Ok(out)
}

fn string_list(node: &MarkedYaml<'_>, key: &'static str) -> Result<Vec<String>, Problem> {
    let wrong = || {
        let expected = "a list of strings";
        (line(node), ConfigProblem::WrongType { key, expected })
    };
    match &node.data {
        _ if is_null(node) => Ok(Vec::new()),
        YamlData::Sequence(items) => items
            .iter()
            .map(|item| scalar(item).ok_or_else(wrong))
            .collect(),
        _ => Err(wrong()),
    }
}

fn string_map(node: &MarkedYaml<'_>, key: &'static str) -> Result<Vec<(String, String)>, Problem> {
    let wrong = || {
        let expected = "a mapping of names to strings";
        (line(node), ConfigProblem::WrongType { key, expected })
    };
    match &node.data {
        _ if is_null(node) => Ok(Vec::new()),
        YamlData::Mapping(map) => unique_entries(map)?
            .into_iter()
            .map(|(k, _, v)| Ok((k, scalar(v).ok_or_else(wrong)?)))
            .collect(),
        _ => Err(wrong()),
    }
}

/// `email_verified`: a mapping of issuers (or `*`) to `require` or `warn`.
fn email_verified(
    node: &MarkedYaml<'_>,
) -> Result<Vec<(String, opk_policy::EmailVerified)>, Problem> {
    let YamlData::Mapping(map) = &node.data else {
        if is_null(node) {
            return Ok(Vec::new());
        }
        let expected = "a mapping of issuers (or *) to require or warn";
        let key = "email_verified";
        return Err((line(node), ConfigProblem::WrongType { key, expected }));
    };
    unique_entries(map)?
        .into_iter()
        .map(|(issuer, _, v)| {
            let setting = scalar(v).and_then(|s| opk_policy::EmailVerified::parse(&s));
            let setting = setting.ok_or_else(|| {
                (
                    line(v),
                    ConfigProblem::BadEmailVerified {
                        issuer: issuer.clone(),
                    },
                )
            })?;
            Ok((issuer, setting))
        })
        .collect()
}

/// A scalar as Go's yaml.v3 puts it into a `string`: its text, `""` for null.
fn scalar(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        _ if is_null(node) => Some(String::new()),
        YamlData::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

/// YAML null: empty, `~`, `null` (plain), or `!!null`; the loader's empty document too.
fn is_null(node: &MarkedYaml<'_>) -> bool {
    match &node.data {
        YamlData::Representation(text, style, tag) => {
            tag.as_ref()
                .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "null")
                || (*style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
        }
        YamlData::BadValue => true,
        _ => false,
    }
}

fn line(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line()
}

fn yaml_problem(e: ScanError) -> Problem {
    (e.marker().line(), ConfigProblem::Yaml(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denies(text: &str) -> (Vec<String>, Vec<String>) {
        let c = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{text:?}: {e:?}"));
        (c.deny.emails, c.deny.users)
    }

    fn problem(text: &[u8]) -> (usize, String) {
        match parse(text) {
            Ok(c) => panic!("{:?} parsed: {c:?}", String::from_utf8_lossy(text)),
            Err((line, p)) => (line, p.to_string()),
        }
    }

    fn users(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn block_flow_and_quoted_keys_all_reach_the_struct() {
        let root = (vec![], users(&["root"]));
        for text in [
            "deny_users:\n  - root\n",
            "deny_users:\n- root\n",
            "deny_users: [root]\n",
            "\"deny_users\": [root]\n",
            "'deny_users': ['root']\n",
            "{deny_users: [root]}\n",
            "{\"deny_users\": [\"root\"]}",
            "? deny_users\n: [root]\n",
            "--- # comment\ndeny_users: [root] # trailing\n...\n",
            "\u{feff}deny_users: [root]\n",
            "env_vars:\n  HTTPS_PROXY: http://proxy:3128\ndeny_users:\n- root\n",
        ] {
            assert_eq!(denies(text), root, "{text:?}");
        }
        assert_eq!(
            denies("deny_emails: [Mallory@Example.com]\n"),
            (users(&["Mallory@Example.com"]), vec![])
        );
    }

    #[test]
    fn email_verified_is_per_issuer_with_a_star_default_and_require_otherwise() {
        use opk_policy::EmailVerified::{Require, Warn};
        let c = parse(b"email_verified:\n  https://a.example: warn\n  '*': warn\n  https://b.example: require\n")
            .expect("parses");
        assert_eq!(c.email_verified_for("https://a.example"), Warn);
        assert_eq!(c.email_verified_for("https://b.example"), Require);
        assert_eq!(c.email_verified_for("https://other.example"), Warn);
        assert!(c.unknown_keys.is_empty());
        let c = parse(b"email_verified:\n  https://a.example: warn\n").expect("parses");
        assert_eq!(c.email_verified_for("https://a.example/"), Require);
        assert_eq!(ServerConfig::default().email_verified_for("x"), Require);
        assert_eq!(
            problem(b"deny_users: []\nemail_verified:\n  https://a.example: yes\n"),
            (
                3,
                "email_verified for \"https://a.example\" must be require or warn".to_owned()
            )
        );
        assert_eq!(
            problem(b"email_verified: warn\n"),
            (
                1,
                "email_verified must be a mapping of issuers (or *) to require or warn".to_owned()
            )
        );
    }

    #[test]
    fn anchors_and_aliases_are_resolved() {
        assert_eq!(
            denies("base: &admins [root, admin]\ndeny_users: *admins\n").1,
            users(&["root", "admin"])
        );
        assert_eq!(denies("a: &r root\ndeny_users: [*r]\n").1, users(&["root"]));
        // An alias to nothing is an error, not an empty list.
        assert_eq!(problem(b"deny_users: *nope\n").0, 1);
        // A billion-laughs file stops at saphyr's alias budget.
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*a{}", i - 1);
            let items = [prev.as_str(); 10].join(", ");
            bomb.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let (line, why) = problem(bomb.as_bytes());
        assert!(why.contains("alias"), "{line}: {why}");
    }

    #[test]
    fn merge_keys_are_refused_not_ignored() {
        let (line, why) = problem(b"base: &b\n  deny_users: [root]\n<<: *b\n");
        assert_eq!(line, 3);
        assert!(why.contains("merge keys"), "{why}");
        assert!(
            problem(b"env_vars:\n  <<: {A: b}\n")
                .1
                .contains("merge keys")
        );
    }

    #[test]
    fn a_duplicate_key_never_hides_the_first() {
        for (text, want_line) in [
            ("deny_users: [root]\ndeny_users: []\n", 2),
            ("deny_users: [root]\n\"deny_users\": []\n", 2),
            ("deny_users: [root]\n'deny_users': []\n", 2),
            ("{deny_users: [root], deny_users: []}\n", 1),
            ("env_vars:\n  A: x\n  \"A\": y\n", 3),
        ] {
            let (line, why) = problem(text.as_bytes());
            assert_eq!(line, want_line, "{text:?}: {why}");
            assert!(why.contains("twice") || why.contains("duplicate"), "{why}");
        }
    }

    #[test]
    fn empty_null_and_commented_lists_are_empty() {
        for text in [
            "",
            "\n\n",
            "# deny_users:\n#   - root\n",
            "deny_emails: []\ndeny_users:\n",
            "deny_users: ~\ndeny_emails: null\n",
            "deny_users: !!null\n",
            "---\n",
            "~\n",
        ] {
            assert_eq!(denies(text), (vec![], vec![]), "{text:?}");
        }
    }

    #[test]
    fn scalars_are_kept_as_written() {
        let c = parse(b"env_vars:\n  PORT: 0x1F\n  ON: yes\n  E:\ndeny_users: [007, 'a b']\n")
            .expect("parses");
        let var = |k: &str| {
            c.env_vars
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(var("PORT"), Some("0x1F"));
        assert_eq!(var("ON"), Some("yes"));
        assert_eq!(var("E"), Some(""));
        assert_eq!(c.deny.users, users(&["007", "a b"]));
    }

    #[test]
    fn unknown_keys_are_ignored_with_their_line() {
        let c = parse(b"deny_user: [root]\nfuture:\n  a: 1\n").expect("parses");
        assert_eq!(
            c.unknown_keys,
            vec![("deny_user".to_owned(), 1), ("future".to_owned(), 2)]
        );
        assert!(c.deny.users.is_empty());
    }

    #[test]
    fn a_document_that_is_not_the_schema_fails_with_its_line() {
        for (text, line, want) in [
            (&b"- deny_users\n- root\n"[..], 1, "not a mapping"),
            (b"deny_users\n", 1, "not a mapping"),
            (b"\n\"just a string\"\n", 2, "not a mapping"),
            (
                b"deny_users: root\n",
                1,
                "deny_users must be a list of strings",
            ),
            (b"deny_users:\n  root: x\n", 2, "deny_users must be a list"),
            (
                b"deny_users: [[root]]\n",
                1,
                "deny_users must be a list of strings",
            ),
            (b"deny_emails: [{a: b}]\n", 1, "deny_emails must be a list"),
            (b"env_vars: [A]\n", 1, "env_vars must be a mapping"),
            (b"env_vars:\n  A: [x]\n", 2, "env_vars must be a mapping"),
            (
                b"deny_users: [root]\n---\ndeny_emails: [x]\n",
                3,
                "second YAML document",
            ),
            (b"a: 1\n---\n- x\n", 3, "second YAML document"),
            (b"deny_users: [root\n", 2, ""),
            (b"deny_users:\n  - root\n bad: x\n", 3, ""),
            (b"a: b: c\n", 1, ""),
            (b"deny_users: [ok]\n\xff\xfe\n", 2, "not UTF-8"),
            (b"\xff\xfed\x00e\x00", 1, "not UTF-8"),
        ] {
            let (got_line, why) = problem(text);
            let shown = String::from_utf8_lossy(text);
            assert_eq!(got_line, line, "{shown:?}: {why}");
            assert!(why.contains(want), "{shown:?}: {why}");
        }
        // A second document that is empty changes nothing.
        assert_eq!(denies("deny_users: [root]\n---\n").1, users(&["root"]));
    }

    #[test]
    fn pathological_nesting_is_refused() {
        let deep = format!("deny_users:\n{}", "- ".repeat(100_000));
        let (line, why) = problem(deep.as_bytes());
        assert_eq!((line, why.as_str()), (2, "nested more than 32 levels deep"));
        let flow = format!("deny_users: {}", "[".repeat(40));
        assert!(problem(flow.as_bytes()).1.contains("nested"));
    }

    #[test]
    fn plugin_configs_need_a_name_and_a_command() {
        let ok = parse_plugin(b"name: Match email\ncommand: /etc/opk/m.sh 'a b'\nextra: 1\n")
            .expect("parses");
        assert_eq!(
            ok,
            PluginConfig {
                name: "Match email".into(),
                command: "/etc/opk/m.sh 'a b'".into()
            }
        );
        for (text, want) in [
            (&b"name: x\n"[..], "command is missing"),
            (b"command: /bin/true\n", "name is missing"),
            (b"name: x\ncommand: ''\n", "command is missing"),
            (b"", "name is missing"),
            (b"name: x\ncommand: [a]\n", "command must be a string"),
            (b"- name\n", "not a mapping"),
            (b"name: x\nname: y\ncommand: z\n", "duplicate"),
        ] {
            let got = parse_plugin(text).expect_err("refused").1.to_string();
            assert!(
                got.contains(want),
                "{:?}: {got}",
                String::from_utf8_lossy(text)
            );
        }
    }

    fn load_text(text: &[u8]) -> Result<Option<ServerConfig>, Error> {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("config.yml");
        std::fs::write(&p, text).expect("write");
        load(&p)
    }

    #[test]
    fn the_file_error_names_the_file_and_line() {
        let err = load_text(b"env_vars: {}\ndeny_users: [root]\ndeny_users: []\n")
            .expect_err("duplicate");
        let msg = err.to_string();
        assert!(
            msg.contains("config.yml line 3: ") && !msg.contains('\n'),
            "{msg}"
        );
        assert!(
            load(Path::new("/nonexistent/config.yml"))
                .expect("absent")
                .is_none()
        );
        assert_eq!(
            load_text(b"").expect("empty"),
            Some(ServerConfig::default())
        );
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_parsing() {
        let mut big = b"deny_users: []\n".to_vec();
        big.resize(opk_policy::MAX_FILE_BYTES + 1, b'\n');
        assert!(matches!(load_text(&big), Err(Error::TooLarge { .. })));
        big.truncate(opk_policy::MAX_FILE_BYTES);
        assert!(load_text(&big).is_ok());
    }
}
