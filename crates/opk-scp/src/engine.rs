//! The copy engine: uploads and downloads over one SFTP session, scp's rules for targets
//! (existing directory: copy into it; otherwise: copy to that name), recursion, `-p`.
//! Throughput: russh-sftp's `File` keeps many reads/writes outstanding; we feed it large buffers.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh_sftp::client::SftpSession;
use russh_sftp::client::fs::Metadata;
use russh_sftp::protocol::{FileAttributes, OpenFlags};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::error::{Error, SftpCause};
use crate::progress::Progress;
use crate::remote_path::{basename, has_glob, join};

/// Directory depth at which recursion stops (OpenSSH's sftp uses 64 too).
pub const MAX_DEPTH: usize = 64;
/// Buffer between the two sides; a multiple of the SFTP request size.
const BUF_LEN: usize = 1 << 20;

/// What `-r`, `-p` and the terminal ask for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-r`: copy directories recursively.
    pub recursive: bool,
    /// `-p`: keep modification/access times and modes.
    pub preserve: bool,
    /// Show a progress bar per file (only on a terminal).
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Files copied completely.
    pub files: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Errors reported (the exit status is non-zero if this is not 0).
    pub errors: u64,
}

struct Run<'a> {
    sftp: &'a SftpSession,
    opts: Options,
    progress: Progress,
    report: &'a mut dyn FnMut(&Error),
    summary: Summary,
}

impl<'a> Run<'a> {
    fn new(sftp: &'a SftpSession, opts: Options, report: &'a mut dyn FnMut(&Error)) -> Self {
        Self {
            sftp,
            opts,
            progress: Progress::new(opts.progress),
            report,
            summary: Summary::default(),
        }
    }

    fn fail(&mut self, e: Error) {
        self.summary.errors += 1;
        self.progress.suspend(|| (self.report)(&e));
    }
}

fn remote_err(
    op: &'static str,
    path: &str,
) -> impl FnOnce(russh_sftp::client::error::Error) -> Error {
    let path = path.to_owned();
    move |e| Error::Remote {
        op,
        path,
        source: SftpCause::from(e),
    }
}

fn local_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Local { op, path, source }
}

/// Copies local `sources` to remote `dest` (already tilde-resolved, see
/// [`resolve_remote`](crate::resolve_remote)). Each failure goes to `report` as it happens.
pub async fn upload(
    sftp: &SftpSession,
    sources: &[PathBuf],
    dest: &str,
    opts: Options,
    report: &mut dyn FnMut(&Error),
) -> Summary {
    let mut run = Run::new(sftp, opts, report);
    let dest_is_dir = sftp
        .metadata(dest)
        .await
        .is_ok_and(|m| kind(&m) == Kind::Dir);
    if sources.len() > 1 && !dest_is_dir {
        run.fail(Error::NotADirectory(dest.to_owned()));
        return run.summary;
    }
    for src in sources {
        let meta = match tokio::fs::metadata(src).await {
            Ok(m) => m,
            Err(e) => {
                run.fail(local_err("cannot read", src)(e));
                continue;
            }
        };
        let target = if dest_is_dir {
            match src.file_name() {
                Some(n) => join(dest, &n.to_string_lossy()),
                None => {
                    run.fail(Error::NoName(src.display().to_string()));
                    continue;
                }
            }
        } else {
            dest.to_owned()
        };
        run.upload_one(src, &meta, &target, 0).await;
    }
    run.summary
}

impl Run<'_> {
    async fn upload_one(
        &mut self,
        src: &Path,
        meta: &std::fs::Metadata,
        target: &str,
        depth: usize,
    ) {
        if meta.is_dir() {
            if !self.opts.recursive {
                self.fail(Error::IsDirectory(src.display().to_string()));
            } else if depth >= MAX_DEPTH {
                self.fail(Error::TooDeep(src.display().to_string()));
            } else {
                Box::pin(self.upload_dir(src, meta, target, depth)).await;
            }
        } else if meta.is_file() {
            if let Err(e) = self.upload_file(src, meta, target).await {
                self.fail(e);
            }
        } else {
            self.fail(Error::NotRegular(src.display().to_string()));
        }
    }

    async fn upload_dir(
        &mut self,
        src: &Path,
        meta: &std::fs::Metadata,
        target: &str,
        depth: usize,
    ) {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o7777;
        match self.sftp.metadata(target).await {
            Ok(m) if kind(&m) == Kind::Dir => {}
            Ok(_) => return self.fail(Error::NotADirectory(target.to_owned())),
            Err(_) => {
                // Created with the server's default mode (writable by us); the source's mode
                // is set once the contents are in.
                if let Err(e) = self.sftp.create_dir(target).await {
                    return self.fail(remote_err("cannot create directory", target)(e));
                }
            }
        }
        let mut entries = match std::fs::read_dir(src) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .collect::<Vec<_>>(),
            Err(e) => return self.fail(local_err("cannot read directory", src)(e)),
        };
        entries.sort();
        for p in entries {
            // Follow symlinks, as scp does; MAX_DEPTH stops loops.
            match std::fs::metadata(&p) {
                Ok(m) => {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    Box::pin(self.upload_one(&p, &m, &join(target, &name), depth + 1)).await;
                }
                Err(e) => self.fail(local_err("cannot read", &p)(e)),
            }
        }
        // The source's mode, and with -p the times (after the contents, which change them).
        let mut attrs = FileAttributes {
            permissions: Some(mode),
            ..FileAttributes::empty()
        };
        if self.opts.preserve {
            set_times(&mut attrs, meta);
        } else {
            attrs.permissions = Some(mode & 0o777);
        }
        if let Err(e) = self.sftp.set_metadata(target, attrs).await {
            self.fail(remote_err("cannot set mode or times of", target)(e));
        }
    }

    async fn upload_file(
        &mut self,
        src: &Path,
        meta: &std::fs::Metadata,
        target: &str,
    ) -> Result<(), Error> {
        use std::os::unix::fs::PermissionsExt as _;
        let mut local = tokio::fs::File::open(src)
            .await
            .map_err(local_err("cannot open", src))?;
        let mode = meta.permissions().mode() & 0o7777;
        let attrs = FileAttributes {
            permissions: Some(mode & 0o777),
            ..FileAttributes::empty()
        };
        let mut remote = self
            .sftp
            .open_with_flags_and_attributes(
                target,
                OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE,
                attrs,
            )
            .await
            .map_err(remote_err("cannot create", target))?;
        let bar = self
            .progress
            .file(&display_name(&src.to_string_lossy()), meta.len());
        let mut buf = vec![0u8; BUF_LEN];
        let mut done = 0u64;
        loop {
            let n = local
                .read(&mut buf)
                .await
                .map_err(local_err("cannot read", src))?;
            if n == 0 {
                break;
            }
            remote
                .write_all(&buf[..n])
                .await
                .map_err(|e| remote_io("cannot write", target, e))?;
            done += n as u64;
            bar.set_position(done);
        }
        // Waits for every outstanding write: a full disk shows up here at the latest.
        remote
            .shutdown()
            .await
            .map_err(|e| remote_io("cannot write", target, e))?;
        bar.finish();
        if self.opts.preserve {
            let mut attrs = FileAttributes {
                permissions: Some(mode),
                ..FileAttributes::empty()
            };
            set_times(&mut attrs, meta);
            self.sftp
                .set_metadata(target, attrs)
                .await
                .map_err(remote_err("cannot set mode or times of", target))?;
        }
        self.summary.files += 1;
        self.summary.bytes += done;
        Ok(())
    }
}

fn remote_io(op: &'static str, path: &str, e: std::io::Error) -> Error {
    Error::Remote {
        op,
        path: path.to_owned(),
        source: SftpCause::from_io(e),
    }
}

fn set_times(attrs: &mut FileAttributes, meta: &std::fs::Metadata) {
    let secs = |t: std::io::Result<SystemTime>| {
        t.ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .and_then(|d| u32::try_from(d.as_secs()).ok())
    };
    attrs.atime = secs(meta.accessed());
    attrs.mtime = secs(meta.modified());
    if attrs.atime.is_none() {
        attrs.atime = attrs.mtime;
    }
}

fn display_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Copies remote `sources` (tilde-resolved; globs are expanded here) to local `dest`.
pub async fn download(
    sftp: &SftpSession,
    sources: &[String],
    dest: &Path,
    opts: Options,
    report: &mut dyn FnMut(&Error),
) -> Summary {
    let mut run = Run::new(sftp, opts, report);
    let mut expanded = Vec::new();
    for s in sources {
        if has_glob(s) {
            let found = crate::remote_path::glob(sftp, s).await;
            if found.is_empty() {
                run.fail(Error::NoMatch(s.clone()));
            }
            expanded.extend(found);
        } else {
            expanded.push(s.clone());
        }
    }
    let dest_is_dir = dest.is_dir();
    if (expanded.len() > 1 || sources.len() > 1) && !dest_is_dir {
        run.fail(Error::NotADirectory(dest.display().to_string()));
        return run.summary;
    }
    for src in expanded {
        let meta = match sftp.metadata(src.as_str()).await {
            Ok(m) => m,
            Err(e) => {
                run.fail(remote_err("cannot read", &src)(e));
                continue;
            }
        };
        let target = if dest_is_dir {
            match basename(&src) {
                Some(n) => dest.join(n),
                None => {
                    run.fail(Error::NoName(src.clone()));
                    continue;
                }
            }
        } else {
            dest.to_path_buf()
        };
        run.download_one(&src, &meta, &target, 0).await;
    }
    run.summary
}

impl Run<'_> {
    async fn download_one(&mut self, src: &str, meta: &Metadata, target: &Path, depth: usize) {
        if kind(meta) == Kind::Dir {
            if !self.opts.recursive {
                self.fail(Error::IsDirectory(src.to_owned()));
            } else if depth >= MAX_DEPTH {
                self.fail(Error::TooDeep(src.to_owned()));
            } else {
                Box::pin(self.download_dir(src, meta, target, depth)).await;
            }
        } else if kind(meta) == Kind::File {
            if let Err(e) = self.download_file(src, meta, target).await {
                self.fail(e);
            }
        } else {
            self.fail(Error::NotRegular(src.to_owned()));
        }
    }

    async fn download_dir(&mut self, src: &str, meta: &Metadata, target: &Path, depth: usize) {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        let mode = meta.permissions.unwrap_or(0o755) & 0o7777;
        if !target.is_dir() {
            let made = std::fs::DirBuilder::new()
                .mode((mode & 0o777) | 0o700)
                .create(target);
            if let Err(e) = made {
                return self.fail(local_err("cannot create directory", target)(e));
            }
        }
        let entries = match self.sftp.read_dir(src).await {
            Ok(rd) => {
                let mut v: Vec<(String, Metadata)> =
                    rd.map(|e| (e.file_name(), e.metadata())).collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            }
            Err(e) => return self.fail(remote_err("cannot read directory", src)(e)),
        };
        for (name, m) in entries {
            if name.contains('/') || name == "." || name == ".." {
                // A server must not send these; refusing keeps writes inside `target` (scp CVE-2019-6111 class).
                self.fail(Error::NoName(join(src, &name)));
                continue;
            }
            let path = join(src, &name);
            let m = if kind(&m) == Kind::Symlink {
                match self.sftp.metadata(path.as_str()).await {
                    Ok(m) => m,
                    Err(e) => {
                        self.fail(remote_err("cannot read", &path)(e));
                        continue;
                    }
                }
            } else {
                m
            };
            Box::pin(self.download_one(&path, &m, &target.join(&name), depth + 1)).await;
        }
        let final_mode = if self.opts.preserve {
            mode
        } else {
            mode & 0o777
        };
        if let Err(e) =
            std::fs::set_permissions(target, std::fs::Permissions::from_mode(final_mode))
        {
            self.fail(local_err("cannot set the mode of", target)(e));
        }
        if self.opts.preserve
            && let Err(e) = set_local_times(target, meta)
        {
            self.fail(local_err("cannot set the times of", target)(e));
        }
    }

    async fn download_file(
        &mut self,
        src: &str,
        meta: &Metadata,
        target: &Path,
    ) -> Result<(), Error> {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let mode = meta.permissions.unwrap_or(0o644) & 0o7777;
        let mut remote = self
            .sftp
            .open_with_flags(src, OpenFlags::READ)
            .await
            .map_err(remote_err("cannot open", src))?;
        let local = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode & 0o777)
            .open(target)
            .map_err(local_err("cannot create", target))?;
        let mut local = tokio::fs::File::from_std(local);
        let bar = self
            .progress
            .file(&display_name(src), meta.size.unwrap_or(0));
        let mut buf = vec![0u8; BUF_LEN];
        let mut done = 0u64;
        loop {
            let n = remote
                .read(&mut buf)
                .await
                .map_err(|e| remote_io("cannot read", src, e))?;
            if n == 0 {
                break;
            }
            local
                .write_all(&buf[..n])
                .await
                .map_err(local_err("cannot write", target))?;
            done += n as u64;
            bar.set_position(done);
        }
        local
            .flush()
            .await
            .map_err(local_err("cannot write", target))?;
        bar.finish();
        let _ = remote.close().await;
        if self.opts.preserve {
            std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
                .map_err(local_err("cannot set the mode of", target))?;
            set_local_times(target, meta).map_err(local_err("cannot set the times of", target))?;
        }
        self.summary.files += 1;
        self.summary.bytes += done;
        Ok(())
    }
}

fn set_local_times(path: &Path, meta: &Metadata) -> std::io::Result<()> {
    let t = |s: Option<u32>| s.map(|s| UNIX_EPOCH + Duration::from_secs(u64::from(s)));
    let mut times = std::fs::FileTimes::new();
    if let Some(m) = t(meta.mtime) {
        times = times.set_modified(m);
    }
    if let Some(a) = t(meta.atime).or(t(meta.mtime)) {
        times = times.set_accessed(a);
    }
    std::fs::File::options()
        .write(true)
        .open(path)
        .or_else(|_| std::fs::File::open(path))?
        .set_times(times)
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

/// The file type from `S_IFMT` (russh-sftp's bit tests take a symlink for a regular file).
fn kind(m: &Metadata) -> Kind {
    match m.permissions.unwrap_or(0) & 0o170_000 {
        0o040_000 => Kind::Dir,
        0o100_000 => Kind::File,
        0o120_000 => Kind::Symlink,
        _ => Kind::Other,
    }
}
