//! Which OP to log in to, as opkssh decides: `--provider`; else an alias (the argument, else
//! `OPKSSH_DEFAULT`, else the config's `default_provider`) looked up in `OPKSSH_PROVIDERS` when
//! that is set, otherwise in the client config. Pure: the caller passes the flag, the
//! environment values and the config.

use opk_oidc::ProviderSpec;

use crate::Error;
use crate::config::{ClientConfig, ProviderEntry};

/// The alias meaning "let the user choose" (opkssh's web chooser).
const WEBCHOOSER: &str = "webchooser";

/// The inputs that select a provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderChoice<'a> {
    /// `--provider ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]]`; wins over everything else.
    pub provider: Option<&'a str>,
    /// The alias argument of `opk login`.
    pub alias: Option<&'a str>,
    /// `OPKSSH_PROVIDERS`: `alias,issuer,client_id[,secret[,scopes]]` entries separated by `;`.
    /// When set and not blank it replaces the config's providers.
    pub providers_env: Option<&'a str>,
    /// `OPKSSH_DEFAULT`: the alias used when none is given.
    pub default_env: Option<&'a str>,
    /// The client config (the file, or [`ClientConfig::builtin`] when there is none).
    pub config: Option<&'a ClientConfig>,
}

/// A provider from a `--provider` or `OPKSSH_PROVIDERS` string.
fn from_string(spec: ProviderSpec, alias: &str) -> ProviderEntry {
    let mut entry = ProviderEntry::with_defaults(spec);
    entry.aliases.push(alias.to_owned());
    entry
}

/// Resolves `choice` to one provider.
pub fn resolve_provider(choice: &ProviderChoice<'_>) -> Result<ProviderEntry, Error> {
    if let Some(p) = choice.provider {
        return Ok(from_string(p.parse().map_err(Error::ProviderFlag)?, ""));
    }
    let from_env = choice.providers_env.filter(|l| !l.trim().is_empty());
    let list: Vec<ProviderEntry> = match from_env {
        Some(list) => env_entries(list)?,
        None => choice
            .config
            .map(|c| c.providers.clone())
            .unwrap_or_default(),
    };
    if list.is_empty() {
        return Err(Error::NoProvider);
    }
    let known = || {
        list.iter()
            .flat_map(|p| p.aliases.iter().cloned())
            .collect::<Vec<_>>()
    };
    let alias = choice
        .alias
        .or(choice.default_env.filter(|d| !d.is_empty()))
        .or(choice.config.and_then(|c| c.default_provider.as_deref()))
        .unwrap_or(WEBCHOOSER);
    if alias.eq_ignore_ascii_case(WEBCHOOSER) {
        // No chooser page yet: one provider needs no choice, several need an alias.
        return match <[ProviderEntry; 1]>::try_from(list) {
            Ok([only]) => Ok(only),
            Err(list) => Err(Error::ChooseAlias(
                list.iter()
                    .flat_map(|p| p.aliases.iter().cloned())
                    .collect(),
            )),
        };
    }
    let mut found = list.iter().filter(|p| p.aliases.iter().any(|a| a == alias));
    let Some(entry) = found.next() else {
        return Err(Error::UnknownAlias {
            alias: alias.to_owned(),
            nearest: nearest(alias, &known()),
            known: known(),
        });
    };
    if found.next().is_some() {
        return Err(Error::DuplicateAlias(alias.to_owned()));
    }
    Ok(entry.clone())
}

/// `OPKSSH_PROVIDERS` parsed; an alias given twice is refused when it is chosen.
fn env_entries(list: &str) -> Result<Vec<ProviderEntry>, Error> {
    list.split(';')
        .filter(|e| !e.trim().is_empty())
        .map(|entry| {
            let (name, spec) = entry.split_once(',').ok_or(Error::ProvidersSyntax)?;
            let spec = spec.parse().map_err(|source| Error::ProvidersEntry {
                alias: name.to_owned(),
                source,
            })?;
            Ok(from_string(spec, name.trim()))
        })
        .collect()
}

/// The defined alias closest to a mistyped one, if any is close (a third of its letters wrong
/// at most).
fn nearest(alias: &str, known: &[String]) -> Option<String> {
    let alias = alias.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(&alias, &k.to_lowercase()), k))
        .filter(|(d, k)| *d * 3 <= k.chars().count().max(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &str = "home,https://op.example,client;lab,https://lab.example,c2,s3,openid email";

    fn env(alias: Option<&'static str>, default: Option<&'static str>) -> ProviderChoice<'static> {
        ProviderChoice {
            provider: None,
            alias,
            providers_env: Some(LIST),
            default_env: default,
            config: None,
        }
    }

    #[test]
    fn flag_wins_over_the_environment() {
        let choice = ProviderChoice {
            provider: Some("https://flag.example,cf"),
            ..env(Some("home"), Some("lab"))
        };
        let p = resolve_provider(&choice).expect("flag").spec;
        assert_eq!(
            (p.issuer.as_str(), p.client_id.as_str()),
            ("https://flag.example", "cf")
        );
        let bad = ProviderChoice {
            provider: Some("http://example.com,client"),
            ..choice
        };
        assert!(matches!(
            resolve_provider(&bad),
            Err(Error::ProviderFlag(_))
        ));
    }

    #[test]
    fn alias_then_default_selects_an_entry() {
        let p = resolve_provider(&env(Some("lab"), Some("home")))
            .expect("alias")
            .spec;
        assert_eq!(p.issuer, "https://lab.example");
        assert_eq!(p.client_secret.as_deref(), Some("s3"));
        assert_eq!(p.scopes, ["openid", "email"]);
        let p = resolve_provider(&env(None, Some("home")))
            .expect("default")
            .spec;
        assert_eq!(
            (p.issuer.as_str(), p.client_id.as_str()),
            ("https://op.example", "client")
        );
    }

    #[test]
    fn config_providers_unless_the_environment_replaces_them() {
        let builtin = ClientConfig::builtin();
        let from = |alias, providers_env, default_env| {
            resolve_provider(&ProviderChoice {
                provider: None,
                alias,
                providers_env,
                default_env,
                config: Some(&builtin),
            })
        };
        let p = from(Some("microsoft"), None, None).expect("config alias");
        assert!(
            p.spec
                .issuer
                .starts_with("https://login.microsoftonline.com/")
        );
        assert_eq!(p.spec.client_secret, None);
        let g = from(None, None, Some("google")).expect("OPKSSH_DEFAULT");
        assert!(g.spec.client_secret.is_some());
        // default_provider: webchooser, four providers: an alias is needed, and they are listed.
        assert!(matches!(
            from(None, None, None),
            Err(Error::ChooseAlias(a)) if a.len() == 5
        ));
        assert!(matches!(
            from(Some("gitlba"), None, None),
            Err(Error::UnknownAlias { nearest: Some(n), .. }) if n == "gitlab"
        ));
        // OPKSSH_PROVIDERS replaces the config's list; a lone provider needs no alias.
        let only = Some("x,https://x.example,cx");
        assert!(matches!(
            from(Some("google"), only, None),
            Err(Error::UnknownAlias { .. })
        ));
        assert_eq!(from(None, only, None).expect("one").spec.client_id, "cx");
        assert!(matches!(
            from(None, None, None).map(|_| ()),
            Err(Error::ChooseAlias(_))
        ));
        let empty = ClientConfig {
            providers: Vec::new(),
            ..builtin.clone()
        };
        assert!(matches!(
            resolve_provider(&ProviderChoice {
                config: Some(&empty),
                ..Default::default()
            }),
            Err(Error::NoProvider)
        ));
    }

    #[test]
    fn missing_unknown_duplicate_and_malformed_entries_are_refused() {
        let none = ProviderChoice::default();
        assert!(matches!(resolve_provider(&none), Err(Error::NoProvider)));
        let blank = ProviderChoice {
            providers_env: Some("  "),
            ..none
        };
        assert!(matches!(resolve_provider(&blank), Err(Error::NoProvider)));
        assert!(matches!(
            resolve_provider(&env(Some("work"), None)),
            Err(Error::UnknownAlias { alias, nearest: None, known })
                if alias == "work" && known == ["home", "lab"]
        ));
        assert!(matches!(
            resolve_provider(&env(Some("hom"), None)),
            Err(Error::UnknownAlias { nearest: Some(n), .. }) if n == "home"
        ));
        assert!(matches!(
            resolve_provider(&env(Some(""), None)),
            Err(Error::UnknownAlias { alias, .. }) if alias.is_empty()
        ));
        assert!(matches!(
            resolve_provider(&env(None, None)),
            Err(Error::ChooseAlias(known)) if known == ["home", "lab"]
        ));
        let twice = ProviderChoice {
            providers_env: Some("a,https://x.example,c;a,https://y.example,c"),
            ..env(Some("a"), None)
        };
        assert!(matches!(resolve_provider(&twice), Err(Error::DuplicateAlias(a)) if a == "a"));
        let no_comma = ProviderChoice {
            providers_env: Some("a,https://x.example,c;broken"),
            ..env(Some("a"), None)
        };
        assert!(matches!(
            resolve_provider(&no_comma),
            Err(Error::ProvidersSyntax)
        ));
        let bad_entry = ProviderChoice {
            providers_env: Some("a,http://x.example,c"),
            ..env(Some("a"), None)
        };
        assert!(matches!(
            resolve_provider(&bad_entry),
            Err(Error::ProvidersEntry { alias, .. }) if alias == "a"
        ));
    }
}
