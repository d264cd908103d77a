//! Admin commands that edit a server's opk files: `opk add` today; `install`, `audit` and
//! `permissions` belong here too. The policy logic is opk-policy's (pure); this crate chooses
//! the files, reads them and writes them back with opk-files. Every path is a parameter
//! ([`AdminPaths`]) so tests never touch the machine's /etc.
#![forbid(unsafe_code)]

mod add;
mod error;

use std::path::PathBuf;

pub use add::{AddRequest, add, default_auth_id};
pub use error::Error;

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
