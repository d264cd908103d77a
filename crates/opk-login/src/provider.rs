//! Which OP to log in to: `--provider`, else an alias (or `OPKSSH_DEFAULT`) looked up in
//! `OPKSSH_PROVIDERS`, as opkssh does. Pure: the caller passes the flag and environment values.

use opk_oidc::ProviderSpec;

use crate::Error;

/// The inputs that select a provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProviderChoice<'a> {
    /// `--provider ISSUER,CLIENT_ID[,CLIENT_SECRET[,SCOPES]]`; wins over everything else.
    pub provider: Option<&'a str>,
    /// The alias argument of `opk login`.
    pub alias: Option<&'a str>,
    /// `OPKSSH_PROVIDERS`: `alias,issuer,client_id[,secret[,scopes]]` entries separated by `;`.
    pub providers_env: Option<&'a str>,
    /// `OPKSSH_DEFAULT`: the alias used when none is given.
    pub default_env: Option<&'a str>,
}

/// Resolves `choice` to one provider.
pub fn resolve_provider(choice: &ProviderChoice<'_>) -> Result<ProviderSpec, Error> {
    if let Some(p) = choice.provider {
        return p.parse().map_err(Error::ProviderFlag);
    }
    let list = choice.providers_env.unwrap_or_default();
    if list.trim().is_empty() {
        return Err(Error::NoProvider);
    }
    let alias = choice.alias.or(choice.default_env).unwrap_or_default();
    let mut found = None;
    for entry in list.split(';').filter(|e| !e.trim().is_empty()) {
        let (name, spec) = entry.split_once(',').ok_or(Error::ProvidersSyntax)?;
        if name.trim() != alias {
            continue;
        }
        if found.is_some() {
            return Err(Error::DuplicateAlias(alias.to_owned()));
        }
        let spec = spec.parse().map_err(|source| Error::ProvidersEntry {
            alias: name.to_owned(),
            source,
        })?;
        found = Some(spec);
    }
    found.ok_or_else(|| Error::UnknownAlias(alias.to_owned()))
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
        }
    }

    #[test]
    fn flag_wins_over_the_environment() {
        let choice = ProviderChoice {
            provider: Some("https://flag.example,cf"),
            ..env(Some("home"), Some("lab"))
        };
        let p = resolve_provider(&choice).expect("flag");
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
        let p = resolve_provider(&env(Some("lab"), Some("home"))).expect("alias");
        assert_eq!(p.issuer, "https://lab.example");
        assert_eq!(p.client_secret.as_deref(), Some("s3"));
        assert_eq!(p.scopes, ["openid", "email"]);
        let p = resolve_provider(&env(None, Some("home"))).expect("default");
        assert_eq!(
            (p.issuer.as_str(), p.client_id.as_str()),
            ("https://op.example", "client")
        );
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
            Err(Error::UnknownAlias(a)) if a == "work"
        ));
        assert!(matches!(
            resolve_provider(&env(None, None)),
            Err(Error::UnknownAlias(a)) if a.is_empty()
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
