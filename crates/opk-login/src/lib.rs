//! `opk login`: generate a fresh key, sign in to the OP with a nonce that commits to it, turn
//! the ID token into a PK Token, check that token as a server would, and write an SSH key plus a
//! certificate carrying the token where stock `ssh` finds them.
//!
//! The network and the clock are parameters ([`OidcHttp`], [`JwksFetcher`], `now`), so the whole
//! login runs in-process against a fake OP in tests.
#![forbid(unsafe_code)]

mod agent;
mod config;
mod device;
mod error;
mod flow;
mod keyfiles;
mod log;
mod logout;
mod provider;
mod refresh;

pub use agent::{AgentLifetime, AgentLoaded, load_into_agent};
pub use config::{
    ClientConfig, ConfigProblem, DEFAULT_CONFIG, ProviderEntry, create_default_config,
};
pub use device::{TerminalDeviceUi, qr_text};
pub use error::Error;
pub use flow::{
    Login, LoginRequest, TokenFlow, check_location, key_location, login, login_with, oidc_options,
};
pub use keyfiles::{KeyLocation, configure_identity_dir};
pub use log::{LOG_FILE_NAME, LoginLog};
pub use logout::{Kept, LogoutReport, logout};
pub use provider::{ProviderChoice, resolve_provider};
pub use refresh::{RefreshSettings, Refreshed, keep_refreshed, refresh_delay};

#[doc(no_inline)]
pub use opk_jwks::JwksFetcher;
#[doc(no_inline)]
pub use opk_oidc::{
    DeviceCode, DeviceUi, LoginOptions, OidcHttp, ProviderSpec, login_with_browser,
    login_with_device,
};
