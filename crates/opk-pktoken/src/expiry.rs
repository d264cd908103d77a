//! Expiry policies of the `providers` file (third column), as opkssh spells them.

use std::str::FromStr;

use crate::Error;

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

impl FromStr for ExpiryPolicy {
    type Err = Error;

    /// Parses a keyword, case-sensitively, as opkssh does.
    fn from_str(keyword: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|policy| policy.as_str() == keyword)
            .ok_or_else(|| Error::UnknownExpiry(keyword.to_owned()))
    }
}

impl ExpiryPolicy {
    /// The keywords, for messages that say what to write instead.
    pub const KEYWORDS: &str = "12h, 24h, 48h, 1week, oidc, oidc_refreshed, never";

    /// Every policy; parsing looks its keyword up here, so each keyword is written once, in
    /// [`ExpiryPolicy::as_str`].
    const ALL: [Self; 7] = [
        Self::Hours12,
        Self::Hours24,
        Self::Hours48,
        Self::Week,
        Self::Oidc,
        Self::OidcRefreshed,
        Self::Never,
    ];

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

/// `(year, month, day, hour, minute, second)` in UTC of `unix_secs`.
pub fn utc_fields(unix_secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (days, rem) = (unix_secs / 86_400, unix_secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2006/01/02 15:04:05` in UTC: the prefix of Go's `log` lines, which opkssh's logs carry.
pub fn log_timestamp(unix_secs: u64) -> String {
    let (y, m, d, hh, mm, ss) = utc_fields(unix_secs);
    format!("{y:04}/{m:02}/{d:02} {hh:02}:{mm:02}:{ss:02}")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_and_are_listed() {
        let all = [
            ExpiryPolicy::Hours12,
            ExpiryPolicy::Hours24,
            ExpiryPolicy::Hours48,
            ExpiryPolicy::Week,
            ExpiryPolicy::Oidc,
            ExpiryPolicy::OidcRefreshed,
            ExpiryPolicy::Never,
        ];
        let listed: Vec<&str> = ExpiryPolicy::KEYWORDS.split(", ").collect();
        assert_eq!(listed.len(), all.len());
        for (policy, keyword) in all.into_iter().zip(listed) {
            assert_eq!(policy.as_str(), keyword);
            assert_eq!(keyword.parse::<ExpiryPolicy>().unwrap(), policy);
            assert_eq!(policy.to_string().parse::<ExpiryPolicy>().unwrap(), policy);
        }
    }

    #[test]
    fn other_keywords_are_refused() {
        // Case-sensitive, no trimming, no aliases: what opkssh accepts and nothing else.
        for bad in [
            "",
            "12H",
            "Oidc",
            " 24h",
            "24h ",
            "1w",
            "2week",
            "oidc-refreshed",
            "none",
        ] {
            assert_eq!(
                bad.parse::<ExpiryPolicy>(),
                Err(Error::UnknownExpiry(bad.to_owned())),
                "{bad:?}"
            );
        }
        let msg = "x".parse::<ExpiryPolicy>().unwrap_err().to_string();
        assert!(msg.contains(ExpiryPolicy::KEYWORDS), "{msg}");
    }
}
