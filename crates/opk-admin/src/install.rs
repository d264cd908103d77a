//! `opk install`: what opkssh's `scripts/install-linux.sh` sets up on a server, pointing at opk.
//!
//! [`plan`] reads the current tree and returns the changes still needed (none on a second run);
//! [`apply`] makes them: the account first, then directories, then every file staged with
//! opk-files and put in place together ([`opk_files::commit_all`]: all or none), the sudoers
//! rule checked by `visudo -cf` before anything is committed.
//!
//! The files and their modes are the installer's: the sshd drop-in
//! `/etc/ssh/sshd_config.d/60-opk-ssh.conf` (`AuthorizedKeysCommand <opk> verify %u %k %t`,
//! `AuthorizedKeysCommandUser opksshuser`), `/etc/opk` 0750 and `policy.d` 0750, `auth_id`,
//! `providers` (opkssh's four default providers when empty) and `config.yml` 0640, all
//! root:opksshuser, `/var/log/opkssh.log` 0660 root:opksshuser, and the sudoers rule letting
//! opksshuser run `opk readhome *`. opk adds its JWKS cache directory
//! (`/var/cache/opk/jwks`, owned by the verify user, which writes it). Existing files are never
//! rewritten, except the drop-in of an earlier install whose AuthorizedKeysCommand runs another
//! program (opkssh): only that program is replaced, and the old file is kept beside it.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

/// The drop-in opkssh's installer writes (its default prefix, 60).
pub const DROP_IN: &str = "60-opk-ssh.conf";
/// The sudoers file opk writes (opkssh's is `/etc/sudoers.d/opkssh`, for its own binary).
pub const SUDOERS: &str = "etc/sudoers.d/opk";
/// opkssh's installer's default providers (its public client IDs, as opk login's built-ins).
pub const DEFAULT_PROVIDERS: &str = "\
https://accounts.google.com 206584157355-7cbe4s640tvm7naoludob4ut1emii7sf.apps.googleusercontent.com 24h
https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0 096ce0a3-5e72-4da8-9c86-12924b294a01 24h
https://gitlab.com 8d8b7024572c7fd501f64374dec6bba37096783dfcd792b3988104be08cb6923 24h
https://issuer.hello.coop app_xejobTKEsDNSRd5vofKB2iay_2rN 24h
";

/// What to install, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// The tree to install into: `/`, or a directory every path is put under (`--root`).
    pub root: PathBuf,
    /// The opk binary sshd and sudo run (absolute; not under `root`).
    pub opk: PathBuf,
    /// The AuthorizedKeysCommandUser; its primary group owns the files verify reads.
    pub user: String,
    /// Create the user (and its group) when missing; otherwise it must exist.
    pub create_user: bool,
    /// Write the sudoers rule for `opk readhome` (home policies read by an unprivileged verify).
    pub home_policy: bool,
    /// The passwd file the user is looked up in (the machine's: sshd runs the command as it).
    pub passwd: PathBuf,
    /// The group file, to see whether the user's group exists before creating the user.
    pub group: PathBuf,
}

impl InstallOptions {
    /// `path` (absolute, as on the installed system) inside the tree.
    pub fn in_tree(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn rooted(&self) -> bool {
        self.root != Path::new("/")
    }
}

/// Who owns a new file or directory; names are resolved when the plan is applied (the user may
/// be created by the same plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// root:root.
    Root,
    /// root and the verify user's group (what the installer gives `/etc/opk`).
    RootGroup,
    /// The verify user and its group (the JWKS cache, which verify writes).
    User,
    /// These ids (a rewritten file keeps its owner).
    Ids(u32, u32),
}

/// One change `opk install` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `groupadd --system NAME`.
    Group(String),
    /// `useradd --system --no-create-home --shell /usr/sbin/nologin --gid NAME NAME`.
    User(String),
    /// Create a directory.
    Dir {
        /// The directory.
        path: PathBuf,
        /// Its mode.
        mode: u32,
        /// Its owner.
        owner: Owner,
    },
    /// Write a file (new, or replacing one whose old content is backed up by another change).
    File {
        /// The file.
        path: PathBuf,
        /// Its content.
        contents: Vec<u8>,
        /// Its mode.
        mode: u32,
        /// Its owner.
        owner: Owner,
        /// What it is, for the one line that says so.
        what: String,
    },
}

impl Change {
    /// The one line `opk install` prints for it; `user` names the verify user.
    pub fn line(&self, user: &str) -> String {
        let owner = |o: &Owner| match o {
            Owner::Root => "root:root".to_owned(),
            Owner::RootGroup => format!("root:{user}"),
            Owner::User => format!("{user}:{user}"),
            Owner::Ids(u, g) => format!("{u}:{g}"),
        };
        match self {
            Self::Group(name) => format!("create group {name} (groupadd --system {name})"),
            Self::User(name) => format!(
                "create user {name} (useradd --system --no-create-home --shell /usr/sbin/nologin --gid {name} {name})"
            ),
            Self::Dir {
                path,
                mode,
                owner: o,
            } => {
                format!("mkdir {} ({mode:04o} {})", path.display(), owner(o))
            }
            Self::File {
                path,
                mode,
                owner: o,
                what,
                ..
            } => format!("write {} ({mode:04o} {}): {what}", path.display(), owner(o)),
        }
    }
}

/// The changes still needed, and what was found and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// In the order they are made.
    pub changes: Vec<Change>,
    /// One line each: what was migrated, kept or needs the admin's attention.
    pub notes: Vec<String>,
}

/// What the drop-in directory holds before the install.
struct DropIns {
    dir: PathBuf,
    /// `(name, contents)` of each `*.conf`, in the order sshd's Include glob reads them.
    files: Vec<(String, String)>,
}

/// One sshd_config directive: its keyword (lower-cased), arguments, 1-based line.
struct Directive {
    keyword: String,
    args: Vec<String>,
    line: usize,
}

/// sshd_config's directives up to the first `Match` (the rest is conditional), `Keyword args` or
/// `Keyword=args`, double quotes grouping an argument.
fn directives(text: &str) -> Vec<Directive> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let end = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let keyword = line[..end].to_ascii_lowercase();
        let rest = line[end..].trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        if keyword == "match" {
            break;
        }
        out.push(Directive {
            keyword,
            args: split_args(rest),
            line: i + 1,
        });
    }
    out
}

fn split_args(rest: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            args.push(chars.by_ref().take_while(|&c| c != '"').collect());
        } else {
            let mut arg = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                arg.push(c);
                chars.next();
            }
            args.push(arg);
        }
    }
    args
}

/// Whether the glob `pattern` (`*`, `?`; neither crosses a `/`) matches `path`.
fn glob_matches(pattern: &[u8], path: &[u8]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_matches(&pattern[1..], path)
                || (path.first().is_some_and(|&c| c != b'/') && glob_matches(pattern, &path[1..]))
        }
        (Some(b'?'), Some(&c)) if c != b'/' => glob_matches(&pattern[1..], &path[1..]),
        (Some(p), Some(c)) if p == c => glob_matches(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// Whether an `Include` of sshd_config reads `drop_in` (a path as on the installed system). A
/// relative pattern is under /etc/ssh, as sshd reads it; with `--root` a pattern may name the
/// tree's path or the installed one.
fn include_covers(opts: &InstallOptions, pattern: &str, drop_in: &str) -> bool {
    let abs = if pattern.starts_with('/') {
        pattern.to_owned()
    } else {
        format!("/etc/ssh/{pattern}")
    };
    let root = opts.root.to_string_lossy();
    let in_tree = abs
        .strip_prefix(root.trim_end_matches('/'))
        .filter(|rest| opts.rooted() && rest.starts_with('/'));
    [Some(abs.as_str()), in_tree]
        .into_iter()
        .flatten()
        .any(|p| glob_matches(p.as_bytes(), drop_in.as_bytes()))
}

/// Characters a path may hold to go on an sshd or sudoers line unquoted: sshd expands `%` and
/// splits on spaces, sudoers gives `,:=\` and spaces meanings of their own.
fn plain_path(path: &Path) -> bool {
    let s = path.as_os_str().as_encoded_bytes();
    s.first() == Some(&b'/')
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b))
}

/// The verify flags that point opk verify at the tree (`--root`): sshd gives the command no
/// environment to carry them.
fn tree_flags(opts: &InstallOptions) -> String {
    let p = |s: &str| opts.in_tree(s).display().to_string();
    format!(
        "--providers-file {} --auth-id-file {} --config-path {} --policy-plugin-dir {} --log-file {} --jwks-cache-dir {}",
        p("/etc/opk/providers"),
        p("/etc/opk/auth_id"),
        p("/etc/opk/config.yml"),
        p("/etc/opk/policy.d"),
        p("/var/log/opkssh.log"),
        p("/var/cache/opk/jwks"),
    )
}

/// The drop-in's two lines, as opkssh's installer writes them, for opk.
pub fn drop_in_lines(opts: &InstallOptions) -> String {
    let flags = if opts.rooted() {
        format!("{} ", tree_flags(opts))
    } else {
        String::new()
    };
    format!(
        "AuthorizedKeysCommand {} verify {flags}%u %k %t\nAuthorizedKeysCommandUser {}\n",
        opts.opk.display(),
        opts.user
    )
}

/// The sudoers file: opkssh's rule, for opk.
pub fn sudoers_text(opts: &InstallOptions) -> String {
    format!(
        "# opk verify runs `sudo -n {opk} readhome <user>` to read a home policy (~/.opk/auth_id) it cannot read itself\n\
         {user} ALL=(ALL) NOPASSWD: {opk} readhome *\n",
        opk = opts.opk.display(),
        user = opts.user
    )
}

fn read_opt(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::InstallRead {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read_drop_ins(dir: &Path) -> Result<DropIns, Error> {
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".conf") && entry.path().is_file() {
                    let text = read_opt(&entry.path())?.unwrap_or_default();
                    files.push((name, text));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::InstallRead {
                path: dir.to_owned(),
                source,
            });
        }
    }
    // glob(3) order in the C locale: byte order.
    files.sort();
    Ok(DropIns {
        dir: dir.to_owned(),
        files,
    })
}

/// The first active `AuthorizedKeysCommand`/`...User` of a file, with its line number.
fn auth_command(text: &str) -> (Option<Directive>, Option<Directive>) {
    let mut command = None;
    let mut user = None;
    for d in directives(text) {
        match d.keyword.as_str() {
            "authorizedkeyscommand" if command.is_none() => command = Some(d),
            "authorizedkeyscommanduser" if user.is_none() => user = Some(d),
            _ => {}
        }
    }
    (command, user)
}

/// `text` with the program of the AuthorizedKeysCommand at `line` replaced by opk (and, with
/// `--root`, the tree's flags after `verify` unless the line has them); every other byte kept.
fn rewrite_command(opts: &InstallOptions, text: &str, line: usize, old: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for (i, raw) in text.split_inclusive('\n').enumerate() {
        if i + 1 != line {
            out.push_str(raw);
            continue;
        }
        let at = raw.find(old).unwrap_or(0);
        let mut rest = raw[at + old.len()..].to_owned();
        if opts.rooted() && !rest.contains("--providers-file") {
            rest = match rest.find(" verify ") {
                Some(v) => format!("{} {} {}", &rest[..v + 7], tree_flags(opts), &rest[v + 8..]),
                None => rest,
            };
        }
        out.push_str(&raw[..at]);
        out.push_str(&opts.opk.display().to_string());
        out.push_str(&rest);
    }
    out
}

/// A backup name beside `path` that sshd's `*.conf` glob (and sudo's includedir, which skips
/// names with a dot) never reads, and that is not taken yet.
fn backup_path(path: &Path) -> PathBuf {
    let base = format!("{}.opkssh-backup", path.display());
    let mut candidate = PathBuf::from(&base);
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{n}"));
        n += 1;
    }
    candidate
}

/// `name`'s uid and primary gid in a passwd file.
fn account(passwd: &Path, name: &str) -> Option<(u32, u32)> {
    opk_files::lookup_account(passwd, name).map(|a| (a.uid, a.gid))
}

fn group_exists(group: &Path, name: &str) -> bool {
    std::fs::read_to_string(group)
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(name))
}

/// The changes still needed to install opk into `opts.root`, computed from what is there.
pub fn plan(opts: &InstallOptions) -> Result<Plan, Error> {
    for path in [&opts.opk, &opts.root] {
        if !plain_path(path) {
            return Err(Error::InstallBadPath(path.clone()));
        }
    }
    // The name goes on an sshd line and a sudoers line: useradd's rule for names, nothing else.
    let valid_user = opts.user.len() <= 32
        && opts
            .user
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && opts
            .user
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
    if !valid_user {
        return Err(Error::InstallBadUser(opts.user.clone()));
    }
    let mut plan = Plan::default();
    binary_warnings(&mut plan, opts);
    // The account.
    if account(&opts.passwd, &opts.user).is_none() {
        if !opts.create_user {
            return Err(Error::InstallNoUser {
                name: opts.user.clone(),
                passwd: opts.passwd.clone(),
            });
        }
        if !group_exists(&opts.group, &opts.user) {
            plan.changes.push(Change::Group(opts.user.clone()));
        }
        plan.changes.push(Change::User(opts.user.clone()));
    }

    // sshd: the config must read the drop-in directory, and nothing read before opk's drop-in
    // may set the command (sshd keeps the first value it reads).
    let sshd_config = opts.in_tree("/etc/ssh/sshd_config");
    let config =
        read_opt(&sshd_config)?.ok_or_else(|| Error::InstallNoSshdConfig(sshd_config.clone()))?;
    let drop_ins = read_drop_ins(&opts.in_tree("/etc/ssh/sshd_config.d"))?;
    // An earlier install's drop-in (opkssh may have chosen another prefix) is the one to update.
    let name = drop_ins
        .files
        .iter()
        .map(|(n, _)| n.as_str())
        .find(|n| n.ends_with("opk-ssh.conf"))
        .unwrap_or(DROP_IN)
        .to_owned();
    let installed = format!("/etc/ssh/sshd_config.d/{name}");
    let config_lines = directives(&config);
    let include = config_lines.iter().find(|d| {
        d.keyword == "include" && d.args.iter().any(|a| include_covers(opts, a, &installed))
    });
    let Some(include) = include else {
        return Err(Error::InstallNoInclude {
            config: sshd_config,
            dir: drop_ins.dir,
        });
    };
    if let Some(d) = config_lines
        .iter()
        .find(|d| d.line < include.line && d.keyword.starts_with("authorizedkeyscommand"))
    {
        return Err(Error::InstallConflict {
            path: sshd_config,
            line: d.line,
        });
    }
    for (other, text) in drop_ins.files.iter().take_while(|(n, _)| *n < name) {
        if let (Some(d), _) | (None, Some(d)) = auth_command(text) {
            return Err(Error::InstallConflict {
                path: drop_ins.dir.join(other),
                line: d.line,
            });
        }
    }
    push_dir(
        &mut plan,
        opts,
        "/etc/ssh/sshd_config.d",
        0o755,
        Owner::Root,
    );
    let drop_in = drop_ins.dir.join(&name);
    match drop_ins.files.iter().find(|(n, _)| *n == name) {
        None => plan.changes.push(Change::File {
            path: drop_in,
            contents: drop_in_lines(opts).into_bytes(),
            mode: 0o644,
            owner: Owner::Root,
            what: format!(
                "AuthorizedKeysCommand {} verify ..., AuthorizedKeysCommandUser {}",
                opts.opk.display(),
                opts.user
            ),
        }),
        Some((_, text)) => plan_drop_in(&mut plan, opts, &drop_in, text)?,
    }

    // The /etc/opk tree, created as the installer creates it; what exists is kept as it is.
    push_dir(&mut plan, opts, "/etc/opk", 0o750, Owner::RootGroup);
    push_dir(
        &mut plan,
        opts,
        "/etc/opk/policy.d",
        0o750,
        Owner::RootGroup,
    );
    for (file, what) in [
        (
            "/etc/opk/auth_id",
            "system policy (empty: add rows with opk add)",
        ),
        ("/etc/opk/config.yml", "server config (empty)"),
    ] {
        push_file(&mut plan, opts, file, "", 0o640, Owner::RootGroup, what);
    }
    let providers = opts.in_tree("/etc/opk/providers");
    match std::fs::metadata(&providers) {
        // The installer fills an empty providers file, as one it creates.
        Ok(meta) if meta.len() == 0 => plan.changes.push(Change::File {
            path: providers,
            contents: DEFAULT_PROVIDERS.into(),
            mode: meta.mode() & 0o7777,
            owner: Owner::Ids(meta.uid(), meta.gid()),
            what: "opkssh's default providers (the file was empty)".into(),
        }),
        Ok(_) => plan
            .notes
            .push(format!("kept {} unchanged", providers.display())),
        Err(_) => push_file(
            &mut plan,
            opts,
            "/etc/opk/providers",
            DEFAULT_PROVIDERS,
            0o640,
            Owner::RootGroup,
            "opkssh's default providers (Google, Microsoft, GitLab, hello)",
        ),
    }

    // verify's log (opkssh's file and mode) and opk's JWKS cache, which verify writes.
    push_dir(&mut plan, opts, "/var", 0o755, Owner::Root);
    push_dir(&mut plan, opts, "/var/log", 0o755, Owner::Root);
    push_file(
        &mut plan,
        opts,
        "/var/log/opkssh.log",
        "",
        0o660,
        Owner::RootGroup,
        "verify's log (empty)",
    );
    push_dir(&mut plan, opts, "/var/cache", 0o755, Owner::Root);
    push_dir(&mut plan, opts, "/var/cache/opk", 0o755, Owner::Root);
    push_dir(&mut plan, opts, "/var/cache/opk/jwks", 0o755, Owner::User);

    if opts.home_policy {
        plan_sudoers(&mut plan, opts)?;
    }
    Ok(plan)
}

/// An existing drop-in: unchanged when it runs opk already; otherwise the program is replaced
/// (opkssh's install: migrated) and the old file kept beside it.
fn plan_drop_in(
    plan: &mut Plan,
    opts: &InstallOptions,
    path: &Path,
    text: &str,
) -> Result<(), Error> {
    let (command, user) = auth_command(text);
    if let Some(u) = &user
        && u.args.first().is_some_and(|found| *found != opts.user)
    {
        return Err(Error::InstallOtherUser {
            path: path.to_owned(),
            found: u.args.first().cloned().unwrap_or_default(),
            wanted: opts.user.clone(),
        });
    }
    let meta = std::fs::metadata(path).map_err(|source| Error::InstallRead {
        path: path.to_owned(),
        source,
    })?;
    let ids = Owner::Ids(meta.uid(), meta.gid());
    let mode = meta.mode() & 0o7777;
    let old = command.as_ref().and_then(|c| c.args.first().cloned());
    let new_text = match (&command, &old) {
        (Some(_), Some(old)) if Path::new(old) == opts.opk && user.is_some() => {
            plan.notes
                .push(format!("kept {} (it runs {old})", path.display()));
            return Ok(());
        }
        (Some(c), Some(old)) if Path::new(old) != opts.opk => {
            let from = if Path::new(old)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("opkssh"))
            {
                "migrating from opkssh"
            } else {
                "updating"
            };
            plan.notes.push(format!(
                "{from}: {} line {} runs {old}; only that program becomes {} (the /etc/opk files are read as they are)",
                path.display(),
                c.line,
                opts.opk.display()
            ));
            let mut t = rewrite_command(opts, text, c.line, old);
            if user.is_none() {
                t.push_str(&format!("AuthorizedKeysCommandUser {}\n", opts.user));
            }
            t
        }
        // No active command (or no user line): add opk's lines, as the installer appends them.
        _ => {
            let mut t = text.to_owned();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            let lines = drop_in_lines(opts);
            let (command_line, user_line) = lines.split_once('\n').unwrap_or((&lines, ""));
            if command.is_none() {
                t.push_str(command_line);
                t.push('\n');
            }
            if user.is_none() {
                t.push_str(user_line);
            }
            t
        }
    };
    let backup = backup_path(path);
    plan.changes.push(Change::File {
        path: backup.clone(),
        contents: text.as_bytes().to_vec(),
        mode,
        owner: ids,
        what: format!("backup of the old {}", path.display()),
    });
    plan.changes.push(Change::File {
        path: path.to_owned(),
        contents: new_text.into_bytes(),
        mode,
        owner: ids,
        what: format!("AuthorizedKeysCommand runs {}", opts.opk.display()),
    });
    Ok(())
}

/// sshd runs the command only if it and every directory above it are root's and not writable
/// by group or others, and the user must be able to reach it; said before anything is changed.
fn binary_warnings(plan: &mut Plan, opts: &InstallOptions) {
    for dir in opts.opk.ancestors() {
        let Ok(meta) = std::fs::metadata(dir) else {
            plan.notes
                .push(format!("warning: {} does not exist", dir.display()));
            return;
        };
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            plan.notes.push(format!(
                "warning: sshd refuses to run {} (it checks {}: owner uid {}, mode {:04o}; it must be root's and not writable by group or others)",
                opts.opk.display(),
                dir.display(),
                meta.uid(),
                meta.mode() & 0o7777
            ));
        }
        // Others' execute bit: the user is not root, and the group is not the user's either.
        if meta.mode() & 0o001 == 0 && opts.user != "root" {
            plan.notes.push(format!(
                "warning: {} cannot run {}: {} has no execute bit for others; install opk under /usr/local/bin",
                opts.user,
                opts.opk.display(),
                dir.display()
            ));
            return;
        }
    }
}

fn plan_sudoers(plan: &mut Plan, opts: &InstallOptions) -> Result<(), Error> {
    push_dir(plan, opts, "/etc/sudoers.d", 0o755, Owner::Root);
    let path = opts.in_tree(SUDOERS);
    let want = sudoers_text(opts);
    match read_opt(&path)? {
        Some(have) if have == want => plan.notes.push(format!("kept {}", path.display())),
        have => {
            if let Some(have) = have {
                plan.changes.push(Change::File {
                    path: backup_path(&path),
                    contents: have.into_bytes(),
                    mode: 0o440,
                    owner: Owner::Root,
                    what: format!("backup of the old {}", path.display()),
                });
            }
            plan.changes.push(Change::File {
                path,
                contents: want.into_bytes(),
                mode: 0o440,
                owner: Owner::Root,
                what: format!(
                    "{} may run `sudo -n {} readhome <user>`",
                    opts.user,
                    opts.opk.display()
                ),
            });
        }
    }
    let opkssh = opts.in_tree("/etc/sudoers.d/opkssh");
    if opkssh.exists() {
        plan.notes.push(format!(
            "kept {} (opkssh's rule, for the opkssh binary; remove it once opkssh is gone)",
            opkssh.display()
        ));
    }
    if !opts.rooted() && find_program("sudo").is_none() {
        plan.notes.push(
            "sudo is not installed: verify can read home policies only where it may read them itself (install sudo)".into(),
        );
    }
    Ok(())
}

fn push_dir(plan: &mut Plan, opts: &InstallOptions, path: &str, mode: u32, owner: Owner) {
    let path = opts.in_tree(path);
    if !path.exists()
        && !plan
            .changes
            .iter()
            .any(|c| matches!(c, Change::Dir { path: p, .. } if *p == path))
    {
        plan.changes.push(Change::Dir { path, mode, owner });
    }
}

fn push_file(
    plan: &mut Plan,
    opts: &InstallOptions,
    path: &str,
    contents: &str,
    mode: u32,
    owner: Owner,
    what: &str,
) {
    let path = opts.in_tree(path);
    if path.exists() {
        plan.notes
            .push(format!("kept {} unchanged", path.display()));
    } else {
        plan.changes.push(Change::File {
            path,
            contents: contents.into(),
            mode,
            owner,
            what: what.into(),
        });
    }
}

/// `name` in PATH, then in the system directories (installers run with a short PATH).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn run(program: &str, args: &[&str]) -> Result<(), Error> {
    let command = format!("{program} {}", args.join(" "));
    let out = Command::new(find_program(program).unwrap_or_else(|| program.into()))
        .args(args)
        .output()
        .map_err(|e| Error::InstallCommand {
            command: command.clone(),
            output: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::InstallCommand {
            command,
            output: String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " "),
        })
    }
}

/// Makes the plan's changes: the account, then directories, then all files at once.
pub fn apply(opts: &InstallOptions, plan: &Plan) -> Result<(), Error> {
    if plan.changes.is_empty() {
        return Ok(());
    }
    if !rustix::process::geteuid().is_root() {
        return Err(Error::InstallNotRoot);
    }
    for change in &plan.changes {
        match change {
            Change::Group(name) => run("groupadd", &["--system", name])?,
            Change::User(name) => run(
                "useradd",
                &[
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    "--gid",
                    name,
                    name,
                ],
            )?,
            _ => {}
        }
    }
    let (uid, gid) = account(&opts.passwd, &opts.user).ok_or_else(|| Error::InstallNoUser {
        name: opts.user.clone(),
        passwd: opts.passwd.clone(),
    })?;
    let ids = |o: &Owner| match *o {
        Owner::Root => (0, 0),
        Owner::RootGroup => (0, gid),
        Owner::User => (uid, gid),
        Owner::Ids(u, g) => (u, g),
    };
    for change in &plan.changes {
        if let Change::Dir { path, mode, owner } = change {
            let err = |source| Error::InstallDir {
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(path).map_err(err)?;
            let (u, g) = ids(owner);
            std::os::unix::fs::chown(path, Some(u), Some(g)).map_err(err)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)).map_err(err)?;
        }
    }
    let mut staged = Vec::new();
    for change in &plan.changes {
        if let Change::File {
            path,
            contents,
            mode,
            owner,
            ..
        } = change
        {
            let (u, g) = ids(owner);
            let file = opk_files::stage(path, contents, *mode)
                .and_then(|s| s.with_owner(u, g))
                .map_err(Error::InstallWrite)?;
            if path.ends_with(SUDOERS)
                && let Some(visudo) = find_program("visudo")
            {
                check_sudoers(&visudo, file.path())?;
            }
            staged.push(file);
        }
    }
    opk_files::commit_all(staged).map_err(Error::InstallWrite)
}

fn check_sudoers(visudo: &Path, staged: &Path) -> Result<(), Error> {
    let out = Command::new(visudo)
        .arg("-cf")
        .arg(staged)
        .output()
        .map_err(|e| Error::InstallSudoers(e.to_string()))?;
    if out.status.success() {
        Ok(())
    } else {
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        Err(Error::InstallSudoers(text.trim().replace('\n', " ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree {
        dir: tempfile::TempDir,
        opts: InstallOptions,
    }

    /// A tree with an sshd_config that includes the drop-ins and a passwd holding the user.
    fn tree(sshd_config: &str) -> Tree {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc/ssh")).expect("mkdir");
        std::fs::write(root.join("etc/ssh/sshd_config"), sshd_config).expect("w");
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nopksshuser:x:0:0::/nonexistent:/usr/sbin/nologin\n",
        )
        .expect("w");
        let opts = InstallOptions {
            root,
            opk: "/usr/local/bin/opk".into(),
            user: "opksshuser".into(),
            create_user: false,
            home_policy: true,
            passwd: passwd.clone(),
            group: dir.path().join("group"),
        };
        Tree { dir, opts }
    }

    const DEBIAN: &str = "Include /etc/ssh/sshd_config.d/*.conf\nKbdInteractiveAuthentication no\n";

    fn paths(plan: &Plan) -> Vec<String> {
        plan.changes
            .iter()
            .map(|c| match c {
                Change::Dir { path, .. } | Change::File { path, .. } => path.display().to_string(),
                Change::Group(n) | Change::User(n) => n.clone(),
            })
            .collect()
    }

    #[test]
    fn fresh_tree_gets_opkssh_files_and_a_second_plan_is_empty() {
        let t = tree(DEBIAN);
        let plan = plan(&t.opts).expect("plan");
        let r = t.opts.root.display().to_string();
        let want: Vec<String> = [
            "/etc/ssh/sshd_config.d",
            "/etc/ssh/sshd_config.d/60-opk-ssh.conf",
            "/etc/opk",
            "/etc/opk/policy.d",
            "/etc/opk/auth_id",
            "/etc/opk/config.yml",
            "/etc/opk/providers",
            "/var",
            "/var/log",
            "/var/log/opkssh.log",
            "/var/cache",
            "/var/cache/opk",
            "/var/cache/opk/jwks",
            "/etc/sudoers.d",
            "/etc/sudoers.d/opk",
        ]
        .iter()
        .map(|p| format!("{r}{p}"))
        .collect();
        assert_eq!(paths(&plan), want, "{:#?}", plan.changes);
        let modes: Vec<(String, u32, Owner)> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Dir { path, mode, owner }
                | Change::File {
                    path, mode, owner, ..
                } => Some((
                    path.strip_prefix(&t.opts.root)
                        .expect("in tree")
                        .display()
                        .to_string(),
                    *mode,
                    *owner,
                )),
                _ => None,
            })
            .collect();
        for (path, mode, owner) in [
            ("etc/opk", 0o750, Owner::RootGroup),
            ("etc/opk/policy.d", 0o750, Owner::RootGroup),
            ("etc/opk/auth_id", 0o640, Owner::RootGroup),
            ("etc/opk/providers", 0o640, Owner::RootGroup),
            ("etc/opk/config.yml", 0o640, Owner::RootGroup),
            ("var/log/opkssh.log", 0o660, Owner::RootGroup),
            ("var/cache/opk/jwks", 0o755, Owner::User),
            ("etc/sudoers.d/opk", 0o440, Owner::Root),
            ("etc/ssh/sshd_config.d/60-opk-ssh.conf", 0o644, Owner::Root),
        ] {
            assert!(
                modes.contains(&(path.into(), mode, owner)),
                "{path}: {modes:?}"
            );
        }
        let drop_in = plan
            .changes
            .iter()
            .find_map(|c| match c {
                Change::File { path, contents, .. } if path.ends_with(DROP_IN) => {
                    Some(String::from_utf8(contents.clone()).expect("utf8"))
                }
                _ => None,
            })
            .expect("drop-in");
        let flags = tree_flags(&t.opts);
        assert_eq!(
            drop_in,
            format!(
                "AuthorizedKeysCommand /usr/local/bin/opk verify {flags} %u %k %t\nAuthorizedKeysCommandUser opksshuser\n"
            )
        );
        assert!(flags.contains(&format!("--providers-file {r}/etc/opk/providers")));

        apply(&t.opts, &plan).expect("apply");
        let again = super::plan(&t.opts).expect("plan");
        assert!(again.changes.is_empty(), "{:#?}", again.changes);
        assert!(
            std::fs::read_to_string(t.opts.in_tree("/etc/sudoers.d/opk"))
                .expect("sudoers")
                .contains("opksshuser ALL=(ALL) NOPASSWD: /usr/local/bin/opk readhome *\n")
        );
        let meta = std::fs::metadata(t.opts.in_tree("/etc/opk/auth_id")).expect("m");
        assert_eq!(meta.mode() & 0o7777, 0o640);
        drop(t.dir);
    }

    #[test]
    fn the_drop_in_line_without_root_is_opkssh_s_with_opk() {
        let t = tree(DEBIAN);
        let opts = InstallOptions {
            root: "/".into(),
            ..t.opts.clone()
        };
        assert_eq!(
            drop_in_lines(&opts),
            "AuthorizedKeysCommand /usr/local/bin/opk verify %u %k %t\nAuthorizedKeysCommandUser opksshuser\n"
        );
        assert_eq!(
            opts.in_tree("/etc/opk/auth_id"),
            Path::new("/etc/opk/auth_id")
        );
    }

    #[test]
    fn an_opkssh_install_is_migrated_keeping_every_other_byte() {
        let t = tree(DEBIAN);
        let d = t.opts.in_tree("/etc/ssh/sshd_config.d");
        std::fs::create_dir_all(&d).expect("mkdir");
        let old = "#AuthorizedKeysCommand /usr/bin/old verify %u %k %t\nAuthorizedKeysCommand /usr/local/bin/opkssh verify %u %k %t\nAuthorizedKeysCommandUser opksshuser\n";
        std::fs::write(d.join(DROP_IN), old).expect("w");
        std::fs::create_dir_all(t.opts.in_tree("/etc/opk")).expect("mkdir");
        std::fs::write(t.opts.in_tree("/etc/opk/providers"), "https://x y 24h\n").expect("w");
        std::fs::write(t.opts.in_tree("/etc/opk/auth_id"), "alice a@x https://x\n").expect("w");
        let opts = InstallOptions {
            root: "/".into(),
            ..t.opts.clone()
        };
        // The unrooted rewrite (pure): only the program changes.
        assert_eq!(
            rewrite_command(&opts, old, 2, "/usr/local/bin/opkssh"),
            old.replace("/usr/local/bin/opkssh", "/usr/local/bin/opk")
        );
        let plan = plan(&t.opts).expect("plan");
        assert!(
            plan.notes
                .iter()
                .any(|n| n.starts_with("migrating from opkssh:")),
            "{:?}",
            plan.notes
        );
        for kept in ["providers", "auth_id"] {
            assert!(
                plan.notes
                    .iter()
                    .any(|n| n.ends_with(&format!("etc/opk/{kept} unchanged")))
            );
        }
        let files: Vec<&PathBuf> = plan
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::File { path, .. } => Some(path),
                _ => None,
            })
            .collect();
        assert!(
            !files
                .iter()
                .any(|p| p.ends_with("providers") || p.ends_with("auth_id"))
        );
        apply(&t.opts, &plan).expect("apply");
        let backup = d.join(format!("{DROP_IN}.opkssh-backup"));
        assert_eq!(std::fs::read_to_string(&backup).expect("backup"), old);
        let new = std::fs::read_to_string(d.join(DROP_IN)).expect("new");
        assert_eq!(
            new,
            format!(
                "#AuthorizedKeysCommand /usr/bin/old verify %u %k %t\nAuthorizedKeysCommand /usr/local/bin/opk verify {} %u %k %t\nAuthorizedKeysCommandUser opksshuser\n",
                tree_flags(&t.opts)
            )
        );
        assert_eq!(
            std::fs::read_to_string(t.opts.in_tree("/etc/opk/providers")).expect("r"),
            "https://x y 24h\n"
        );
        assert!(super::plan(&t.opts).expect("plan").changes.is_empty());
    }

    #[test]
    fn refuses_configs_that_would_not_use_the_drop_in() {
        let t = tree("PasswordAuthentication no\n");
        assert!(matches!(plan(&t.opts), Err(Error::InstallNoInclude { .. })));
        let msg = plan(&t.opts).expect_err("no include").to_string();
        assert!(
            msg.contains("Include /etc/ssh/sshd_config.d/*.conf"),
            "{msg}"
        );

        let t = tree("AuthorizedKeysCommand /bin/x\nInclude sshd_config.d/*.conf\n");
        assert!(matches!(
            plan(&t.opts),
            Err(Error::InstallConflict { line: 1, .. })
        ));
        // After the Include it is fine: the drop-in's value is read first.
        let t = tree("Include=\"sshd_config.d/*.conf\"\nAuthorizedKeysCommand /bin/x\n");
        plan(&t.opts).expect("plan");
        // An Include inside a Match block does not count.
        let t = tree("Match user x\n Include /etc/ssh/sshd_config.d/*.conf\n");
        assert!(matches!(plan(&t.opts), Err(Error::InstallNoInclude { .. })));

        let t = tree(DEBIAN);
        let d = t.opts.in_tree("/etc/ssh/sshd_config.d");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(
            d.join("50-other.conf"),
            "# x\nAuthorizedKeysCommandUser nobody\n",
        )
        .expect("w");
        std::fs::write(d.join("70-late.conf"), "AuthorizedKeysCommand /bin/late\n").expect("w");
        match plan(&t.opts) {
            Err(Error::InstallConflict { path, line: 2 }) => {
                assert!(path.ends_with("50-other.conf"))
            }
            other => panic!("{other:?}"),
        }

        std::fs::remove_file(t.opts.in_tree("/etc/ssh/sshd_config")).expect("rm");
        assert!(matches!(plan(&t.opts), Err(Error::InstallNoSshdConfig(_))));
    }

    #[test]
    fn refuses_unusable_paths_users_and_another_user_s_drop_in() {
        let t = tree(DEBIAN);
        for bad in ["/opt/my opk", "/opt/opk%u", "relative/opk", "/opt/a,b"] {
            let opts = InstallOptions {
                opk: bad.into(),
                ..t.opts.clone()
            };
            assert!(
                matches!(plan(&opts), Err(Error::InstallBadPath(_))),
                "{bad}"
            );
        }
        for bad in ["", "Opk", "a b", "x ALL=(ALL) ALL", "-x", "1user"] {
            let opts = InstallOptions {
                user: bad.into(),
                ..t.opts.clone()
            };
            assert!(
                matches!(plan(&opts), Err(Error::InstallBadUser(_))),
                "{bad:?}"
            );
        }
        let opts = InstallOptions {
            user: "nosuchuser".into(),
            ..t.opts.clone()
        };
        assert!(matches!(plan(&opts), Err(Error::InstallNoUser { .. })));
        // Created when allowed, with its group unless the group exists.
        let opts = InstallOptions {
            create_user: true,
            ..opts
        };
        let p = plan(&opts).expect("plan");
        assert_eq!(
            &p.changes[..2],
            &[
                Change::Group("nosuchuser".into()),
                Change::User("nosuchuser".into())
            ]
        );
        std::fs::write(&opts.group, "nosuchuser:x:999:\n").expect("w");
        assert_eq!(
            plan(&opts).expect("plan").changes[0],
            Change::User("nosuchuser".into())
        );

        let d = t.opts.in_tree("/etc/ssh/sshd_config.d");
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(
            d.join(DROP_IN),
            "AuthorizedKeysCommand /x verify %u %k %t\nAuthorizedKeysCommandUser someone\n",
        )
        .expect("w");
        assert!(matches!(plan(&t.opts), Err(Error::InstallOtherUser { .. })));
    }

    #[test]
    fn globs_and_includes() {
        assert!(glob_matches(
            b"/etc/ssh/sshd_config.d/*.conf",
            b"/etc/ssh/sshd_config.d/60-opk-ssh.conf"
        ));
        assert!(glob_matches(
            b"/etc/ssh/*/6?-opk-ssh.conf",
            b"/etc/ssh/sshd_config.d/60-opk-ssh.conf"
        ));
        assert!(!glob_matches(
            b"/etc/ssh/*.conf",
            b"/etc/ssh/sshd_config.d/60-opk-ssh.conf"
        ));
        assert!(!glob_matches(
            b"/etc/ssh/sshd_config.d/*.cfg",
            b"/etc/ssh/sshd_config.d/60-opk-ssh.conf"
        ));
        let t = tree(DEBIAN);
        let r = t.opts.root.display().to_string();
        let d = "/etc/ssh/sshd_config.d/60-opk-ssh.conf";
        assert!(include_covers(
            &t.opts,
            &format!("{r}/etc/ssh/sshd_config.d/*.conf"),
            d
        ));
        assert!(include_covers(&t.opts, "sshd_config.d/*", d));
        assert!(!include_covers(&t.opts, "/other/sshd_config.d/*.conf", d));
    }
}
