//! The copy engine against OpenSSH's own `sftp-server`, spoken to over a pipe (the same
//! program sshd runs for the sftp subsystem). Trees with odd names both ways, byte for byte;
//! -p; globs; `~`; missing sources; permission denied (read-only server); disk full (/dev/full).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use opk_scp::{Error, Options, SftpSession, Summary, download, resolve_remote, start, upload};
use opk_testkit::tree::{
    ODD_NAMES, OLD_MTIME, assert_same_bytes, assert_same_modes_and_times, make_odd_tree,
};

const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

async fn server(home: &Path, extra: &[&str]) -> (SftpSession, tokio::process::Child) {
    let mut child = tokio::process::Command::new(SFTP_SERVER)
        .arg("-d")
        .arg(home)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{SFTP_SERVER} must be installed (openssh-sftp-server): {e}"));
    let stream = tokio::io::join(
        child.stdout.take().expect("stdout"),
        child.stdin.take().expect("stdin"),
    );
    (start(stream).await.expect("sftp session"), child)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A server's home holding the odd tree as `t`, the odd tree on the local side as `local tree ✓`,
/// and an empty local directory `out`.
struct Served {
    tmp: tempfile::TempDir,
    home: PathBuf,
    local: PathBuf,
    out: PathBuf,
}

impl Served {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (home, out) = (tmp.path().join("home"), tmp.path().join("out"));
        let local = tmp.path().join("local tree ✓");
        make_odd_tree(&home.join("t"));
        make_odd_tree(&local);
        std::fs::create_dir(&out).expect("mkdir");
        Self {
            tmp,
            home,
            local,
            out,
        }
    }

    /// Runs `body` on a session with OpenSSH's `sftp-server` (given `extra` flags) serving `home`.
    fn session<T>(&self, extra: &[&str], body: impl AsyncFnOnce(&SftpSession) -> T) -> T {
        rt().block_on(async {
            let (sftp, _child) = server(&self.home, extra).await;
            body(&sftp).await
        })
    }
}

/// Neither `-r` nor `-p`.
const PLAIN: Options = opts(false, false);

const fn opts(recursive: bool, preserve: bool) -> Options {
    Options {
        recursive,
        preserve,
        progress: false,
    }
}

#[test]
fn tree_with_odd_names_up_and_down_byte_identical_with_p() {
    let served = Served::new();
    let (tmp, local) = (served.tmp.path(), &served.local);
    let uploaded = served.home.join("up loaded");
    served.session(&[], async |sftp| {
        let dest = resolve_remote(sftp, "~/up loaded").await;
        assert_eq!(dest, "up loaded");
        let (s, errors) = put(sftp, std::slice::from_ref(local), &dest, opts(true, true)).await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(s.files, ODD_NAMES.len() as u64);
        assert_same_bytes(local, &uploaded);
        assert_same_modes_and_times(local, &uploaded);

        // And back, into an existing directory: lands as <dir>/<name>.
        let back = tmp.join("back");
        std::fs::create_dir(&back).expect("mkdir");
        let (s, errors) = get(sftp, &["up loaded"], &back, opts(true, true)).await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!((s.files, s.errors), (ODD_NAMES.len() as u64, 0));
        assert_same_bytes(local, &back.join("up loaded"));
        assert_same_modes_and_times(local, &back.join("up loaded"));
    });
}

#[test]
fn without_p_times_are_new_and_modes_kept() {
    let served = Served::new();
    let plain = served.local.join("plain.txt");
    served.session(&[], async |sftp| {
        let (s, errors) = put(sftp, std::slice::from_ref(&plain), "copy.txt", PLAIN).await;
        assert_eq!((s.files, errors), (1, Vec::<String>::new()));
    });
    use std::os::unix::fs::MetadataExt as _;
    let copy = served.home.join("copy.txt");
    let m = std::fs::metadata(&copy).expect("copied");
    assert_ne!(m.mtime(), OLD_MTIME, "-p not given: mtime is the copy's");
    assert_eq!(
        std::fs::read(&copy).expect("read"),
        std::fs::read(&plain).expect("read")
    );
}

#[test]
fn remote_globs_and_home_paths() {
    let served = Served::new();
    let out = &served.out;
    served.session(&[], async |sftp| {
        let src = resolve_remote(sftp, "~/t/*.txt").await;
        let (s, errs) = get(sftp, &[&src, "t/sub*/nested*"], out, PLAIN).await;
        assert_eq!(errs, Vec::<String>::new());
        assert_eq!(s.files, 3);
        let mut names: Vec<String> = std::fs::read_dir(out)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["nested file", "plain.txt", "with space.txt"]);
        // `*` skips dot files (glob(3)); a pattern matching nothing is an error.
        let (s, errs) = get(sftp, &["t/*hidden"], out, PLAIN).await;
        assert_eq!(s.errors, 1);
        assert_eq!(
            errs,
            ["t/*hidden: no such file or directory (the pattern matched nothing)"]
        );
    });
}

/// `download`, with every error reported as the CLI prints it.
async fn get(
    sftp: &SftpSession,
    sources: &[&str],
    dest: &Path,
    opts: Options,
) -> (Summary, Vec<String>) {
    let sources: Vec<String> = sources.iter().map(|s| (*s).to_owned()).collect();
    let sources = sources.as_slice();
    let mut errors = Vec::new();
    let s = download(sftp, sources, dest, opts, &mut |e| errors.push(chain(e))).await;
    (s, errors)
}

/// `upload`, with every error reported as the CLI prints it.
async fn put(
    sftp: &SftpSession,
    sources: &[PathBuf],
    dest: &str,
    opts: Options,
) -> (Summary, Vec<String>) {
    let mut errors = Vec::new();
    let s = upload(sftp, sources, dest, opts, &mut |e| errors.push(chain(e))).await;
    (s, errors)
}

/// The message with its causes, as the CLI prints it.
fn chain(e: &Error) -> String {
    let mut line = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        line.push_str(&format!(": {c}"));
        src = c.source();
    }
    line
}

#[test]
fn missing_sources_directories_and_targets_are_errors() {
    let served = Served::new();
    let out = &served.out;
    let missing = served.tmp.path().join("missing");
    served.session(&[], async |sftp| {
        let (s, e) = get(sftp, &["nope", "t/plain.txt"], out, PLAIN).await;
        assert_eq!((s.files, s.errors), (1, 1), "the good file is still copied");
        assert_eq!(e, ["cannot read nope: No such file or directory"]);
        let (s, e) = put(sftp, std::slice::from_ref(&missing), "x", PLAIN).await;
        assert_eq!(s.errors, 1);
        let gone = missing.display();
        assert_eq!(
            e,
            [format!(
                "cannot read {gone}: No such file or directory (os error 2)"
            )]
        );
        let (_, e) = get(sftp, &["t"], out, PLAIN).await;
        assert_eq!(e, ["t: is a directory (use -r to copy directories)"]);
        let target = out.join("plain.txt");
        let (_, e) = get(sftp, &["t/plain.txt", "t/.hidden"], &target, PLAIN).await;
        let not_dir = format!("target {} is not a directory", target.display());
        assert_eq!(e, [not_dir]);
    });
}

#[test]
fn permission_denied_by_a_read_only_server() {
    let served = Served::new();
    let home = &served.home;
    served.session(&["-R"], async |sftp| {
        let (s, e) = put(sftp, &[home.join("t/plain.txt")], "new.txt", PLAIN).await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(e, ["cannot create new.txt: Permission denied"]);
        let (_, e) = put(sftp, &[home.join("t")], "newdir", opts(true, false)).await;
        assert_eq!(e, ["cannot create directory newdir: Permission denied"]);
    });
    assert!(!home.join("new.txt").exists());
}

#[test]
fn disk_full_both_ways() {
    let served = Served::new();
    let big = served.home.join("t/sub dir/deeper/big.bin");
    served.session(&[], async |sftp| {
        let full = Path::new("/dev/full");
        let (s, e) = get(sftp, &["t/sub dir/deeper/big.bin"], full, PLAIN).await;
        assert_eq!((s.files, s.errors), (0, 1));
        let local_full = "cannot write /dev/full: No space left on device (os error 28)";
        assert_eq!(e, [local_full]);
        let (s, e) = put(sftp, std::slice::from_ref(&big), "/dev/full", PLAIN).await;
        assert_eq!((s.files, s.errors), (0, 1));
        let remote_full = "cannot write /dev/full: failure reported by the server (disk full?)";
        assert_eq!(e, [remote_full]);
    });
}
