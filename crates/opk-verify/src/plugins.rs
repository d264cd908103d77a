//! Policy plugins, `/etc/opk/policy.d/*.yml`, with opkssh's contract: each config names a
//! command; the command gets the `OPKSSH_PLUGIN_*` variables and allows the login by printing
//! `allow` and exiting 0. Plugins only ever add access: one that cannot be loaded or run, or
//! that says anything else, is logged and the policy rows decide.
//!
//! Stricter than opkssh: a deadline per plugin, after which its process group is killed; only
//! stdout counts, so stderr chatter never turns an allow into a deny (hazard O-10 in
//! docs/hazards.md); the command must be an absolute path that root or the verify user owns and
//! nobody else may write.

use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opk_policy::PluginRequest;

use crate::Log;
use crate::server_config::{PluginConfig, parse_plugin};

/// Output beyond this is cut (a policy answer is one word); the pipes are still drained.
const MAX_OUTPUT: usize = 64 * 1024;

/// How the plugins are run.
pub(crate) struct Plugins<'a> {
    /// The plugin directory.
    pub(crate) dir: &'a Path,
    /// Deadline for each plugin, from spawn to the end of its output.
    pub(crate) timeout: Duration,
    /// No plugin runs past this, whatever its timeout.
    pub(crate) until: Option<Instant>,
    /// The server config's `env_vars`, which opkssh's plugins inherit.
    pub(crate) env_vars: &'a [(String, String)],
}

impl Plugins<'_> {
    /// Runs every plugin (none short-circuits, so a new plugin can be tried beside an old one,
    /// as in opkssh) and returns the config file of the first that allowed.
    pub(crate) fn allowing(&self, req: &PluginRequest<'_>, log: &mut Log) -> Option<PathBuf> {
        let configs = match self.configs() {
            Ok(configs) => configs,
            Err(why) => {
                log.line(&format!("policy plugins skipped: {why}"));
                return None;
            }
        };
        let mut allowed_by = None;
        for path in configs {
            let result = self.run_one(&path, req);
            let (allowed, detail) = match &result {
                Ok(run) => (run.allowed, run.describe()),
                Err(why) => (false, format!("error: {why}")),
            };
            log.line(&format!(
                "policy plugin {}: allowed: {allowed}, {detail}",
                path.display()
            ));
            if allowed && allowed_by.is_none() {
                allowed_by = Some(path);
            }
        }
        allowed_by
    }

    /// The `*.yml` files of the directory, by name; the directory must be trusted.
    fn configs(&self) -> Result<Vec<PathBuf>, String> {
        let dir = self.dir;
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!("no plugin directory at {}", dir.display()));
            }
            Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
        };
        if !meta.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        if let Some(problem) = opk_files::trust_problem(&meta) {
            return Err(format!(
                "refusing {}: {problem}; fix with: chown root {0} && chmod 750 {0}",
                dir.display()
            ));
        }
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "yml") && !p.is_dir())
            .collect();
        paths.sort();
        Ok(paths)
    }

    fn run_one(&self, path: &Path, req: &PluginRequest<'_>) -> Result<Run, String> {
        let text = crate::files::read_checked(path, crate::files::Owner::System)
            .map_err(|e| e.to_string())?;
        let PluginConfig { name, command } =
            parse_plugin(&text).map_err(|(line, problem)| format!("line {line}: {problem}"))?;
        let words = opk_policy::split_command(&command)
            .map_err(|e| format!("command {command:?}: {e}"))?
            .ok_or_else(|| "the command is empty".to_owned())?;
        let program = Path::new(&words[0]);
        check_program(program)?;
        let mut cmd = Command::new(program);
        cmd.args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that a timeout kills what it started too.
            .process_group(0);
        // Only the variables set here reach the plugin under opkssh's prefix.
        for (key, _) in std::env::vars_os() {
            if key
                .to_str()
                .is_some_and(|k| k.starts_with(opk_policy::PLUGIN_ENV_PREFIX))
            {
                cmd.env_remove(key);
            }
        }
        cmd.envs(self.env_vars.iter().map(|(k, v)| (k, v)));
        cmd.envs(opk_policy::plugin_env(req, &name, &command));
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let timeout = match self.until {
            Some(until) => self
                .timeout
                .min(until.saturating_duration_since(Instant::now())),
            None => self.timeout,
        };
        let mut run = wait(child, timeout, MAX_OUTPUT)?;
        run.command = words.join(" ");
        run.allowed = run.exited_zero && opk_policy::plugin_allows(true, &run.stdout);
        Ok(run)
    }
}

/// The command must be a regular, executable file at an absolute path, owned by root or the
/// verify user and writable by nobody else (opkssh: owner root, mode 0555 or 0755).
fn check_program(program: &Path) -> Result<(), String> {
    if !program.is_absolute() {
        return Err(format!(
            "command {} is not an absolute path; write the full path",
            program.display()
        ));
    }
    let meta =
        std::fs::metadata(program).map_err(|e| format!("command {}: {e}", program.display()))?;
    let problem = if !meta.is_file() {
        Some("not a regular file".to_owned())
    } else if meta.mode() & 0o111 == 0 {
        Some("not executable".to_owned())
    } else {
        opk_files::trust_problem(&meta).map(|p| p.to_string())
    };
    match problem {
        Some(problem) => Err(format!(
            "refusing command {}: {problem}; fix with: chown root {0} && chmod 755 {0}",
            program.display()
        )),
        None => Ok(()),
    }
}

/// What one plugin did.
#[derive(Debug, Default)]
pub(crate) struct Run {
    command: String,
    pub(crate) exited_zero: bool,
    pub(crate) status: String,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    allowed: bool,
}

impl Run {
    fn describe(&self) -> String {
        let show =
            |b: &[u8]| opk_http::sanitize(String::from_utf8_lossy(b.trim_ascii()).as_ref(), 200);
        let mut line = format!(
            "command_run: ({}), {}, output: ({})",
            self.command,
            self.status,
            show(&self.stdout)
        );
        if !self.stderr.is_empty() {
            line.push_str(&format!(", stderr (ignored): ({})", show(&self.stderr)));
        }
        line
    }
}

/// Waits for the child and both of its output streams (the first `max` bytes of each kept) until
/// `timeout`; past it, kills the process group and fails.
pub(crate) fn wait(mut child: Child, timeout: Duration, max: usize) -> Result<Run, String> {
    let deadline = Instant::now() + timeout;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        let (tx, rx) = mpsc::channel();
        if let Some(mut pipe) = pipe {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut buf = [0u8; 8192];
                while let Ok(n @ 1..) = pipe.read(&mut buf) {
                    let room = max.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
                let _ = tx.send(kept);
            });
        } else {
            let _ = tx.send(Vec::new());
        }
        rx
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let kill = |child: &mut Child| {
        if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = child.kill();
        let _ = child.wait();
        format!("timed out after {} s and was killed", timeout.as_secs_f32())
    };
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => return Err(kill(&mut child)),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("cannot wait for the plugin: {e}")),
        }
    };
    // A process it left behind may hold the pipes open: the deadline covers the output too.
    let mut collect = |rx: mpsc::Receiver<Vec<u8>>| {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left).map_err(|_| kill(&mut child))
    };
    let stdout = collect(stdout)?;
    let stderr = collect(stderr)?;
    let status_text = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => "ended".to_owned(),
    };
    Ok(Run {
        exited_zero: status.success(),
        status: status_text,
        stdout,
        stderr,
        ..Run::default()
    })
}
