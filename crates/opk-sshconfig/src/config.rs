//! The `~/.ssh/config` subset opk ssh honours (ssh_config(5)), with OpenSSH's rules: lines are
//! `Keyword args` or `Keyword=args`, keywords case-insensitive, arguments split and unquoted as
//! OpenSSH's `argv_split` does, `Host`/`Match` blocks, and for each option the first value
//! obtained wins. Parsing is pure; `Include` files are read by [`crate::load_config`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pattern::{ListMatch, match_comma_list, match_list};
use crate::{ConfigProblem, Error, Location};

/// Largest ssh_config file we read.
pub const MAX_CONFIG_LEN: u64 = 1024 * 1024;
/// Longest line (OpenSSH's limit is 4096 bytes per line in older releases; we allow more).
pub const MAX_CONFIG_LINE: usize = 16 * 1024;
/// OpenSSH's `READCONF_MAX_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// OpenSSH's `SSH_MAX_IDENTITY_FILES`; further IdentityFile/CertificateFile lines are ignored.
pub const MAX_IDENTITY_FILES: usize = 100;

/// `StrictHostKeyChecking`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrictHostKeyChecking {
    /// `yes`: refuse unknown and changed keys.
    Yes,
    /// `ask`: ask before adding an unknown key (OpenSSH's default).
    Ask,
    /// `accept-new`: add unknown keys, refuse changed ones.
    AcceptNew,
    /// `no` / `off`: add unknown keys and connect despite changed ones.
    No,
}

impl StrictHostKeyChecking {
    fn parse(v: &str) -> Option<Self> {
        Some(match v.to_ascii_lowercase().as_str() {
            "yes" | "true" => Self::Yes,
            "ask" => Self::Ask,
            "accept-new" => Self::AcceptNew,
            "no" | "off" | "false" => Self::No,
            _ => return None,
        })
    }

    /// The spelling `ssh -G` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "true",
            Self::Ask => "ask",
            Self::AcceptNew => "accept-new",
            Self::No => "false",
        }
    }
}

/// One `ProxyJump` hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JumpHost {
    /// `user@`, if given.
    pub user: Option<String>,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// `:port`, if given.
    pub port: Option<u16>,
}

impl fmt::Display for JumpHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        Ok(())
    }
}

/// How to reach the host.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Proxy {
    /// Directly (also `ProxyJump none` / `ProxyCommand none`).
    #[default]
    Direct,
    /// Through these jump hosts, first one first.
    Jump(Vec<JumpHost>),
    /// `ProxyCommand` (not run by opk; the caller should say so rather than connect directly).
    Command(String),
}

/// An option that applied to this host but that this crate does not interpret; the caller may
/// (first one wins for most keywords) or warn about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    /// The keyword, lowercased.
    pub keyword: String,
    /// Its arguments, unquoted.
    pub args: Vec<String>,
    /// Where.
    pub at: Location,
}

/// The settings for one destination, after all files are applied and tokens expanded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostConfig {
    /// The name given on the command line (`%n`).
    pub alias: String,
    /// Host to connect to: `HostName` with `%h` expanded, or the alias; lowercased.
    pub hostname: String,
    /// Remote user: `-l`, `User`, or the local user.
    pub user: String,
    /// `-p`, `Port`, or 22.
    pub port: u16,
    /// `IdentityFile`s in order, `~` and tokens expanded (no defaults added).
    pub identity_files: Vec<PathBuf>,
    /// `CertificateFile`s in order, expanded.
    pub certificate_files: Vec<PathBuf>,
    /// `ProxyJump` / `ProxyCommand`.
    pub proxy: Proxy,
    /// `StrictHostKeyChecking`, if set anywhere (the caller picks the default).
    pub strict_host_key_checking: Option<StrictHostKeyChecking>,
    /// `UserKnownHostsFile`s, expanded; default `~/.ssh/known_hosts ~/.ssh/known_hosts2`, empty
    /// for `none`.
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `HostKeyAlias`: the name to look up in known_hosts instead of the host name.
    pub host_key_alias: Option<String>,
    /// `ForwardAgent yes|no`.
    pub forward_agent: Option<bool>,
    /// `IdentitiesOnly yes|no`.
    pub identities_only: Option<bool>,
    /// `BatchMode yes|no`.
    pub batch_mode: Option<bool>,
    /// `ConnectTimeout` in seconds.
    pub connect_timeout: Option<u32>,
    /// Every other option that applied, in order.
    pub other: Vec<Directive>,
    /// Match criteria this crate cannot evaluate (`exec`, `localnetwork`, `canonical`, `final`,
    /// `tagged`); their blocks were treated as not matching.
    pub unsupported_match: Vec<Location>,
}

/// What the resolver needs to know about the local side; pure input, no lookups.
#[derive(Clone, Debug)]
pub struct Context {
    alias: String,
    local_user: String,
    home: PathBuf,
    uid: u32,
    local_hostname: String,
    user: Option<String>,
    port: Option<u16>,
}

impl Context {
    /// For destination `alias` (the host part of `[user@]host`), run by `local_user` whose home
    /// directory is `home` (`~`, `%d`).
    pub fn new(alias: &str, local_user: &str, home: &Path) -> Self {
        Context {
            alias: alias.to_owned(),
            local_user: local_user.to_owned(),
            home: home.to_path_buf(),
            uid: 0,
            local_hostname: String::new(),
            user: None,
            port: None,
        }
    }
    /// `-l user` or `user@host`: wins over `User`.
    pub fn user(mut self, user: Option<&str>) -> Self {
        self.user = user.map(str::to_owned);
        self
    }
    /// `-p port`: wins over `Port`.
    pub fn port(mut self, port: Option<u16>) -> Self {
        self.port = port;
        self
    }
    /// Local uid for `%i`.
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = uid;
        self
    }
    /// Local host name for `%l` / `%L` / `%C`.
    pub fn local_hostname(mut self, name: &str) -> Self {
        self.local_hostname = name.to_owned();
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyword {
    HostName,
    User,
    Port,
    IdentityFile,
    CertificateFile,
    ProxyJump,
    ProxyCommand,
    StrictHostKeyChecking,
    UserKnownHostsFile,
    HostKeyAlias,
    ForwardAgent,
    IdentitiesOnly,
    BatchMode,
    ConnectTimeout,
}

impl Keyword {
    fn from_lower(k: &str) -> Option<Self> {
        Some(match k {
            "hostname" => Self::HostName,
            "user" => Self::User,
            "port" => Self::Port,
            "identityfile" => Self::IdentityFile,
            "certificatefile" => Self::CertificateFile,
            "proxyjump" => Self::ProxyJump,
            "proxycommand" => Self::ProxyCommand,
            "stricthostkeychecking" => Self::StrictHostKeyChecking,
            "userknownhostsfile" => Self::UserKnownHostsFile,
            "hostkeyalias" => Self::HostKeyAlias,
            "forwardagent" => Self::ForwardAgent,
            "identitiesonly" => Self::IdentitiesOnly,
            "batchmode" => Self::BatchMode,
            "connecttimeout" => Self::ConnectTimeout,
            _ => return None,
        })
    }
}

/// A parsed, validated value.
#[derive(Clone, Debug)]
enum Value {
    Text(String),
    Texts(Vec<String>),
    Port(u16),
    Strict(StrictHostKeyChecking),
    Proxy(Proxy),
    Bool(bool),
    Seconds(u32),
}

#[derive(Clone, Debug)]
enum Criterion {
    All,
    Host(String),
    OriginalHost(String),
    User(String),
    LocalUser(String),
    /// exec, localnetwork, canonical, final, tagged.
    Unsupported,
}

#[derive(Clone, Debug)]
enum Kind {
    Host(Vec<String>),
    Match(Vec<(bool, Criterion)>),
    Set(Keyword, Value),
    Other(String, Vec<String>),
    Include {
        patterns: Vec<String>,
        files: Vec<SshConfig>,
    },
}

#[derive(Clone, Debug)]
struct Item {
    file: Arc<Path>,
    line: usize,
    kind: Kind,
}

/// One parsed ssh_config file (with its `Include`s once [`load_config`](crate::load_config) resolved them).
#[derive(Clone, Debug, Default)]
pub struct SshConfig {
    items: Vec<Item>,
}

fn problem(file: &Path, line: usize, p: ConfigProblem) -> Error {
    Error::Config {
        path: file.to_path_buf(),
        line,
        problem: p,
    }
}

impl SshConfig {
    /// Parses one file's text; `label` names it in errors. Includes are recorded, not read.
    pub fn parse(label: &Path, text: &str) -> Result<Self, Error> {
        let file: Arc<Path> = Arc::from(label);
        let mut items = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.len() > MAX_CONFIG_LINE {
                return Err(problem(label, line, ConfigProblem::LineTooLong));
            }
            let Some((keyword, args)) = split_line(raw).map_err(|p| problem(label, line, p))?
            else {
                continue;
            };
            let kind = parse_item(&keyword, args).map_err(|p| problem(label, line, p))?;
            items.push(Item {
                file: file.clone(),
                line,
                kind,
            });
        }
        Ok(SshConfig { items })
    }

    /// Parses `-o Key=Value` options (each also as `Key Value`). Unlike files, a keyword this
    /// crate does not interpret is an error unless listed in `also_accept` (lowercase), for
    /// options the caller handles itself; `Host`, `Match` and `Include` are refused.
    pub fn parse_options(options: &[&str], also_accept: &[&str]) -> Result<Self, Error> {
        let label = Path::new("command line");
        let file: Arc<Path> = Arc::from(label);
        let mut items = Vec::new();
        for (i, opt) in options.iter().enumerate() {
            let line = i + 1;
            let Some((keyword, args)) = split_line(opt).map_err(|p| problem(label, line, p))?
            else {
                continue;
            };
            let kind = parse_item(&keyword, args).map_err(|p| problem(label, line, p))?;
            let ok = match &kind {
                Kind::Set(..) => true,
                Kind::Other(k, _) => also_accept.contains(&k.as_str()),
                Kind::Host(_) | Kind::Match(_) | Kind::Include { .. } => false,
            };
            if !ok {
                return Err(problem(label, line, ConfigProblem::Unsupported(keyword)));
            }
            items.push(Item {
                file: file.clone(),
                line,
                kind,
            });
        }
        Ok(SshConfig { items })
    }

    /// `Include` arguments in this file (not in included files), for the loader.
    pub(crate) fn includes_mut(
        &mut self,
    ) -> impl Iterator<Item = (usize, &[String], &mut Vec<SshConfig>)> {
        self.items.iter_mut().filter_map(|it| match &mut it.kind {
            Kind::Include { patterns, files } => Some((it.line, patterns.as_slice(), files)),
            _ => None,
        })
    }

    /// True if nothing was parsed (empty or comment-only file).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Applies `configs` in order (command-line options first, then the user's file, then the
/// system file) for `ctx`, OpenSSH style: first value obtained wins, tokens expanded at the end.
pub fn resolve(ctx: &Context, configs: &[&SshConfig]) -> Result<HostConfig, Error> {
    let mut acc = Acc::default();
    for c in configs {
        walk(ctx, &c.items, true, &mut acc);
    }
    finish(ctx, acc)
}

#[derive(Default)]
struct Acc {
    hostname: Option<(String, Location)>,
    user: Option<String>,
    port: Option<u16>,
    identity_files: Vec<(String, Location)>,
    certificate_files: Vec<(String, Location)>,
    proxy: Option<Proxy>,
    strict: Option<StrictHostKeyChecking>,
    known_hosts: Option<(Vec<String>, Location)>,
    host_key_alias: Option<String>,
    forward_agent: Option<bool>,
    identities_only: Option<bool>,
    batch_mode: Option<bool>,
    connect_timeout: Option<u32>,
    other: Vec<Directive>,
    unsupported_match: Vec<Location>,
}

fn origin(it: &Item) -> Location {
    Location {
        file: it.file.to_path_buf(),
        line: it.line,
    }
}

fn walk(ctx: &Context, items: &[Item], mut active: bool, acc: &mut Acc) {
    // An Include inside an inactive block contributes nothing (OpenSSH SSHCONF_NEVERMATCH).
    let never = !active;
    for it in items {
        match &it.kind {
            Kind::Host(patterns) => {
                active = !never
                    && match_list(&ctx.alias, patterns.iter().map(String::as_str), false)
                        == ListMatch::Positive;
            }
            Kind::Match(criteria) => {
                active = !never && eval_match(ctx, criteria, acc, || origin(it));
            }
            Kind::Include { files, .. } => {
                if active {
                    for f in files {
                        walk(ctx, &f.items, true, acc);
                    }
                }
            }
            Kind::Set(k, v) if active => apply(*k, v, it, acc),
            Kind::Other(k, args) if active => acc.other.push(Directive {
                keyword: k.clone(),
                args: args.clone(),
                at: origin(it),
            }),
            Kind::Set(..) | Kind::Other(..) => {}
        }
    }
}

fn eval_match(
    ctx: &Context,
    criteria: &[(bool, Criterion)],
    acc: &mut Acc,
    at: impl Fn() -> Location,
) -> bool {
    // `Match host` sees HostName as obtained so far (readconf.c match_cfg_line).
    let host = match &acc.hostname {
        Some((h, _)) => expand_hostname(h, &ctx.alias).unwrap_or_else(|_| ctx.alias.clone()),
        None => ctx.alias.clone(),
    };
    let host = lower_host(host);
    let ruser = ctx
        .user
        .clone()
        .or_else(|| acc.user.clone())
        .unwrap_or_else(|| ctx.local_user.clone());
    let mut result = true;
    for (negated, c) in criteria {
        let hit = match c {
            Criterion::All => true,
            Criterion::Host(l) => match_comma_list(&host, l, true) == ListMatch::Positive,
            Criterion::OriginalHost(l) => {
                match_comma_list(&ctx.alias, l, false) == ListMatch::Positive
            }
            Criterion::User(l) => match_comma_list(&ruser, l, false) == ListMatch::Positive,
            Criterion::LocalUser(l) => {
                match_comma_list(&ctx.local_user, l, false) == ListMatch::Positive
            }
            Criterion::Unsupported => {
                acc.unsupported_match.push(at());
                return false;
            }
        };
        if hit == *negated {
            result = false;
        }
    }
    result
}

fn apply(k: Keyword, v: &Value, it: &Item, acc: &mut Acc) {
    fn first<T: Clone>(slot: &mut Option<T>, v: &T) {
        if slot.is_none() {
            *slot = Some(v.clone());
        }
    }
    match (k, v) {
        (Keyword::HostName, Value::Text(t)) => first(&mut acc.hostname, &(t.clone(), origin(it))),
        (Keyword::User, Value::Text(t)) => first(&mut acc.user, t),
        (Keyword::HostKeyAlias, Value::Text(t)) => first(&mut acc.host_key_alias, t),
        (Keyword::Port, Value::Port(p)) => first(&mut acc.port, p),
        (Keyword::IdentityFile, Value::Text(t))
            if acc.identity_files.len() < MAX_IDENTITY_FILES =>
        {
            acc.identity_files.push((t.clone(), origin(it)));
        }
        (Keyword::CertificateFile, Value::Text(t))
            if acc.certificate_files.len() < MAX_IDENTITY_FILES =>
        {
            acc.certificate_files.push((t.clone(), origin(it)));
        }
        (Keyword::ProxyJump | Keyword::ProxyCommand, Value::Proxy(p)) => first(&mut acc.proxy, p),
        (Keyword::StrictHostKeyChecking, Value::Strict(s)) => first(&mut acc.strict, s),
        (Keyword::UserKnownHostsFile, Value::Texts(t)) => {
            first(&mut acc.known_hosts, &(t.clone(), origin(it)))
        }
        (Keyword::ForwardAgent, Value::Bool(b)) => first(&mut acc.forward_agent, b),
        (Keyword::IdentitiesOnly, Value::Bool(b)) => first(&mut acc.identities_only, b),
        (Keyword::BatchMode, Value::Bool(b)) => first(&mut acc.batch_mode, b),
        (Keyword::ConnectTimeout, Value::Seconds(s)) => first(&mut acc.connect_timeout, s),
        // parse_item pairs each keyword with its value kind; nothing else is built.
        _ => {}
    }
}

fn finish(ctx: &Context, acc: Acc) -> Result<HostConfig, Error> {
    let err = |o: &Location, p| Error::Config {
        path: o.file.clone(),
        line: o.line,
        problem: p,
    };
    let hostname = match &acc.hostname {
        Some((h, o)) => expand_hostname(h, &ctx.alias).map_err(|p| err(o, p))?,
        None => ctx.alias.clone(),
    };
    let hostname = lower_host(hostname);
    let user = ctx
        .user
        .clone()
        .or(acc.user)
        .unwrap_or_else(|| ctx.local_user.clone());
    let port = ctx.port.or(acc.port).unwrap_or(22);
    let proxy = acc.proxy.unwrap_or_default();
    let tokens = Tokens {
        ctx,
        hostname: &hostname,
        user: &user,
        port,
        host_key_alias: acc.host_key_alias.as_deref(),
        jump: match &proxy {
            Proxy::Jump(j) => j
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        },
    };
    let files = |list: &[(String, Location)]| {
        list.iter()
            .map(|(f, o)| tokens.path(f).map_err(|p| err(o, p)))
            .collect::<Result<Vec<_>, _>>()
    };
    let user_known_hosts_files = match &acc.known_hosts {
        None => ["~/.ssh/known_hosts", "~/.ssh/known_hosts2"]
            .iter()
            .map(|f| {
                tokens.path(f).map_err(|p| {
                    err(
                        &Location {
                            file: "default".into(),
                            line: 0,
                        },
                        p,
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some((list, _)) if list.len() == 1 && list[0].eq_ignore_ascii_case("none") => Vec::new(),
        Some((list, o)) => list
            .iter()
            .map(|f| tokens.path(f).map_err(|p| err(o, p)))
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(HostConfig {
        alias: ctx.alias.clone(),
        identity_files: files(&acc.identity_files)?,
        certificate_files: files(&acc.certificate_files)?,
        hostname,
        user,
        port,
        proxy,
        strict_host_key_checking: acc.strict,
        user_known_hosts_files,
        host_key_alias: acc.host_key_alias,
        forward_agent: acc.forward_agent,
        identities_only: acc.identities_only,
        batch_mode: acc.batch_mode,
        connect_timeout: acc.connect_timeout,
        other: acc.other,
        unsupported_match: acc.unsupported_match,
    })
}

/// ssh lowercases the destination unless it contains a `:` (IPv6 addresses keep their case;
/// observed with `ssh -G`, see tests/openssh.rs).
fn lower_host(h: String) -> String {
    if h.contains(':') {
        h
    } else {
        h.to_ascii_lowercase()
    }
}

/// `HostName` accepts only `%h` and `%%` (ssh_config(5) TOKENS).
fn expand_hostname(raw: &str, alias: &str) -> Result<String, ConfigProblem> {
    percent_expand(raw, |c| match c {
        'h' => Some(alias.to_owned()),
        _ => None,
    })
}

struct Tokens<'a> {
    ctx: &'a Context,
    hostname: &'a str,
    user: &'a str,
    port: u16,
    host_key_alias: Option<&'a str>,
    jump: String,
}

impl Tokens<'_> {
    fn value(&self, c: char) -> Option<String> {
        let ctx = self.ctx;
        Some(match c {
            'd' => ctx.home.to_string_lossy().into_owned(),
            'h' => self.hostname.to_owned(),
            'i' => ctx.uid.to_string(),
            'j' => self.jump.clone(),
            'k' => self.host_key_alias.unwrap_or(&ctx.alias).to_owned(),
            'L' => ctx
                .local_hostname
                .split('.')
                .next()
                .unwrap_or_default()
                .to_owned(),
            'l' => ctx.local_hostname.clone(),
            'n' => ctx.alias.clone(),
            'p' => self.port.to_string(),
            'r' => self.user.to_owned(),
            'u' => ctx.local_user.clone(),
            'C' => self.conn_hash(),
            _ => return None,
        })
    }

    /// `%C`: hex SHA-1 of `%l%h%p%r%j` (OpenSSH 9.x `ssh_connection_hash`).
    fn conn_hash(&self) -> String {
        use sha1::Digest as _;
        let mut h = sha1::Sha1::new();
        for part in [
            self.ctx.local_hostname.as_str(),
            self.hostname,
            &self.port.to_string(),
            self.user,
            &self.jump,
        ] {
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `~` first (OpenSSH `tilde_expand_filename`), then tokens.
    fn path(&self, raw: &str) -> Result<PathBuf, ConfigProblem> {
        let home = self.ctx.home.to_string_lossy();
        let tilded = if raw == "~" {
            home.into_owned()
        } else if let Some(rest) = raw.strip_prefix("~/") {
            format!("{}/{rest}", home.trim_end_matches('/'))
        } else if raw.starts_with('~') {
            return Err(ConfigProblem::TildeUser(raw.to_owned()));
        } else {
            raw.to_owned()
        };
        percent_expand(&tilded, |c| self.value(c)).map(PathBuf::from)
    }
}

fn percent_expand(
    raw: &str,
    value: impl Fn(char) -> Option<String>,
) -> Result<String, ConfigProblem> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => return Err(ConfigProblem::TrailingPercent(raw.to_owned())),
            Some('%') => out.push('%'),
            Some(t) => out.push_str(&value(t).ok_or(ConfigProblem::UnknownToken(t))?),
        }
    }
    Ok(out)
}

/// Splits a line into keyword and arguments like readconf.c: leading blanks skipped, `#` starts
/// a comment, the keyword ends at a blank or `=`, one `=` (with blanks around) may follow.
fn split_line(raw: &str) -> Result<Option<(String, Vec<String>)>, ConfigProblem> {
    let line = raw.trim_matches([' ', '\t', '\r', '\n', '\x0c']);
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let end = line.find([' ', '\t', '=']).unwrap_or(line.len());
    let keyword = line[..end].to_owned();
    let mut rest = line[end..].trim_start_matches([' ', '\t']);
    if let Some(r) = rest.strip_prefix('=') {
        rest = r.trim_start_matches([' ', '\t']);
    }
    Ok(Some((keyword, argv_split(rest)?)))
}

/// OpenSSH `argv_split(.., terminate_on_comment=1)`: blanks separate, `"` and `'` quote, `\`
/// escapes a quote, a backslash or (outside quotes) a space; an unquoted token starting with `#`
/// ends the line.
fn argv_split(s: &str) -> Result<Vec<String>, ConfigProblem> {
    let b: Vec<char> = s.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == ' ' || b[i] == '\t') {
            i += 1;
        }
        if i >= b.len() || b[i] == '#' {
            break;
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while i < b.len() {
            let c = b[i];
            if c == '\\' {
                match b.get(i + 1) {
                    Some(&n)
                        if n == '\'' || n == '"' || n == '\\' || (quote.is_none() && n == ' ') =>
                    {
                        arg.push(n);
                        i += 1;
                    }
                    _ => arg.push(c),
                }
            } else if quote.is_none() && (c == ' ' || c == '\t') {
                break;
            } else if quote.is_none() && (c == '"' || c == '\'') {
                quote = Some(c);
            } else if quote == Some(c) {
                quote = None;
            } else {
                arg.push(c);
            }
            i += 1;
        }
        if quote.is_some() {
            return Err(ConfigProblem::UnterminatedQuote);
        }
        args.push(arg);
    }
    Ok(args)
}

fn parse_item(keyword: &str, args: Vec<String>) -> Result<Kind, ConfigProblem> {
    let lower = keyword.to_ascii_lowercase();
    let missing = || ConfigProblem::MissingArgument(keyword.to_owned());
    let bad = |v: &str| ConfigProblem::BadValue {
        keyword: keyword.to_owned(),
        value: v.to_owned(),
    };
    let one = |args: &[String]| args.first().cloned().ok_or_else(missing);
    match lower.as_str() {
        "host" => {
            if args.is_empty() {
                return Err(missing());
            }
            return Ok(Kind::Host(args));
        }
        "match" => return parse_match(&args).map(Kind::Match),
        "include" => {
            if args.is_empty() {
                return Err(missing());
            }
            return Ok(Kind::Include {
                patterns: args,
                files: Vec::new(),
            });
        }
        _ => {}
    }
    let Some(k) = Keyword::from_lower(&lower) else {
        return Ok(Kind::Other(lower, args));
    };
    let value = match k {
        Keyword::HostName | Keyword::User | Keyword::HostKeyAlias => Value::Text(one(&args)?),
        Keyword::IdentityFile | Keyword::CertificateFile => Value::Text(one(&args)?),
        Keyword::Port => Value::Port(parse_port(&one(&args)?)?),
        Keyword::StrictHostKeyChecking => {
            let v = one(&args)?;
            Value::Strict(StrictHostKeyChecking::parse(&v).ok_or_else(|| bad(&v))?)
        }
        Keyword::UserKnownHostsFile => {
            if args.is_empty() {
                return Err(missing());
            }
            Value::Texts(args)
        }
        Keyword::ProxyJump => {
            let v = one(&args)?;
            Value::Proxy(if v.eq_ignore_ascii_case("none") {
                Proxy::Direct
            } else {
                Proxy::Jump(
                    v.split(',')
                        .map(parse_jump)
                        .collect::<Result<Vec<_>, _>>()?,
                )
            })
        }
        Keyword::ProxyCommand => {
            if args.is_empty() {
                return Err(missing());
            }
            let cmd = args.join(" ");
            Value::Proxy(if cmd.eq_ignore_ascii_case("none") {
                Proxy::Direct
            } else {
                Proxy::Command(cmd)
            })
        }
        Keyword::ForwardAgent | Keyword::IdentitiesOnly | Keyword::BatchMode => {
            let v = one(&args)?;
            Value::Bool(match v.to_ascii_lowercase().as_str() {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => return Err(bad(&v)),
            })
        }
        Keyword::ConnectTimeout => {
            let v = one(&args)?;
            Value::Seconds(if v.eq_ignore_ascii_case("none") {
                0
            } else {
                v.parse().map_err(|_| bad(&v))?
            })
        }
    };
    Ok(Kind::Set(k, value))
}

fn parse_match(args: &[String]) -> Result<Vec<(bool, Criterion)>, ConfigProblem> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let (negated, name) = match a.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, a.as_str()),
        };
        let mut arg = || it.next().cloned().ok_or(ConfigProblem::BadMatch);
        let c = match name.to_ascii_lowercase().as_str() {
            "all" => Criterion::All,
            "canonical" | "final" => Criterion::Unsupported,
            "host" => Criterion::Host(arg()?),
            "originalhost" => Criterion::OriginalHost(arg()?),
            "user" => Criterion::User(arg()?),
            "localuser" => Criterion::LocalUser(arg()?),
            "exec" | "localnetwork" | "tagged" => {
                arg()?;
                Criterion::Unsupported
            }
            _ => return Err(ConfigProblem::BadMatch),
        };
        out.push((negated, c));
    }
    if out.is_empty() {
        return Err(ConfigProblem::BadMatch);
    }
    Ok(out)
}

fn parse_port(v: &str) -> Result<u16, ConfigProblem> {
    match v.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ConfigProblem::BadPort(v.to_owned())),
    }
}

/// `[user@]host[:port]` or `ssh://[user@]host[:port]`; the user ends at the last `@`, an IPv6
/// host is bracketed.
fn parse_jump(spec: &str) -> Result<JumpHost, ConfigProblem> {
    let bad = || ConfigProblem::BadJump(spec.to_owned());
    let s = spec.strip_prefix("ssh://").unwrap_or(spec);
    let s = s.strip_suffix('/').unwrap_or(s);
    let (user, hp) = match s.rsplit_once('@') {
        Some((u, hp)) if !u.is_empty() => (Some(u.to_owned()), hp),
        Some(_) => return Err(bad()),
        None => (None, s),
    };
    let (host, port) = if let Some(r) = hp.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (h, None),
            a => (h, Some(a.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match hp.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hp, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ', '@']) {
        return Err(bad());
    }
    let port = port.map(|p| parse_port(p).map_err(|_| bad())).transpose()?;
    Ok(JumpHost {
        user,
        host: host.to_owned(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(alias: &str) -> Context {
        Context::new(alias, "me", Path::new("/home/me"))
    }

    fn res(text: &str, alias: &str) -> Result<HostConfig, Error> {
        resolve(&ctx(alias), &[&SshConfig::parse(Path::new("t"), text)?])
    }

    #[test]
    fn argv_split_like_openssh() {
        let a = |s: &str| argv_split(s).expect("split");
        assert_eq!(a(r#"a "b c" 'd e' f\ g"#), ["a", "b c", "d e", "f g"]);
        assert_eq!(a(r#""say \"hi\"" x#y # rest"#), ["say \"hi\"", "x#y"]);
        assert_eq!(a(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(a(r#""""#), [""]);
        assert_eq!(a(r"back\slash"), [r"back\slash"]);
        assert_eq!(
            argv_split(r#""open"#),
            Err(ConfigProblem::UnterminatedQuote)
        );
    }

    #[test]
    fn keyword_forms() {
        for line in ["Port 2", "port=2", "PORT = 2", "Port\t=\t2", "  Port=  2  "] {
            assert_eq!(res(line, "h").expect(line).port, 2, "{line}");
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = res("Host a\n\nPort 0\n", "a").expect_err("port 0");
        assert_eq!(
            e.to_string(),
            "t:3: invalid port \"0\": use a number from 1 to 65535"
        );
        let e = res("StrictHostKeyChecking maybe", "a").expect_err("bad value");
        assert_eq!(
            e.to_string(),
            "t:1: invalid value \"maybe\" for StrictHostKeyChecking"
        );
        // Values are checked even in blocks that do not apply, as OpenSSH does.
        assert!(res("Host other\n ProxyJump a@\n", "a").is_err());
        assert!(res("Match\n", "a").is_err());
        assert!(res("Match bogus x\n", "a").is_err());
        let e = res("IdentityFile ~/%z\n", "a").expect_err("token");
        assert_eq!(
            e.to_string(),
            "t:1: unknown token %z (known: %% %C %d %h %i %j %k %L %l %n %p %r %u)"
        );
        assert!(matches!(
            res("IdentityFile ~bob/id\n", "a"),
            Err(Error::Config {
                problem: ConfigProblem::TildeUser(_),
                ..
            })
        ));
        assert!(res("IdentityFile x%\n", "a").is_err());
    }

    #[test]
    fn defaults_and_unknown_keywords() {
        let hc = res("SendEnv LANG\nFrobnicate yes\n", "Box").expect("resolve");
        assert_eq!(hc.hostname, "box");
        assert_eq!(hc.user, "me");
        assert_eq!(hc.port, 22);
        assert_eq!(
            hc.user_known_hosts_files,
            [
                PathBuf::from("/home/me/.ssh/known_hosts"),
                PathBuf::from("/home/me/.ssh/known_hosts2")
            ]
        );
        let kws: Vec<&str> = hc.other.iter().map(|d| d.keyword.as_str()).collect();
        assert_eq!(kws, ["sendenv", "frobnicate"]);
        assert_eq!(hc.other[0].at.line, 1);
    }

    #[test]
    fn unsupported_match_is_reported_and_does_not_apply() {
        let hc = res("Match exec \"true\"\n User x\nMatch final\n User y\n", "a").expect("resolve");
        assert_eq!(hc.user, "me");
        assert_eq!(
            hc.unsupported_match
                .iter()
                .map(|o| o.line)
                .collect::<Vec<_>>(),
            [1, 3]
        );
    }

    #[test]
    fn command_line_options() {
        let o = SshConfig::parse_options(&["Port=7", "User x"], &[]).expect("ok");
        let hc = resolve(&ctx("a"), &[&o]).expect("resolve");
        assert_eq!((hc.port, hc.user.as_str()), (7, "x"));
        let e = SshConfig::parse_options(&["Port=7", "Compression=yes"], &[]).expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "command line:2: option Compression is not supported by opk ssh"
        );
        assert!(SshConfig::parse_options(&["Compression=yes"], &["compression"]).is_ok());
        assert!(SshConfig::parse_options(&["Host=x"], &[]).is_err());
        assert!(SshConfig::parse_options(&["Include=/etc/passwd"], &[]).is_err());
    }

    #[test]
    fn jump_hosts() {
        let j = |s: &str| parse_jump(s);
        assert_eq!(
            j("ssh://a@b@host:22").expect("uri"),
            JumpHost {
                user: Some("a@b".into()),
                host: "host".into(),
                port: Some(22)
            }
        );
        assert_eq!(j("[::1]:2").expect("v6").to_string(), "[::1]:2");
        assert_eq!(j("h").expect("bare").to_string(), "h");
        for bad in ["", "@h", "h:0", "h:x", "[::1", "[::1]x", "a b"] {
            assert!(j(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_in_paths() {
        let c = ctx("Alias")
            .user(Some("ru"))
            .port(Some(2))
            .uid(7)
            .local_hostname("box.lan");
        let cfg = SshConfig::parse(
            Path::new("t"),
            "HostName real\nIdentityFile ~/%h/%p/%r/%u/%n/%d/%i/%l/%L/%k/%%\nCertificateFile ~\n",
        )
        .expect("parse");
        let hc = resolve(&c, &[&cfg]).expect("resolve");
        assert_eq!(
            hc.identity_files,
            [PathBuf::from(
                "/home/me/real/2/ru/me/Alias//home/me/7/box.lan/box/Alias/%"
            )]
        );
        assert_eq!(hc.certificate_files, [PathBuf::from("/home/me")]);
    }
}
