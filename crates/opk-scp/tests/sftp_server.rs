//! The copy engine against OpenSSH's own `sftp-server`, spoken to over a pipe (the same
//! program sshd runs for the sftp subsystem). Trees with odd names both ways, byte for byte;
//! -p; globs; `~`; missing sources; permission denied (read-only server); disk full (/dev/full).

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, UNIX_EPOCH};

use opk_scp::{Error, Options, SftpSession, download, resolve_remote, start, upload};

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

const ODD: &[&str] = &[
    "plain.txt",
    "with space.txt",
    "ünïcødé ✓.bin",
    "-leading-dash",
    "quote'and\"double",
    "sub dir/nested file",
    "sub dir/deeper/émpty",
    "sub dir/deeper/big.bin",
    ".hidden",
];

fn make_tree(root: &Path) {
    for (i, name) in ODD.iter().enumerate() {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let data: Vec<u8> = match *name {
            "sub dir/deeper/émpty" => Vec::new(),
            // Several MiB so many reads/writes are outstanding at once.
            "sub dir/deeper/big.bin" => (0..5_000_000u32)
                .map(|x| (x.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            _ => format!("{i}: {name}\n").repeat(i + 1).into_bytes(),
        };
        std::fs::write(&p, data).expect("write");
    }
    std::fs::set_permissions(
        root.join("plain.txt"),
        std::fs::Permissions::from_mode(0o751),
    )
    .expect("chmod");
    std::fs::set_permissions(
        root.join("sub dir/deeper"),
        std::fs::Permissions::from_mode(0o750),
    )
    .expect("chmod");
    let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for name in ["plain.txt", "with space.txt", "sub dir/deeper/big.bin"] {
        let f = std::fs::File::options()
            .write(true)
            .open(root.join(name))
            .expect("open");
        f.set_times(
            std::fs::FileTimes::new()
                .set_modified(old)
                .set_accessed(old),
        )
        .expect("times");
    }
}

/// (relative path, contents or None for a directory, mode, mtime) for every entry under `root`.
fn listing(root: &Path) -> Vec<(PathBuf, Option<Vec<u8>>, u32, i64)> {
    use std::os::unix::fs::MetadataExt as _;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let m = std::fs::metadata(&p).expect("meta");
            let rel = p.strip_prefix(root).expect("prefix").to_path_buf();
            if m.is_dir() {
                stack.push(p.clone());
                out.push((rel, None, m.mode() & 0o7777, m.mtime()));
            } else {
                out.push((
                    rel,
                    Some(std::fs::read(&p).expect("read")),
                    m.mode() & 0o7777,
                    m.mtime(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn same_bytes(a: &Path, b: &Path) {
    let strip = |l: Vec<(PathBuf, Option<Vec<u8>>, u32, i64)>| {
        l.into_iter().map(|(p, c, _, _)| (p, c)).collect::<Vec<_>>()
    };
    let (la, lb) = (strip(listing(a)), strip(listing(b)));
    assert_eq!(la.len(), ODD.len() + 2, "entries (files + 2 dirs)");
    assert!(
        la == lb,
        "trees differ:\n{:?}\n{:?}",
        la.iter().map(|x| &x.0).collect::<Vec<_>>(),
        lb.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
}

fn same_modes_and_times(a: &Path, b: &Path) {
    let meta = |l: Vec<(PathBuf, Option<Vec<u8>>, u32, i64)>| {
        l.into_iter()
            .map(|(p, _, m, t)| (p, m, t))
            .collect::<Vec<_>>()
    };
    assert_eq!(meta(listing(a)), meta(listing(b)));
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let (local, home) = (tmp.path().join("local tree ✓"), tmp.path().join("home"));
    make_tree(&local);
    std::fs::create_dir(&home).expect("home");
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let mut errors = Vec::new();
        let dest = resolve_remote(&sftp, "~/up loaded").await;
        assert_eq!(dest, "up loaded");
        let s = upload(
            &sftp,
            std::slice::from_ref(&local),
            &dest,
            opts(true, true),
            &mut |e| errors.push(e.to_string()),
        )
        .await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!(s.files, ODD.len() as u64);
        same_bytes(&local, &home.join("up loaded"));
        same_modes_and_times(&local, &home.join("up loaded"));

        // And back, into an existing directory: lands as <dir>/<name>.
        let back = tmp.path().join("back");
        std::fs::create_dir(&back).expect("mkdir");
        let s = download(
            &sftp,
            &["up loaded".to_owned()],
            &back,
            opts(true, true),
            &mut |e| errors.push(e.to_string()),
        )
        .await;
        assert_eq!(errors, Vec::<String>::new());
        assert_eq!((s.files, s.errors), (ODD.len() as u64, 0));
        same_bytes(&local, &back.join("up loaded"));
        same_modes_and_times(&local, &back.join("up loaded"));
    });
}

#[test]
fn without_p_times_are_new_and_modes_kept() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (local, home) = (tmp.path().join("src"), tmp.path().join("home"));
    make_tree(&local);
    std::fs::create_dir(&home).expect("home");
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let mut n = 0;
        let s = upload(
            &sftp,
            &[local.join("plain.txt")],
            "copy.txt",
            opts(false, false),
            &mut |_| n += 1,
        )
        .await;
        assert_eq!((s.files, n), (1, 0));
    });
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(home.join("copy.txt")).expect("copied");
    assert_ne!(
        m.mtime(),
        1_000_000_000,
        "-p not given: mtime is the copy's"
    );
    assert_eq!(
        std::fs::read(home.join("copy.txt")).expect("read"),
        std::fs::read(local.join("plain.txt")).expect("read")
    );
}

#[test]
fn remote_globs_and_home_paths() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    make_tree(&home.join("t"));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let mut errs = Vec::new();
        let src = resolve_remote(&sftp, "~/t/*.txt").await;
        let s = download(
            &sftp,
            &[src, "t/sub*/nested*".to_owned()],
            &out,
            opts(false, false),
            &mut |e| errs.push(e.to_string()),
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
        let s = download(
            &sftp,
            &["t/*hidden".to_owned()],
            &out,
            opts(false, false),
            &mut |e| errs.push(e.to_string()),
        )
        .await;
        assert_eq!(s.errors, 1);
        assert_eq!(
            errs,
            ["t/*hidden: no such file or directory (the pattern matched nothing)"]
        );
    });
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    make_tree(&home.join("t"));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let mut e = Vec::new();
        let s = download(
            &sftp,
            &["nope".into(), "t/plain.txt".into()],
            &out,
            opts(false, false),
            &mut |x| e.push(chain(x)),
        )
        .await;
        assert_eq!((s.files, s.errors), (1, 1), "the good file is still copied");
        assert_eq!(e, ["cannot read nope: No such file or directory"]);
        let missing = tmp.path().join("missing");
        let mut e = Vec::new();
        let s = upload(
            &sftp,
            std::slice::from_ref(&missing),
            "x",
            opts(false, false),
            &mut |x| e.push(chain(x)),
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
        let mut e = Vec::new();
        download(&sftp, &["t".into()], &out, opts(false, false), &mut |x| {
            e.push(chain(x))
        })
        .await;
        assert_eq!(e, ["t: is a directory (use -r to copy directories)"]);
        let mut e = Vec::new();
        let target = out.join("plain.txt");
        download(
            &sftp,
            &["t/plain.txt".into(), "t/.hidden".into()],
            &target,
            opts(false, false),
            &mut |x| e.push(chain(x)),
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
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    make_tree(&home.join("t"));
    rt().block_on(async {
        let (sftp, _child) = server(&home, &["-R"]).await;
        let mut e = Vec::new();
        let s = upload(
            &sftp,
            &[home.join("t/plain.txt")],
            "new.txt",
            opts(false, false),
            &mut |x| e.push(chain(x)),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(e, ["cannot create new.txt: Permission denied"]);
        let mut e = Vec::new();
        upload(
            &sftp,
            &[home.join("t")],
            "newdir",
            opts(true, false),
            &mut |x| e.push(chain(x)),
        )
        .await;
        assert_eq!(e, ["cannot create directory newdir: Permission denied"]);
    });
    assert!(!home.join("new.txt").exists());
}

#[test]
fn disk_full_both_ways() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    make_tree(&home.join("t"));
    rt().block_on(async {
        let (sftp, _child) = server(&home, &[]).await;
        let mut e = Vec::new();
        let s = download(
            &sftp,
            &["t/sub dir/deeper/big.bin".into()],
            Path::new("/dev/full"),
            opts(false, false),
            &mut |x| e.push(chain(x)),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(
            e,
            ["cannot write /dev/full: No space left on device (os error 28)"]
        );
        let mut e = Vec::new();
        let s = upload(
            &sftp,
            &[home.join("t/sub dir/deeper/big.bin")],
            "/dev/full",
            opts(false, false),
            &mut |x| e.push(chain(x)),
        )
        .await;
        assert_eq!((s.files, s.errors), (0, 1));
        assert_eq!(
            e,
            ["cannot write /dev/full: failure reported by the server (disk full?)"]
        );
    });
}
