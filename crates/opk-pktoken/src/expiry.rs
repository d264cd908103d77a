//! Expiry policies of the `providers` file (third column), as opkssh spells them.

/// How long a PK Token stays acceptable after the OP issued it.
///
/// Max-age policies count from the ID token's `iat` and ignore `exp`, as opkssh does; `oidc`
/// uses the ID token's own `exp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryPolicy {
    /// `12h`: `iat` + 43 200 s.
    Hours12,
    /// `24h`: `iat` + 86 400 s.
    Hours24,
    /// `48h`: `iat` + 172 800 s.
    Hours48,
    /// `1week`: `iat` + 604 800 s.
    Week,
    /// `oidc`: the ID token's `exp`.
    Oidc,
    /// `oidc_refreshed`: the original `exp`, or that of a refreshed ID token appended to the PK Token.
    OidcRefreshed,
    /// `never`: no time check (accepted by opkssh, undocumented).
    Never,
}

impl ExpiryPolicy {
    /// Parses a keyword, case-sensitively, as opkssh does. `None` for anything else.
    pub fn parse(keyword: &str) -> Option<Self> {
        Some(match keyword {
            "12h" => Self::Hours12,
            "24h" => Self::Hours24,
            "48h" => Self::Hours48,
            "1week" => Self::Week,
            "oidc" => Self::Oidc,
            "oidc_refreshed" => Self::OidcRefreshed,
            "never" => Self::Never,
            _ => return None,
        })
    }

    /// The keyword as written in the providers file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hours12 => "12h",
            Self::Hours24 => "24h",
            Self::Hours48 => "48h",
            Self::Week => "1week",
            Self::Oidc => "oidc",
            Self::OidcRefreshed => "oidc_refreshed",
            Self::Never => "never",
        }
    }

    /// The maximum age in seconds after `iat`, for the max-age policies.
    pub fn max_age_secs(self) -> Option<i64> {
        match self {
            Self::Hours12 => Some(43_200),
            Self::Hours24 => Some(86_400),
            Self::Hours48 => Some(172_800),
            Self::Week => Some(604_800),
            Self::Oidc | Self::OidcRefreshed | Self::Never => None,
        }
    }
}

impl std::fmt::Display for ExpiryPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
