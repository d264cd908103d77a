//! The client config, `~/.opk/config.yml`, in opkssh's format: `default_provider`, `providers`
//! (each with a space-separated `alias` list, `issuer`, `client_id`, `client_secret`, a
//! space-separated `scopes`, `access_type`, `prompt`, `redirect_uris`, `send_access_token`) and a
//! top-level `send_access_token`. When the file is missing the built-in defaults apply: Google,
//! Microsoft, GitLab and hello with the public client IDs opkssh ships, so servers configured
//! for opkssh accept the tokens.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use opk_oidc::ProviderSpec;
use saphyr::{AnnotatedMapping, MarkedYaml, ScalarStyle, YamlData, YamlLoader};
use saphyr_parser::Parser;

use crate::Error;

/// The built-in config, also what `--create-config` writes. Google's entry carries Google's
/// published "installed app" client secret; it is not a secret, but it must only ever go to
/// Google (docs/hazards.md H-9), which is why it sits in that entry alone.
pub const DEFAULT_CONFIG: &str = r#"# opk client config (opkssh's format): the providers of `opk login <alias>`.
# A provider may also set access_type (default offline), prompt (default consent),
# redirect_uris (default http://localhost:{3000,10001,11110}/login-callback) and
# send_access_token (default false).
default_provider: webchooser

providers:
  - alias: google
    issuer: https://accounts.google.com
    client_id: 206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps.googleusercontent.com
    client_secret: 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
    scopes: openid email profile

  - alias: azure microsoft
    issuer: https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0
    client_id: 096ce0a3-5e72-4da8-9c86-12924b294a01
    scopes: openid profile email offline_access

  - alias: gitlab
    issuer: https://gitlab.com
    client_id: 8d8b7024572c7fd501f64374dec6bba37096783dfcd792b3988104be08cb6923
    scopes: openid email

  - alias: hello
    issuer: https://issuer.hello.coop
    client_id: app_xejobTKEsDNSRd5vofKB2iay_2rN
    scopes: openid email

send_access_token: false
"#;

/// Larger than any real config by far; a cap keeps a stray big file from being parsed.
const MAX_CONFIG_LEN: usize = 256 * 1024;

/// One provider of the config (or of `OPKSSH_PROVIDERS`, `--provider`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderEntry {
    /// Its aliases (`alias: azure microsoft` gives two).
    pub aliases: Vec<String>,
    /// Issuer, client ID, secret and scopes.
    pub spec: ProviderSpec,
    /// The `access_type` parameter (default `offline`).
    pub access_type: Option<String>,
    /// The `prompt` parameter (default `consent`).
    pub prompt: Option<String>,
    /// Loopback redirect ports, from `redirect_uris` (default 3000, 10001, 11110).
    pub redirect_ports: Vec<u16>,
    /// Put the access token into the certificate.
    pub send_access_token: bool,
    /// `remote_redirect_uri` (or `--remote-redirect-uri`): the redirect URI sent to the OP
    /// instead of the loopback one; see [`opk_oidc::LoginOptions::remote_redirect_uri`].
    pub remote_redirect_uri: Option<String>,
}

impl ProviderEntry {
    /// `spec` with opkssh's defaults for `--provider` and `OPKSSH_PROVIDERS` strings: no alias,
    /// `access_type=offline`, `prompt=consent` (so a refresh token is issued), the three
    /// loopback ports.
    pub fn with_defaults(spec: ProviderSpec) -> Self {
        ProviderEntry {
            aliases: Vec::new(),
            spec,
            access_type: Some("offline".into()),
            prompt: Some("consent".into()),
            redirect_ports: DEFAULT_PORTS.to_vec(),
            send_access_token: false,
            remote_redirect_uri: None,
        }
    }
}

/// A parsed client config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConfig {
    /// `default_provider`: the alias used when none is given (opkssh's default: `webchooser`).
    pub default_provider: Option<String>,
    /// The providers, in file order.
    pub providers: Vec<ProviderEntry>,
    /// Top-level `send_access_token`.
    pub send_access_token: bool,
    /// Keys opk does not know, with their line: ignored, as opkssh ignores them.
    pub unknown_keys: Vec<(String, usize)>,
}

impl ClientConfig {
    /// `opk client provider list`, as opkssh prints it (Go's tabwriter): one `alias issuer` row
    /// per alias, the alias column padded to the widest alias plus one space; for a terminal
    /// (`table`), an `Alias`/`-----` header and two spaces. Fails, after the rows are made, on an
    /// alias defined twice, as opkssh does.
    pub fn provider_table(&self, table: bool) -> Result<String, Error> {
        let mut rows: Vec<(&str, &str)> = Vec::new();
        if table {
            rows.push(("Alias", "Issuer"));
            rows.push(("-----", "------"));
        }
        for p in &self.providers {
            for alias in &p.aliases {
                rows.push((alias, &p.spec.issuer));
            }
        }
        let pad = if table { 2 } else { 1 };
        let width = rows
            .iter()
            .map(|(a, _)| a.chars().count())
            .max()
            .unwrap_or(0)
            + pad;
        let text: String = rows
            .iter()
            .map(|(alias, issuer)| format!("{alias:<width$}{issuer}\n"))
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.providers {
            for alias in &p.aliases {
                if !seen.insert(alias.as_str()) {
                    return Err(Error::DuplicateAlias(alias.clone()));
                }
            }
        }
        Ok(text)
    }
}

/// Why a client config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// Not YAML (syntax, duplicate key, bad alias).
    #[error("{0}")]
    Yaml(String),
    /// Not a mapping at the top, or a provider that is not a mapping.
    #[error("expected a mapping")]
    NotAMapping,
    /// A known key with a value of another shape.
    #[error("{key} must be {expected}")]
    WrongType {
        /// The key.
        key: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A provider without a required key.
    #[error("provider has no {0}")]
    Missing(&'static str),
    /// A redirect URI opk cannot listen on.
    #[error("redirect URI {0:?} must be http://localhost:PORT/login-callback")]
    RedirectUri(String),
    /// The provider's values do not make a usable provider.
    #[error("{0}")]
    Provider(String),
    /// Larger than any config needs.
    #[error("larger than {MAX_CONFIG_LEN} bytes")]
    TooLarge,
    /// Not UTF-8.
    #[error("not UTF-8")]
    NotUtf8,
}

type Problem = (usize, ConfigProblem);

impl ClientConfig {
    /// The built-in defaults.
    pub fn builtin() -> Self {
        // The text is ours and tested, so this cannot fail at run time.
        #[allow(clippy::expect_used)]
        parse(DEFAULT_CONFIG).expect("the built-in config parses")
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Self>, Error> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::ConfigRead {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let at = |(line, problem)| Error::Config {
            path: path.to_owned(),
            line,
            problem,
        };
        if bytes.len() > MAX_CONFIG_LEN {
            return Err(at((1, ConfigProblem::TooLarge)));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| at((1, ConfigProblem::NotUtf8)))?;
        parse(text).map(Some).map_err(at)
    }

    /// Every alias, in file order, for messages.
    pub fn aliases(&self) -> Vec<&str> {
        self.providers
            .iter()
            .flat_map(|p| p.aliases.iter().map(String::as_str))
            .collect()
    }
}

/// `--create-config`: writes [`DEFAULT_CONFIG`] to `path` unless a file is there (directory 0755,
/// file 0644, as opkssh). Returns whether it wrote.
pub fn create_default_config(path: &Path) -> Result<bool, Error> {
    if path.exists() {
        return Ok(false);
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let err = |source| Error::Write {
            path: dir.to_owned(),
            source,
        };
        fs::create_dir_all(dir).map_err(err)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(err)?;
    }
    opk_files::write_atomic(path, DEFAULT_CONFIG.as_bytes(), 0o644)?;
    Ok(true)
}

/// The three loopback ports opkssh registers with every OP.
pub(crate) const DEFAULT_PORTS: [u16; 3] = [3000, 10001, 11110];

fn parse(text: &str) -> Result<ClientConfig, Problem> {
    let mut loader = YamlLoader::<MarkedYaml<'_>>::default();
    // Raw scalars: a client ID such as `0123` stays as written, as Go's yaml.v3 reads a string.
    loader.early_parse(false);
    let yaml_err =
        |e: saphyr::ScanError| (e.marker().line(), ConfigProblem::Yaml(e.info().to_owned()));
    Parser::new_from_str(text)
        .load(&mut loader, true)
        .map_err(yaml_err)?;
    if let Some(e) = loader.error() {
        return Err(yaml_err(e.clone()));
    }
    let docs = loader.into_documents();
    let mut config = ClientConfig {
        default_provider: None,
        providers: Vec::new(),
        send_access_token: false,
        unknown_keys: Vec::new(),
    };
    let Some(doc) = docs.into_iter().find(|d| !is_null(d)) else {
        return Ok(config);
    };
    let YamlData::Mapping(map) = &doc.data else {
        return Err((line(&doc), ConfigProblem::NotAMapping));
    };
    for (key, value) in entries(map) {
        match key.as_str() {
            "default_provider" => {
                config.default_provider =
                    Some(string(value, "default_provider")?).filter(|s| !s.is_empty());
            }
            "send_access_token" => config.send_access_token = boolean(value, "send_access_token")?,
            "providers" => {
                let items = match &value.data {
                    YamlData::Sequence(items) => items.iter().collect::<Vec<_>>(),
                    _ if is_null(value) => Vec::new(),
                    _ => {
                        let expected = "a list of providers";
                        let key = "providers";
                        return Err((line(value), ConfigProblem::WrongType { key, expected }));
                    }
                };
                for item in items {
                    config
                        .providers
                        .push(provider(item, &mut config.unknown_keys)?);
                }
            }
            _ => config.unknown_keys.push((key, line(value))),
        }
    }
    Ok(config)
}

fn provider(
    node: &MarkedYaml<'_>,
    unknown: &mut Vec<(String, usize)>,
) -> Result<ProviderEntry, Problem> {
    let YamlData::Mapping(map) = &node.data else {
        return Err((line(node), ConfigProblem::NotAMapping));
    };
    let at = line(node);
    let mut aliases = Vec::new();
    let (mut issuer, mut client_id, mut secret) = (None, None, None);
    // opkssh's defaults for a config entry (its `--provider` strings get `openid email`).
    let mut scopes = "openid profile email".to_owned();
    let mut access_type = Some("offline".to_owned());
    let mut prompt = Some("consent".to_owned());
    let mut redirect_ports = DEFAULT_PORTS.to_vec();
    let mut send_access_token = false;
    let mut remote_redirect_uri = None;
    for (key, value) in entries(map) {
        match key.as_str() {
            "alias" => {
                aliases = string(value, "alias")?
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
            }
            "issuer" => issuer = Some(string(value, "issuer")?),
            "client_id" => client_id = Some(string(value, "client_id")?),
            "client_secret" => secret = Some(string(value, "client_secret")?),
            "scopes" => scopes = string(value, "scopes")?,
            "access_type" => access_type = Some(string(value, "access_type")?),
            "prompt" => prompt = Some(string(value, "prompt")?),
            "redirect_uris" => redirect_ports = ports(value)?,
            "send_access_token" => send_access_token = boolean(value, "send_access_token")?,
            "remote_redirect_uri" => {
                remote_redirect_uri = Some(string(value, "remote_redirect_uri")?);
            }
            _ => unknown.push((key, line(value))),
        }
    }
    if aliases.is_empty() {
        return Err((at, ConfigProblem::Missing("alias")));
    }
    let spec = ProviderSpec {
        issuer: issuer.ok_or((at, ConfigProblem::Missing("issuer")))?,
        client_id: client_id.ok_or((at, ConfigProblem::Missing("client_id")))?,
        client_secret: secret.filter(|s| !s.is_empty()),
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
    };
    spec.validate()
        .map_err(|e| (at, ConfigProblem::Provider(e.to_string())))?;
    let non_empty = |o: Option<String>| o.filter(|s| !s.is_empty());
    Ok(ProviderEntry {
        aliases,
        spec,
        access_type: non_empty(access_type),
        prompt: non_empty(prompt),
        redirect_ports,
        send_access_token,
        remote_redirect_uri: non_empty(remote_redirect_uri),
    })
}

/// `redirect_uris`: each must be opk's own loopback callback; the ports are what opk binds.
fn ports(node: &MarkedYaml<'_>) -> Result<Vec<u16>, Problem> {
    let YamlData::Sequence(items) = &node.data else {
        let (key, expected) = ("redirect_uris", "a list of URIs");
        return Err((line(node), ConfigProblem::WrongType { key, expected }));
    };
    items
        .iter()
        .map(|item| {
            let uri = string(item, "redirect_uris")?;
            let port = ["http://localhost:", "http://127.0.0.1:"]
                .iter()
                .find_map(|p| uri.strip_prefix(p))
                .and_then(|rest| rest.strip_suffix("/login-callback"))
                .and_then(|p| p.parse::<u16>().ok())
                .filter(|&p| p != 0);
            port.ok_or((line(item), ConfigProblem::RedirectUri(uri)))
        })
        .collect()
}

/// Mapping entries as (key text, value); the parser already refuses duplicate keys.
fn entries<'a, 'i>(
    map: &'a AnnotatedMapping<'i, MarkedYaml<'i>>,
) -> impl Iterator<Item = (String, &'a MarkedYaml<'i>)> {
    map.iter().map(|(k, v)| {
        let key = match &k.data {
            YamlData::Representation(text, _, _) => text.to_string(),
            _ => "?".to_owned(),
        };
        (key, v)
    })
}

fn string(node: &MarkedYaml<'_>, key: &'static str) -> Result<String, Problem> {
    match &node.data {
        _ if is_null(node) => Ok(String::new()),
        YamlData::Representation(text, _, _) => Ok(text.to_string()),
        _ => Err((
            line(node),
            ConfigProblem::WrongType {
                key,
                expected: "a string",
            },
        )),
    }
}

fn boolean(node: &MarkedYaml<'_>, key: &'static str) -> Result<bool, Problem> {
    let wrong = || {
        let expected = "true or false";
        (line(node), ConfigProblem::WrongType { key, expected })
    };
    match &node.data {
        _ if is_null(node) => Ok(false),
        YamlData::Representation(text, ScalarStyle::Plain, _) => match text.as_ref() {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(wrong()),
        },
        _ => Err(wrong()),
    }
}

fn is_null(node: &MarkedYaml<'_>) -> bool {
    match &node.data {
        YamlData::Representation(text, ScalarStyle::Plain, None) => {
            matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL")
        }
        YamlData::BadValue => true,
        _ => false,
    }
}

fn line(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_opkssh_providers_and_the_secret_only_for_google() {
        let c = ClientConfig::builtin();
        assert_eq!(c.default_provider.as_deref(), Some("webchooser"));
        assert_eq!(
            c.aliases(),
            ["google", "azure", "microsoft", "gitlab", "hello"]
        );
        for p in &c.providers {
            let google = p.spec.issuer == "https://accounts.google.com";
            // H-9 (docs/hazards.md): Google's published secret goes to Google only.
            assert_eq!(p.spec.client_secret.is_some(), google, "{:?}", p.aliases);
            assert_eq!(p.redirect_ports, DEFAULT_PORTS);
            assert_eq!(p.prompt.as_deref(), Some("consent"));
            assert_eq!(p.access_type.as_deref(), Some("offline"));
        }
        assert_eq!(
            c.providers[1].spec.scopes,
            ["openid", "profile", "email", "offline_access"]
        );
        assert!(c.unknown_keys.is_empty());
    }

    #[test]
    fn opkssh_defaults_unknown_keys_and_problems() {
        let c = parse(
            "providers:\n  - alias: a b\n    issuer: https://op.example\n    client_id: 0123\n    \
             future: 1\n    redirect_uris: [http://localhost:4000/login-callback]\n    \
             send_access_token: true\n    remote_redirect_uri: https://relay.example/cb\nother: x\n",
        )
        .expect("parses");
        let p = &c.providers[0];
        assert_eq!(
            p.remote_redirect_uri.as_deref(),
            Some("https://relay.example/cb")
        );
        assert_eq!(p.aliases, ["a", "b"]);
        assert_eq!(p.spec.client_id, "0123");
        assert_eq!(p.spec.scopes, ["openid", "profile", "email"]);
        assert_eq!(p.redirect_ports, [4000]);
        assert!(p.send_access_token);
        assert_eq!(c.default_provider, None);
        assert_eq!(
            c.unknown_keys,
            [("future".to_owned(), 5), ("other".to_owned(), 9)]
        );
        assert_eq!(parse("").expect("empty").providers, []);
        for (text, line, want) in [
            ("[1]", 1, "expected a mapping"),
            ("providers: x", 1, "providers must be a list of providers"),
            (
                "providers:\n  - issuer: https://x.example\n    client_id: c\n",
                2,
                "provider has no alias",
            ),
            (
                "providers:\n  - alias: a\n    client_id: c\n",
                2,
                "provider has no issuer",
            ),
            (
                "providers:\n  - alias: g\n    issuer: https://accounts.google.com\n    client_id: c\n",
                2,
                "Google",
            ),
            (
                "providers:\n  - alias: a\n    issuer: http://op.example\n    client_id: c\n",
                2,
                "http",
            ),
            (
                "providers:\n  - alias: a\n    issuer: https://x.example\n    client_id: c\n    redirect_uris: [https://evil.example/cb]\n",
                5,
                "must be http://localhost:PORT/login-callback",
            ),
            (
                "providers:\n  - alias: a\n    issuer: https://x.example\n    client_id: c\n    remote_redirect_uri: [https://r.example]\n",
                5,
                "must be",
            ),
            ("send_access_token: yes\n", 1, "true or false"),
            ("a: 1\na: 2\n", 2, "duplicate"),
        ] {
            match parse(text) {
                Ok(c) => panic!("{text:?} parsed: {c:?}"),
                Err((l, p)) => {
                    assert_eq!(l, line, "{text:?}: {p}");
                    assert!(
                        p.to_string().to_lowercase().contains(&want.to_lowercase()),
                        "{text:?}: {p}"
                    );
                }
            }
        }
    }

    #[test]
    fn provider_table_as_opkssh_prints_it() {
        let c = ClientConfig::builtin();
        let plain = c.provider_table(false).expect("list");
        assert_eq!(
            plain,
            "google    https://accounts.google.com\n\
             azure     https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0\n\
             microsoft https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0\n\
             gitlab    https://gitlab.com\n\
             hello     https://issuer.hello.coop\n"
        );
        let table = c.provider_table(true).expect("table");
        assert!(
            table.starts_with("Alias      Issuer\n-----      ------\ngoogle     https://"),
            "{table}"
        );
        let twice = parse(
            "providers:\n  - alias: a b\n    issuer: https://x.example\n    client_id: c\n  \
             - alias: b\n    issuer: https://y.example\n    client_id: c\n",
        )
        .expect("parses");
        assert!(matches!(twice.provider_table(false), Err(Error::DuplicateAlias(a)) if a == "b"));
    }

    #[test]
    fn create_config_writes_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(".opk/config.yml");
        assert!(create_default_config(&path).expect("create"));
        assert_eq!(fs::read_to_string(&path).expect("read"), DEFAULT_CONFIG);
        assert_eq!(
            fs::metadata(&path).expect("m").permissions().mode() & 0o777,
            0o644
        );
        fs::write(&path, "default_provider: mine\n").expect("w");
        assert!(!create_default_config(&path).expect("exists"));
        assert_eq!(
            ClientConfig::load(&path)
                .expect("load")
                .expect("some")
                .default_provider
                .as_deref(),
            Some("mine")
        );
        assert_eq!(
            ClientConfig::load(&dir.path().join("none")).expect("ok"),
            None
        );
    }
}
