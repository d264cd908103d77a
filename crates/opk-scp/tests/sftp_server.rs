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
}

fn opts(recursive: bool, preserve: bool) -> Options {
    Options {
        recursive,
        preserve,
        progress: false,
    }
}

#[test]
fn tree_with_odd_names_up_and_down_byte_identical_with_p() {
    let Served {
        tmp, home, local, ..
    } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let dest = resolve_remote(&sftp, "~/up loaded").await;
        assert_eq!(dest, "up loaded");
        let (s, errors) = put(&sftp, std::slice::from_ref(&local), &dest, opts(true, true)).await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(s.files, ODD_NAMES.len() as u64);
        assert_same_bytes(&local, &home.join("up loaded"));
        assert_same_modes_and_times(&local, &home.join("up loaded"));

        // And back, into an existing directory: lands as <dir>/<name>.
        let back = tmp.path().join("back");
        std::fs::create_dir(&back).expect("mkdir");
        let (s, errors) = get(&sftp, &["up loaded".to_owned()], &back, opts(true, true)).await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!((s.files, s.errors), (ODD_NAMES.len() as u64, 0));
        assert_same_bytes(&local, &back.join("up loaded"));
        assert_same_modes_and_times(&local, &back.join("up loaded"));
    });
}

#[test]
fn without_p_times_are_new_and_modes_kept() {
    let Served {
        tmp: _tmp,
        home,
        local,
        ..
    } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let (s, errors) = put(
            &sftp,
            &[local.join("plain.txt")],
            "copy.txt",
            opts(false, false),
        )
        .await;
        assert_eq!((s.files, errors), (1, Vec::<String>::new()));
    });
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(home.join("copy.txt")).expect("copied");
    assert_ne!(m.mtime(), OLD_MTIME, "-p not given: mtime is the copy's");
    assert_eq!(
        std::fs::read(home.join("copy.txt")).expect("read"),
        std::fs::read(local.join("plain.txt")).expect("read")
    );
}

#[test]
fn remote_globs_and_home_paths() {
    let Served {
        tmp: _tmp,
        home,
        out,
        ..
    } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let src = resolve_remote(&sftp, "~/t/*.txt").await;
        let (s, errs) = get(
            &sftp,
            &[src, "t/sub*/nested*".to_owned()],
            &out,
            opts(false, false),
        )
        .await;
        assert_eq!(errs, Vec::<String>::new());
        assert_eq!(s.files, 3);
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .expect("ls")
            .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["nested file", "plain.txt", "with space.txt"]);
        // `*` skips dot files (glob(3)); a pattern matching nothing is an error.
        let (s, errs) = get(&sftp, &["t/*hidden".to_owned()], &out, opts(false, false)).await;
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
    sources: &[String],
    dest: &Path,
    opts: Options,
) -> (Summary, Vec<String>) {
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
    let Served { tmp, home, out, .. } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let (s, e) = get(
            &sftp,
            &["nope".into(), "t/plain.txt".into()],
            &out,
            opts(false, false),
        )
        .await;
        assert_eq!((s.files, s.errors), (1, 1), "the good file is still copied");
        assert_eq!(e, ["cannot read nope: No such file or directory"]);
        let missing = tmp.path().join("missing");
        let (s, e) = put(
            &sftp,
            std::slice::from_ref(&missing),
            "x",
            opts(false, false),
        )
        .await;
        assert_eq!(s.errors, 1);
        assert_eq!(
            e,
            [format!(
                "cannot read {}: No such file or directory (os error 2)",
                missing.display()
            )]
        );
        let (_, e) = get(&sftp, &["t".into()], &out, opts(false, false)).await;
        assert_eq!(e, ["t: is a directory (use -r to copy directories)"]);
        let target = out.join("plain.txt");
        let (_, e) = get(
            &sftp,
            &["t/plain.txt".into(), "t/.hidden".into()],
            &target,
            opts(false, false),
        )
        .await;
        assert_eq!(
            e,
            [format!("target {} is not a directory", target.display())]
        );
    });
}

#[test]
fn permission_denied_by_a_read_only_server() {
    let Served {
        tmp: _tmp, home, ..
    } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &["-R"]).await;
        let (s, e) = put(
            &sftp,
            &[home.join("t/plain.txt")],
            "new.txt",
            opts(false, false),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(e, ["cannot create new.txt: Permission denied"]);
        let (_, e) = put(&sftp, &[home.join("t")], "newdir", opts(true, false)).await;
        assert_eq!(e, ["cannot create directory newdir: Permission denied"]);
    });
    assert!(!home.join("new.txt").exists());
}

#[test]
fn disk_full_both_ways() {
    let Served {
        tmp: _tmp, home, ..
    } = Served::new();
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let (s, e) = get(
            &sftp,
            &["t/sub dir/deeper/big.bin".into()],
            Path::new("/dev/full"),
            opts(false, false),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(
            e,
            ["cannot write /dev/full: No space left on device (os error 28)"]
        );
        let (s, e) = put(
            &sftp,
            &[home.join("t/sub dir/deeper/big.bin")],
            "/dev/full",
            opts(false, false),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(
            e,
            ["cannot write /dev/full: failure reported by the server (disk full?)"]
        );
    });
}
