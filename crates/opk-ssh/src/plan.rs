//! `opk ssh` from arguments to exit status: resolve the destination (flags, `-o`, ssh_config,
//! defaults), connect, start forwards, run the command or shell.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use opk_sshconfig::{Context, Proxy, SshConfig, load_config, resolve};

use crate::auth::{Identities, warn};
use crate::client::{ConnectOptions, Endpoint, connect};
use crate::error::Error;
use crate::hostkey::{HostKeyPolicy, Strictness};
use crate::run::{RunOptions, run};
use crate::spec::{Dynamic, Forward, Hop, parse_destination, parse_dynamic, parse_forward};
use crate::transport::{Tcp, Transport};

/// `-t` / `-T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tty {
    /// A PTY for a shell on a terminal, none for a command.
    #[default]
    Auto,
    /// `-t`: a PTY if stdin is a terminal.
    Want,
    /// `-tt`: a PTY even without a local terminal.
    Force,
    /// `-T`: never.
    Never,
}

impl Tty {
    /// From OpenSSH's flags: `-T` (`never`), else `-t` given `count` times.
    pub fn from_flags(never: bool, count: u8) -> Self {
        match (never, count) {
            (true, _) => Tty::Never,
            (false, 0) => Tty::Auto,
            (false, 1) => Tty::Want,
            (false, _) => Tty::Force,
        }
    }
}

/// `opk ssh`'s arguments, as parsed by the CLI.
#[derive(Debug, Clone, Default)]
pub struct SshArgs {
    /// `[user@]host[:port]` or an ssh_config alias.
    pub destination: String,
    /// Remote command words (joined with spaces, as ssh does).
    pub command: Vec<String>,
    /// `-p`.
    pub port: Option<u16>,
    /// `-l`.
    pub login: Option<String>,
    /// `-i`, in order.
    pub identity_files: Vec<PathBuf>,
    /// `-o Key=Value`, in order.
    pub options: Vec<String>,
    /// `-F`: ssh_config to read instead of `~/.ssh/config` (`none` for none).
    pub config_file: Option<PathBuf>,
    /// `-t`/`-T`.
    pub tty: Tty,
    /// `-L`.
    pub local: Vec<String>,
    /// `-R`.
    pub remote: Vec<String>,
    /// `-D`.
    pub dynamic: Vec<String>,
    /// `-J`.
    pub jump: Option<String>,
    /// `-A`.
    pub forward_agent: bool,
    /// `-N`: no command (forwarding only).
    pub no_command: bool,
    /// `-n`: stdin from /dev/null.
    pub stdin_null: bool,
}

/// Everything resolved: how to connect and what to do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Connection.
    pub connect: ConnectOptions,
    /// What to run; `None` with `-N`.
    pub run: Option<RunOptions>,
    /// `-L`.
    pub local: Vec<Forward>,
    /// `-R`.
    pub remote: Vec<Forward>,
    /// `-D`.
    pub dynamic: Vec<Dynamic>,
}

fn home() -> Result<PathBuf, Error> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .ok_or(Error::NoHome)
}

/// USER / LOGNAME, else the passwd entry of our uid (cron and CI often set neither).
fn local_user() -> Result<String, Error> {
    if let Some(u) = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
    {
        return Ok(u);
    }
    let uid = rustix::process::geteuid().as_raw().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)? == uid).then(|| name.to_owned())
            })
        })
        .ok_or(Error::NoUser)
}

/// The settings for one host, from flags, `-o` and ssh_config.
struct HostSettings {
    host: String,
    port: u16,
    user: String,
    identity_files: Vec<PathBuf>,
    certificate_files: Vec<PathBuf>,
    jumps: Vec<Hop>,
    strict: Strictness,
    known_hosts: Vec<PathBuf>,
    alias: Option<String>,
    forward_agent: bool,
    identities_only: bool,
    connect_timeout: Option<u64>,
    keepalive: Option<u64>,
    keepalive_max: Option<u64>,
    hash_known_hosts: bool,
    agent: Option<PathBuf>,
}

fn config_err(e: opk_sshconfig::Error) -> Error {
    Error::Config(Box::new(e))
}

/// `-o` keywords opk ssh handles itself (opk-sshconfig interprets the others it accepts).
const OWN_OPTIONS: [&str; 4] = [
    "serveraliveinterval",
    "serveralivecountmax",
    "hashknownhosts",
    "identityagent",
];

/// The ssh_config layers, first wins: `-o`, then `-F FILE` or `~/.ssh/config`, then the
/// system file (skipped with `-F`, as OpenSSH does).
struct Configs {
    layers: Vec<SshConfig>,
    system_dir: PathBuf,
}

/// Where the system's ssh files live; `OPK_SSH_SYSTEM_DIR` moves it (tests never read /etc/ssh).
fn system_dir() -> PathBuf {
    std::env::var_os("OPK_SSH_SYSTEM_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/etc/ssh"), PathBuf::from)
}

impl Configs {
    fn load(args: &SshArgs, home: &Path) -> Result<Self, Error> {
        let options: Vec<&str> = args.options.iter().map(String::as_str).collect();
        let mut layers =
            vec![
                SshConfig::parse_options(&options, &OWN_OPTIONS).map_err(|e| match e {
                    opk_sshconfig::Error::Config {
                        problem: opk_sshconfig::ConfigProblem::Unsupported(keyword),
                        ..
                    } => Error::UnsupportedOption { keyword },
                    e => config_err(e),
                })?,
            ];
        let system_dir = system_dir();
        let ssh_dir = home.join(".ssh");
        match &args.config_file {
            Some(f) if f.as_os_str() == "none" => {}
            Some(f) => layers.push(load_config(f, &ssh_dir, home).map_err(config_err)?),
            None => {
                layers.push(
                    load_config(&ssh_dir.join("config"), &ssh_dir, home).map_err(config_err)?,
                );
                layers.push(
                    load_config(&system_dir.join("ssh_config"), &system_dir, home)
                        .map_err(config_err)?,
                );
            }
        }
        Ok(Self { layers, system_dir })
    }

    /// Resolves one destination; `with_options` is false for jump hosts (`-o` is for the target).
    fn resolve(
        &self,
        hop: &Hop,
        home: &Path,
        me: &str,
        with_options: bool,
    ) -> Result<HostSettings, Error> {
        let ctx = Context::new(&hop.host, me, home)
            .user(hop.user.as_deref())
            .port(hop.port)
            .uid(rustix::process::geteuid().as_raw());
        let skip = usize::from(!with_options);
        let layers: Vec<&SshConfig> = self.layers.iter().skip(skip).collect();
        let hc = resolve(&ctx, &layers).map_err(config_err)?;
        let jumps = match &hc.proxy {
            Proxy::Direct => Vec::new(),
            Proxy::Jump(list) => list
                .iter()
                .map(|j| Hop {
                    user: j.user.clone(),
                    host: j.host.clone(),
                    port: j.port,
                })
                .collect(),
            Proxy::Command(_) => {
                return Err(Error::Unsupported {
                    option: "ProxyCommand",
                    instead: "use ProxyJump / -J (an overlay transport plugs in as a Transport)",
                });
            }
        };
        let own = |name: &'static str| -> Result<Option<u64>, Error> {
            match hc.other.iter().find(|d| d.keyword == name) {
                Some(d) => {
                    let v = d.args.first().cloned().unwrap_or_default();
                    v.parse().map(Some).map_err(|_| Error::BadNumber {
                        option: if name == OWN_OPTIONS[0] {
                            "ServerAliveInterval"
                        } else {
                            "ServerAliveCountMax"
                        },
                        value: v,
                    })
                }
                None => Ok(None),
            }
        };
        let first_arg = |name: &str| {
            hc.other
                .iter()
                .find(|d| d.keyword == name)
                .map(|d| d.args.first().cloned().unwrap_or_default())
        };
        let hash_known_hosts = match first_arg(OWN_OPTIONS[2]) {
            None => false,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => {
                    return Err(Error::BadYesNo {
                        option: "HashKnownHosts",
                        value: v,
                    });
                }
            },
        };
        // IdentityAgent: none, SSH_AUTH_SOCK (the default), or a socket path.
        let agent = match first_arg(OWN_OPTIONS[3]) {
            Some(v) if v.eq_ignore_ascii_case("none") => None,
            Some(v) if v != "SSH_AUTH_SOCK" => Some(crate::auth::expand_home(&v, home)),
            _ => std::env::var_os("SSH_AUTH_SOCK")
                .filter(|a| !a.is_empty())
                .map(PathBuf::from),
        };
        let mut known_hosts = hc.user_known_hosts_files.clone();
        known_hosts.push(self.system_dir.join("ssh_known_hosts"));
        known_hosts.push(self.system_dir.join("ssh_known_hosts2"));
        let mut strict = hc
            .strict_host_key_checking
            .map_or(Strictness::Yes, Strictness::from);
        if hc.batch_mode == Some(true) && strict == Strictness::Ask {
            strict = Strictness::Yes;
        }
        Ok(HostSettings {
            host: hc.hostname.clone(),
            port: hc.port,
            user: hc.user.clone(),
            identity_files: hc.identity_files.clone(),
            certificate_files: hc.certificate_files.clone(),
            jumps,
            strict,
            known_hosts,
            alias: hc.host_key_alias.clone(),
            forward_agent: hc.forward_agent == Some(true),
            identities_only: hc.identities_only == Some(true),
            connect_timeout: hc.connect_timeout.map(u64::from),
            keepalive: own(OWN_OPTIONS[0])?,
            keepalive_max: own(OWN_OPTIONS[1])?,
            hash_known_hosts,
            agent,
        })
    }
}

fn endpoint(s: &HostSettings, explicit: &[PathBuf], home: &Path) -> Endpoint {
    let mut files = explicit.to_vec();
    files.extend(s.identity_files.iter().cloned());
    Endpoint {
        host: s.host.clone(),
        port: s.port,
        user: s.user.clone(),
        identities: Identities {
            files,
            certificates: s.certificate_files.clone(),
            home: (!s.identities_only).then(|| home.to_owned()),
            agent: s.agent.clone().filter(|_| !s.identities_only),
        },
        host_keys: HostKeyPolicy {
            strict: s.strict,
            known_hosts: s.known_hosts.clone(),
            alias: s.alias.clone(),
            hash: s.hash_known_hosts,
        },
    }
}

/// Variables sent like OpenSSH's default `SendEnv LANG LC_*` (plus TERM, for servers that
/// accept it without a PTY).
fn send_env() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k == "LANG" || k.starts_with("LC_") || k == "TERM")
        .collect()
}

impl Plan {
    /// Resolves `args` against the environment (HOME, USER, SSH_AUTH_SOCK, TERM, LANG) and
    /// the ssh_config files.
    pub fn resolve(args: &SshArgs) -> Result<Self, Error> {
        let home = home()?;
        let me = local_user()?;
        let mut dest = parse_destination(&args.destination)?;
        if args.login.is_some() {
            dest.user = args.login.clone();
        }
        if args.port.is_some() {
            dest.port = args.port;
        }
        let configs = Configs::load(args, &home)?;
        let target = configs.resolve(&dest, &home, &me, true)?;
        let hops = match &args.jump {
            Some(j) => crate::spec::parse_jumps(j)?,
            None => target.jumps.clone(),
        };
        let mut jumps = Vec::new();
        for hop in &hops {
            let s = configs.resolve(hop, &home, &me, false)?;
            jumps.push(endpoint(&s, &[], &home));
        }
        let forward_agent = (args.forward_agent || target.forward_agent)
            .then(|| target.agent.clone())
            .flatten();
        if (args.forward_agent || target.forward_agent) && forward_agent.is_none() {
            warn("-A: no agent to forward (SSH_AUTH_SOCK is not set, or IdentityAgent none)");
        }
        let command = (!args.command.is_empty()).then(|| args.command.join(" "));
        let stdin_tty = std::io::stdin().is_terminal();
        let pty = match args.tty {
            Tty::Never => false,
            Tty::Force => true,
            Tty::Want | Tty::Auto if !stdin_tty => {
                if args.tty == Tty::Want {
                    warn("Pseudo-terminal will not be allocated because stdin is not a terminal.");
                }
                false
            }
            Tty::Want => true,
            Tty::Auto => command.is_none(),
        };
        let run = (!args.no_command).then(|| RunOptions {
            command,
            pty,
            env: send_env(),
            stdin_null: args.stdin_null,
        });
        let local = args
            .local
            .iter()
            .map(|s| parse_forward("-L", s))
            .collect::<Result<_, _>>()?;
        let remote = args
            .remote
            .iter()
            .map(|s| parse_forward("-R", s))
            .collect::<Result<_, _>>()?;
        let dynamic = args
            .dynamic
            .iter()
            .map(|s| parse_dynamic(s))
            .collect::<Result<_, _>>()?;
        Ok(Plan {
            connect: ConnectOptions {
                target: endpoint(&target, &args.identity_files, &home),
                jumps,
                connect_timeout: Duration::from_secs(target.connect_timeout.unwrap_or(30)),
                keepalive: target.keepalive.filter(|&s| s > 0).map(Duration::from_secs),
                keepalive_max: target
                    .keepalive_max
                    .map_or(3, |n| usize::try_from(n).unwrap_or(usize::MAX)),
                forward_agent,
            },
            run,
            local,
            remote,
            dynamic,
        })
    }
}

/// `opk ssh`: resolves, connects, forwards, runs; returns the exit status to use.
pub fn ssh(args: &SshArgs) -> Result<u8, Error> {
    ssh_over(args, &Tcp)
}

/// `opk ssh` whose first hop goes through `transport` instead of TCP (`opk zssh`: the overlay).
pub fn ssh_over(args: &SshArgs, transport: &dyn Transport) -> Result<u8, Error> {
    let plan = Plan::resolve(args)?;
    crate::block_on(execute(plan, transport))?
}

async fn execute(plan: Plan, transport: &dyn Transport) -> Result<u8, Error> {
    let session = Arc::new(connect(&plan.connect, transport).await?);
    for f in &plan.local {
        crate::forward::local(session.clone(), f).await?;
    }
    for f in &plan.remote {
        let port = crate::forward::remote(&session, f).await?;
        if f.port == 0 {
            eprintln!(
                "Allocated port {port} for remote forward to {}:{}",
                f.host, f.host_port
            );
        }
    }
    for d in &plan.dynamic {
        crate::forward::dynamic(session.clone(), d).await?;
    }
    match &plan.run {
        Some(r) => {
            let status = run(&session, r).await?;
            session.close().await;
            Ok(status)
        }
        // -N: serve the forwards until the connection ends (or we are killed).
        None => {
            while !session.handle.is_closed() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(Error::Closed {
                host: session.host.clone(),
            })
        }
    }
}
