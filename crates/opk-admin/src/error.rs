//! The crate's one error type. Each variant says its cause in its message or exposes it as
//! `source`, never both.

use std::path::PathBuf;

/// Errors of the admin commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy file is over opk-policy's size limit.
    #[error("Failed to add to policy: {path} is over {max} bytes")]
    PolicyTooLarge {
        /// The policy file.
        path: PathBuf,
        /// The limit.
        max: usize,
    },
    /// The policy file exists but cannot be read.
    #[error("Failed to add to policy: cannot read {path}")]
    ReadPolicy {
        /// The policy file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The row is invalid (principal, identity or issuer), or the result would be too large.
    #[error("Failed to add to policy")]
    Row(#[source] opk_policy::Error),
    /// The policy file's directory cannot be created.
    #[error("Failed to add to policy: cannot create {dir}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The new policy cannot be written.
    #[error("Failed to add to policy")]
    WritePolicy(#[source] opk_files::Error),
    /// The system policy is missing (an installation problem `add` does not paper over).
    #[error(
        "Failed to add to policy: {0} does not exist; create it root:opksshuser mode 0640 (the installer does) or pass --auth-id-file"
    )]
    NoSystemPolicy(PathBuf),
    /// The system policy cannot be opened for a reason other than permissions.
    #[error("Failed to add to policy: cannot open {path}")]
    OpenSystemPolicy {
        /// The system policy.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The system policy is not writable and the principal has no home for a home policy.
    #[error(
        "Failed to add to policy: {system} is not writable and {principal:?} has no {} entry for a home policy",
        passwd.display()
    )]
    NoHome {
        /// The system policy.
        system: PathBuf,
        /// The principal.
        principal: String,
        /// The passwd file searched.
        passwd: PathBuf,
    },
    /// `opk permissions fix` could not make a change.
    #[error("cannot {action}")]
    Fix {
        /// The change, as `fix --dry-run` shows it.
        action: String,
        /// Why.
        source: std::io::Error,
    },
    /// `opk permissions fix` could not create the missing system policy.
    #[error("cannot create the system policy")]
    Create(#[source] opk_files::Error),
    /// `opk audit` cannot read the providers file, so no row can be checked.
    #[error("cannot read {path}")]
    ReadProviders {
        /// The providers file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// readhome: not a name opkssh's readhome accepts (`^[a-z0-9_.-]+$`).
    #[error("{0:?} is not a valid user name (lower-case letters, digits, _ . - only)")]
    HomeBadName(String),
    /// No such user in the passwd file.
    #[error("no user {name:?} in {}", passwd.display())]
    HomeNoUser {
        /// The name.
        name: String,
        /// The passwd file.
        passwd: PathBuf,
    },
    /// readhome: the passwd file could be written by someone other than root.
    #[error("refusing {} (only a passwd file only root can write may name homes)", path.display())]
    HomeUntrustedPasswd {
        /// The passwd file.
        path: PathBuf,
        /// Why.
        source: opk_files::TrustProblem,
    },
    /// It cannot be opened (a symlink swapped in after the type check gives ELOOP) or read.
    #[error("cannot read {path}")]
    HomeRead {
        /// The policy file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a regular file: a symlink, a FIFO, a device, a directory (hazard R-3).
    #[error("{path} is {kind}, not a regular file")]
    HomeNotRegular {
        /// The policy file.
        path: PathBuf,
        /// What it is instead.
        kind: opk_files::FileKind,
    },
    /// Owned by another uid, or by a uid whose first passwd name is not the user's.
    #[error("{path} is owned by uid {uid}, not by {name}; fix: chown {name} {path}")]
    HomeOwner {
        /// The policy file.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// The user.
        name: String,
    },
    /// Mode other than 0600.
    #[error("{path} has mode {mode:04o}, not 0600; fix: chmod 0600 {path}")]
    HomeMode {
        /// The policy file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Over the policy size cap.
    #[error("{path} is over {max} bytes")]
    HomeTooLarge {
        /// The policy file.
        path: PathBuf,
        /// The cap.
        max: usize,
    },
    /// `opk inspect`: the input is not an SSH certificate.
    #[error("not an SSH certificate (give a -cert.pub file, its line, or - for stdin)")]
    Inspect(#[source] opk_sshcert::Error),
    /// `opk inspect`: the certificate's PK Token does not parse.
    #[error("the certificate's openpubkey-pkt is not a PK Token")]
    InspectToken(#[source] opk_pktoken::Error),
    /// `opk install`: a file or directory it must look at cannot be read.
    #[error("cannot read {path}")]
    InstallRead {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `opk install`: a path that cannot go on an sshd or sudoers line as it is.
    #[error(
        "{0} cannot go on an sshd_config or sudoers line (absolute, only letters, digits and / . _ + -); install opk (or the tree) at such a path"
    )]
    InstallBadPath(PathBuf),
    /// `opk install`: not a user name it puts on sshd and sudoers lines.
    #[error(
        "{0:?} is not a user name opk install uses (lower-case letters, digits, _ and -, starting with a letter or _, at most 32); pass --user NAME"
    )]
    InstallBadUser(String),
    /// `opk install`: no such user, and it may not be created (`--root`).
    #[error(
        "no user {name:?} in {}; create it (useradd --system --no-create-home --shell /usr/sbin/nologin {name}) or pass --user NAME of an existing one",
        passwd.display()
    )]
    InstallNoUser {
        /// The user.
        name: String,
        /// The passwd file searched.
        passwd: PathBuf,
    },
    /// `opk install`: no sshd_config.
    #[error(
        "{0} does not exist; install openssh-server (or pass --root DIR of a tree that has etc/ssh/sshd_config)"
    )]
    InstallNoSshdConfig(PathBuf),
    /// `opk install`: sshd_config does not read the drop-in directory.
    #[error(
        "{} does not Include {}/*.conf, so sshd would never read opk's drop-in; add the line `Include /etc/ssh/sshd_config.d/*.conf` at the top of it and run opk install again",
        config.display(), dir.display()
    )]
    InstallNoInclude {
        /// sshd_config.
        config: PathBuf,
        /// The drop-in directory.
        dir: PathBuf,
    },
    /// `opk install`: a file sshd reads before opk's drop-in sets the command or its user.
    #[error(
        "{} line {line} sets AuthorizedKeysCommand(User) and sshd reads it before opk's drop-in (the first value wins); comment it out and run opk install again",
        path.display()
    )]
    InstallConflict {
        /// The file.
        path: PathBuf,
        /// The line.
        line: usize,
    },
    /// `opk install`: the existing drop-in runs the command as another user.
    #[error(
        "{} runs the command as {found:?}, not {wanted:?}; pass --user {found} to keep it",
        path.display()
    )]
    InstallOtherUser {
        /// The drop-in.
        path: PathBuf,
        /// Its AuthorizedKeysCommandUser.
        found: String,
        /// The user asked for.
        wanted: String,
    },
    /// `opk install`: groupadd or useradd failed.
    #[error("`{command}` failed: {output}; create the user yourself and run opk install again")]
    InstallCommand {
        /// The command line.
        command: String,
        /// Its error output.
        output: String,
    },
    /// `opk install`: a directory cannot be created or given its owner and mode.
    #[error("cannot create {path}")]
    InstallDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `opk install`: the files cannot be written (none of them was put in place).
    #[error("nothing written")]
    InstallWrite(#[source] opk_files::Error),
    /// `opk install`: visudo refused the sudoers rule.
    #[error("visudo -cf refused the sudoers rule ({0}); nothing written")]
    InstallSudoers(String),
    /// `opk install` changes system files.
    #[error("opk install must run as root (see what it would do with --dry-run)")]
    InstallNotRoot,
}
