//! Harness for end-to-end tests against the real peers: Debian's `sshd`, `ssh` and `ssh-keygen`,
//! npm `oidc-provider` (testing/op/op.mjs), Debian Chromium driven by playwright-core
//! (testing/op/login.mjs) and the reference opkssh. Everything listens on 127.0.0.1 and lives in
//! a per-test directory; nothing touches the machine's /etc/ssh, /etc/opk or ~/.ssh.
//!
//! A test usually reads: [`TestDir::new`] → [`Op::start`] → [`BrowserLogin`] (the client logs in
//! through Chromium) → [`VerifyHost::new`] and [`VerifyHost::start_sshd`] → [`Sshd::ssh`].
//!
//! | module | what it gives |
//! | --- | --- |
//! | [`process`] | [`Guard`] (child killed on drop), [`run_ok`], [`free_port`], [`current_user`], [`user_home`], [`repo_root`] |
//! | [`dir`] | [`TestDir`]: a per-test directory sshd accepts, kept with `OPK_E2E_KEEP` |
//! | [`TestCa`] | an openssl CA and a localhost server certificate (from `opk-testkit`) |
//! | [`op`] | [`Op`]: the test OpenID Provider and its request log |
//! | [`mint`] | [`OpKey`]: certificates with any ID-token claims, signed with the test OP's own key |
//! | [`hostile`] | the hostile-input catalog's generator: [`hostile::mint`] signs any (mis)shaped PK Token |
//! | [`planted`] | [`PlantedOp`]: an OP verify never reaches, its JWKS planted in verify's cache (committed test data) |
//! | [`sshd`] | [`Sshd`]: sshd with an AuthorizedKeysCommand, the stock ssh client, [`ssh_keygen_list`]; [`KeyHost`]: sshd for one plain key, [`keygen`] |
//! | [`agent`] | [`Agent`]: a real `ssh-agent` on a socket in the test tree, `ssh-add` against it |
//! | [`browser`] | [`BrowserLogin`] → [`LoginRun`]; [`login_lock`] for the machine-wide redirect ports |
//! | [`verify_host`] | [`VerifyHost`]: `opk verify` with all its files in the test tree; [`install_opk`] |
//! | [`opkssh`] | [`opkssh_bin`], [`OpksshHost`]: `opkssh verify` in a private mount namespace |
//! | [`ziti`] | [`ziti::Network`]: a real OpenZiti network (quickstart, admin CLI, `ziti tunnel host/proxy`) |
#![forbid(unsafe_code)]

pub mod agent;
pub mod browser;
pub mod dir;
pub mod hostile;
pub mod mint;
pub mod op;
pub mod opkssh;
pub mod planted;
pub mod process;
pub mod sshd;
pub mod verify_host;
pub mod ziti;

pub use agent::Agent;
pub use browser::{BrowserLogin, LoginLock, LoginRun, login_lock};
pub use dir::TestDir;
pub use mint::OpKey;
pub use op::Op;
pub use opk_testkit::TestCa;
pub use opkssh::{OPKSSH_NS_SCRIPT, OPKSSH_VERSION, OpksshHost, opkssh_bin};
pub use planted::{PLANTED_CLIENT, PLANTED_ISSUER, PLANTED_KID, PlantedOp};
pub use process::{Guard, current_user, free_port, repo_root, run_ok, show, user_home};
pub use sshd::{KeyHost, Sshd, keygen, ssh_keygen_list};
pub use verify_host::{VerifyHost, install_opk};
