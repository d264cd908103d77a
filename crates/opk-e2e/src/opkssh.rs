//! The reference opkssh (Go) for the interop tests: the real binary, installed by scripts/lib.sh
//! (`opk_install_opkssh`, called from `opk_setup`), and a stand-in server for `opkssh verify`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::{TestDir, user_home};

/// The opkssh release the interop tests and the benchmark run against.
pub const OPKSSH_VERSION: &str = "v0.16.0";

/// The reference opkssh binary: `$OPKSSH_BIN`, else `$HOME/.cache/opk-go/bin/opkssh`. Panics (the
/// test fails, it is never skipped) when it is missing.
pub fn opkssh_bin() -> PathBuf {
    let path = std::env::var_os("OPKSSH_BIN")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"));
            home.join(".cache/opk-go/bin/opkssh")
        });
    assert!(
        path.is_file(),
        "the reference opkssh binary is missing at {}: run `bash scripts/test.sh` (its opk_setup installs \
         opkssh {OPKSSH_VERSION} with `go install`), or set OPKSSH_BIN",
        path.display()
    );
    path
}

/// A stand-in server for `opkssh verify`, which reads `/etc/opk/providers` and `/etc/opk/auth_id`
/// at fixed paths and appends to `/var/log/opkssh.log`. Each run happens in a private mount
/// namespace (see [`OPKSSH_NS_SCRIPT`]) in which those paths are this directory's `etc-opk/` and
/// `var-log/`; the machine's /etc and /var/log are never written.
pub struct OpksshHost {
    /// The per-host directory: `etc-opk/`, `var-log/`, overlay scratch space.
    pub dir: PathBuf,
}

/// The mount-namespace wrapper for `opkssh verify` (scripts/opkssh-ns.sh, where its header says
/// why an overlay over /etc): run as `unshare --mount --propagation private sh -c SCRIPT sh DIR HIDE CMD…`.
pub const OPKSSH_NS_SCRIPT: &str = include_str!("../../../scripts/opkssh-ns.sh");

impl OpksshHost {
    /// Creates `dir/<name>/{etc-opk,var-log}` with `providers` and `auth_id` (mode 0640, as
    /// opkssh demands).
    pub fn new(dir: &TestDir, name: &str, providers: &str, auth_id: &str) -> Self {
        let host = Self {
            dir: dir.join(name),
        };
        for sub in ["etc-opk", "var-log"] {
            std::fs::create_dir_all(host.dir.join(sub)).expect("mkdir");
            std::fs::set_permissions(host.dir.join(sub), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        host.write("providers", providers);
        host.write("auth_id", auth_id);
        host
    }

    /// (Re)writes a file in the stand-in /etc/opk with mode 0640.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.join("etc-opk").join(name);
        std::fs::write(&p, contents).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        p
    }

    /// The stand-in /etc/opk (on the host side).
    pub fn etc_opk(&self) -> PathBuf {
        self.dir.join("etc-opk")
    }

    /// What opkssh appended to its /var/log/opkssh.log.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.dir.join("var-log/opkssh.log")).unwrap_or_default()
    }

    /// The command line that runs `program args…` inside the namespace, for callers that need
    /// to build it themselves: `unshare --mount --propagation private sh -c SCRIPT sh DIR HIDE`.
    pub fn wrapper(&self, hide: Option<&Path>) -> Vec<String> {
        vec![
            "unshare".into(),
            "--mount".into(),
            "--propagation".into(),
            "private".into(),
            "sh".into(),
            "-c".into(),
            OPKSSH_NS_SCRIPT.into(),
            "sh".into(),
            self.dir.display().to_string(),
            hide.map(|h| h.display().to_string()).unwrap_or_default(),
        ]
    }

    /// Runs `program args…` in the namespace with a clean environment (PATH + `env`), as sshd
    /// would start an AuthorizedKeysCommand.
    pub fn run(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        hide: Option<&Path>,
    ) -> Output {
        let w = self.wrapper(hide);
        let out = Command::new(&w[0])
            .args(&w[1..])
            .arg(program)
            .args(args)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("unshare");
        // The namespace is gone: nothing below the scratch directories is mounted any more.
        // Still, only the plain scratch parts are removed recursively.
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with("ovl.") {
                for part in ["upper", "work", "empty"] {
                    let _ = std::fs::remove_dir_all(entry.path().join(part));
                }
            }
        }
        out
    }

    /// `opkssh verify --config-path <etc-opk>/config.yml principal key_b64 key_type`. The target
    /// user's `~/.opk` (opkssh's home policy) is hidden, so the machine's files cannot leak in.
    pub fn verify(
        &self,
        opkssh: &Path,
        principal: &str,
        key_b64: &str,
        key_type: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let config = self.etc_opk().join("config.yml");
        // opkssh also reads the principal's ~/.opk/auth_id: always hide the machine's.
        let home = Some(
            user_home(principal)
                .unwrap_or_else(|| panic!("no passwd entry for {principal}"))
                .join(".opk"),
        );
        self.run(
            opkssh,
            &[
                "verify",
                "--config-path",
                config.to_str().expect("utf8 path"),
                principal,
                key_b64,
                key_type,
            ],
            env,
            home.as_deref(),
        )
    }
}
