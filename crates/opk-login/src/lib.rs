//! `opk login`: generate a fresh key, sign in to the OP with a nonce that commits to it, turn
//! the ID token into a PK Token, check that token as a server would, and write an SSH key plus a
//! certificate carrying the token where stock `ssh` finds them.
//!
//! The network and the clock are parameters ([`OidcHttp`], [`JwksFetcher`], `now`), so the whole
//! login runs in-process against a fake OP in tests.
#![forbid(unsafe_code)]

mod error;
mod flow;
mod keyfiles;
mod provider;

pub use error::Error;
pub use flow::{Login, LoginRequest, default_location, login, oidc_options};
pub use keyfiles::KeyLocation;
pub use provider::{ProviderChoice, resolve_provider};

#[doc(no_inline)]
pub use opk_jwks::JwksFetcher;
#[doc(no_inline)]
pub use opk_oidc::{LoginOptions, OidcHttp, ProviderSpec};
