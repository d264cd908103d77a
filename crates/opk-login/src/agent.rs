//! Loading the new key and certificate into the running ssh-agent (`SSH_AUTH_SOCK`), blocking,
//! over the agent's Unix socket: the agent drops them when the certificate stops working under
//! the provider's policy, and an older opk identity of the same provider is removed, so `ssh`
//! never offers a certificate the server will refuse.

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use opk_pktoken::{ExpiryPolicy, PkToken};
use opk_sshcert::OpkCert;
use opk_sshcert::agent::{self, AgentReply, MAX_AGENT_MESSAGE};

use crate::flow::identity_of;
use crate::{Error, Login};

/// An agent that does not answer within this time is treated as gone.
const AGENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the agent keeps the key (`--lifetime`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentLifetime {
    /// As long as a server with this expiry policy accepts the PK Token.
    Policy(ExpiryPolicy),
    /// A fixed number of seconds from now.
    Secs(u32),
}

impl Default for AgentLifetime {
    /// opkssh's default server policy, the one the login's self-check applies.
    fn default() -> Self {
        Self::Policy(ExpiryPolicy::Hours24)
    }
}

impl FromStr for AgentLifetime {
    type Err = Error;

    /// A policy keyword of `/etc/opk/providers` (`24h`, `oidc`, …) or a duration: seconds, or a
    /// number with `s`, `m`, `h` or `d`.
    fn from_str(s: &str) -> Result<Self, Error> {
        if let Ok(policy) = s.parse::<ExpiryPolicy>() {
            return Ok(Self::Policy(policy));
        }
        let bad = || Error::BadLifetime(s.to_owned());
        let (digits, unit) = match s.char_indices().last() {
            Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
            _ => (s, 's'),
        };
        let scale: u64 = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = digits.parse().map_err(|_| bad())?;
        match n.checked_mul(scale).map(u32::try_from) {
            Some(Ok(secs)) if secs > 0 => Ok(Self::Secs(secs)),
            _ => Err(bad()),
        }
    }
}

/// What [`load_into_agent`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentLoaded {
    /// Seconds the agent keeps the key; `None` for no limit (`--lifetime never`).
    pub lifetime: Option<u32>,
    /// Older opk identities of the same provider that were removed.
    pub replaced: usize,
}

impl Login {
    /// Seconds from `now` until a server with `lifetime`'s policy stops accepting this login's
    /// PK Token (`None`: never). An already useless token is an error, not a zero lifetime.
    pub fn agent_lifetime(&self, lifetime: AgentLifetime, now: i64) -> Result<Option<u32>, Error> {
        let policy = match lifetime {
            AgentLifetime::Secs(s) => return Ok(Some(s)),
            AgentLifetime::Policy(p) => p,
        };
        let claim = |name| {
            self.pk_token
                .claims()
                .get(name)
                .and_then(serde_json::Value::as_i64)
        };
        let end = match policy.max_age_secs() {
            Some(age) => claim("iat").map(|iat| iat.saturating_add(age)),
            None if policy == ExpiryPolicy::Never => return Ok(None),
            None => claim("exp"),
        };
        let left = end.unwrap_or(0).saturating_sub(now);
        if left <= 0 {
            return Err(Error::UselessInAgent(policy));
        }
        Ok(Some(u32::try_from(left).unwrap_or(u32::MAX)))
    }
}

/// Adds `login`'s key and certificate to the agent at `socket` for `lifetime` seconds (no limit
/// for `None`), then removes the other opk certificates of the same issuer and client ID. The
/// new identity is added first, so there is no moment without one.
pub fn load_into_agent(
    socket: &Path,
    login: &Login,
    lifetime: Option<u32>,
) -> Result<AgentLoaded, Error> {
    let mut conn = AgentConn::connect(socket)?;
    let [_, _, iss, aud] = login.identity();
    let comment = format!("openpubkey: {iss} {aud}");
    let add = agent::add_identity(&login.key, &login.cert, &comment, lifetime)?;
    if conn.ask(&add)? != AgentReply::Success {
        return Err(Error::AgentRefused);
    }
    let mut replaced = 0;
    for blob in conn.identities()? {
        if blob == login.cert.as_bytes() || !same_provider(&blob, &iss, &aud) {
            continue;
        }
        // An agent that refuses to drop the old one leaves it to expire; the new one works.
        if conn.ask(&agent::remove_identity(&blob))? == AgentReply::Success {
            replaced += 1;
        }
    }
    Ok(AgentLoaded { lifetime, replaced })
}

/// A connection to the agent at a socket, one request at a time.
pub(crate) struct AgentConn {
    stream: UnixStream,
    socket: std::path::PathBuf,
}

impl AgentConn {
    pub(crate) fn connect(socket: &Path) -> Result<Self, Error> {
        let io = |source| Error::Agent {
            socket: socket.to_owned(),
            source,
        };
        let stream = UnixStream::connect(socket).map_err(io)?;
        stream.set_read_timeout(Some(AGENT_TIMEOUT)).map_err(io)?;
        stream.set_write_timeout(Some(AGENT_TIMEOUT)).map_err(io)?;
        Ok(AgentConn {
            stream,
            socket: socket.to_owned(),
        })
    }

    /// Sends `msg` and reads the agent's reply.
    pub(crate) fn ask(&mut self, msg: &[u8]) -> Result<AgentReply, Error> {
        let io = |source| Error::Agent {
            socket: self.socket.clone(),
            source,
        };
        self.stream.write_all(msg).map_err(io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(io)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_AGENT_MESSAGE {
            return Err(Error::Cert(opk_sshcert::Error::AgentReply));
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body).map_err(io)?;
        Ok(agent::parse_reply(&body)?)
    }

    /// The blobs of every identity the agent holds.
    pub(crate) fn identities(&mut self) -> Result<Vec<Vec<u8>>, Error> {
        let AgentReply::Identities(ids) = self.ask(&agent::request_identities())? else {
            return Err(Error::Cert(opk_sshcert::Error::AgentReply));
        };
        Ok(ids.into_iter().map(|id| id.blob).collect())
    }
}

/// True for an opk certificate whose PK Token names this issuer and audience.
fn same_provider(blob: &[u8], iss: &str, aud: &str) -> bool {
    let Ok(cert) = OpkCert::from_agent_blob(blob) else {
        return false;
    };
    let Some(Ok(pkt)) = cert.pk_token().map(PkToken::from_compact) else {
        return false;
    };
    let [_, _, i, a] = identity_of(&pkt);
    i == iss && a == aud
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        for (s, want) in [
            ("24h", AgentLifetime::Policy(ExpiryPolicy::Hours24)),
            ("oidc", AgentLifetime::Policy(ExpiryPolicy::Oidc)),
            ("never", AgentLifetime::Policy(ExpiryPolicy::Never)),
            ("90", AgentLifetime::Secs(90)),
            ("90s", AgentLifetime::Secs(90)),
            ("30m", AgentLifetime::Secs(1800)),
            ("3h", AgentLifetime::Secs(10_800)),
            ("2d", AgentLifetime::Secs(172_800)),
        ] {
            assert_eq!(s.parse::<AgentLifetime>().expect(s), want, "{s}");
        }
        for bad in [
            "",
            "0",
            "0s",
            "h",
            "-5m",
            "1.5h",
            "5w",
            "99999999999",
            "50000d",
            "12H",
        ] {
            assert!(
                matches!(bad.parse::<AgentLifetime>(), Err(Error::BadLifetime(b)) if b == bad),
                "{bad}"
            );
        }
    }
}
