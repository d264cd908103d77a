//! Admin commands on a server's opk files: `opk add`, `opk permissions check|fix`
//! ([`permissions`]), `opk audit` ([`audit`]), `opk inspect` ([`inspect`]) and `opk readhome`
//! ([`read_home_policy`]) and `opk install` ([`install`]). The policy logic is opk-policy's (pure); this crate chooses
//! the files, reads them and writes them back with opk-files. Every path is a parameter
//! ([`AdminPaths`]) so tests never touch the machine's /etc.
#![forbid(unsafe_code)]

mod add;
pub mod audit;
mod error;
pub mod inspect;
pub mod install;
pub mod permissions;
mod readhome;

use std::path::PathBuf;

pub use add::{AddRequest, add, default_auth_id};
pub use error::Error;
pub use readhome::read_home_policy;

/// The server files admin commands read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminPaths {
    /// The system policy, `/etc/opk/auth_id`.
    pub auth_id: PathBuf,
    /// The passwd file used to find a principal's home, `/etc/passwd`.
    pub passwd: PathBuf,
}

impl Default for AdminPaths {
    /// The paths opkssh uses.
    fn default() -> Self {
        AdminPaths {
            auth_id: PathBuf::from("/etc/opk/auth_id"),
            passwd: PathBuf::from("/etc/passwd"),
        }
    }
}

/// The files verify reads, which `opk permissions` and `opk audit` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFiles {
    /// `/etc/opk/providers`.
    pub providers: PathBuf,
    /// `/etc/opk/auth_id`.
    pub auth_id: PathBuf,
    /// `/etc/opk/config.yml`.
    pub config: PathBuf,
    /// `/etc/opk/policy.d`.
    pub policy_d: PathBuf,
    /// The passwd file whose homes hold `~/.opk/auth_id`, `/etc/passwd`.
    pub passwd: PathBuf,
}

impl Default for ServerFiles {
    /// The paths opkssh uses.
    fn default() -> Self {
        Self {
            providers: PathBuf::from("/etc/opk/providers"),
            auth_id: PathBuf::from("/etc/opk/auth_id"),
            config: PathBuf::from("/etc/opk/config.yml"),
            policy_d: PathBuf::from("/etc/opk/policy.d"),
            passwd: PathBuf::from("/etc/passwd"),
        }
    }
}
