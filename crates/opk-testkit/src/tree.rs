//! A directory tree with awkward names, modes and times, and a listing to compare two copies of
//! it: the fixture of every copy test (the SFTP engine against `sftp-server`, `opk scp` through
//! sshd, `opk zscp` over the overlay).

use std::fs::{self, File, FileTimes, Permissions};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// Every file of [`make_odd_tree`], relative to its root: spaces, quotes, a leading dash, a dot
/// file, non-ASCII, an empty file and one of several MiB (so many reads and writes are in flight).
pub const ODD_NAMES: &[&str] = &[
    "plain.txt",
    "with space.txt",
    "ünïcødé ✓ 名前.bin",
    "-leading-dash",
    "quote'and\"double",
    "sub dir/nested file",
    "sub dir/deeper/émpty",
    "sub dir/deeper/big.bin",
    ".hidden",
];

/// Directories [`make_odd_tree`] creates besides the root.
pub const ODD_DIRS: usize = 2;

/// The modification time [`make_odd_tree`] gives `plain.txt`, `with space.txt` and `big.bin`, so
/// a copy with `-p` is told from one without.
pub const OLD_MTIME: i64 = 1_000_000_000;

/// Writes the [`ODD_NAMES`] tree under `root`, with modes 0751 (`plain.txt`) and 0750
/// (`sub dir/deeper`) and [`OLD_MTIME`] on three files.
pub fn make_odd_tree(root: &Path) {
    for (i, name) in ODD_NAMES.iter().enumerate() {
        let path = root.join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        let data: Vec<u8> = match *name {
            "sub dir/deeper/émpty" => Vec::new(),
            "sub dir/deeper/big.bin" => (0..5_000_000u32)
                .map(|x| (x.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            _ => format!("{i}: {name}\n").repeat(i + 1).into_bytes(),
        };
        fs::write(&path, data).expect("write");
    }
    fs::set_permissions(root.join("plain.txt"), Permissions::from_mode(0o751)).expect("chmod");
    fs::set_permissions(root.join("sub dir/deeper"), Permissions::from_mode(0o750)).expect("chmod");
    let old = UNIX_EPOCH + Duration::from_secs(OLD_MTIME as u64);
    for name in ["plain.txt", "with space.txt", "sub dir/deeper/big.bin"] {
        let file = File::options()
            .write(true)
            .open(root.join(name))
            .expect("open");
        file.set_times(FileTimes::new().set_modified(old).set_accessed(old))
            .expect("times");
    }
}

/// One entry of a [`listing`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the listed root.
    pub path: PathBuf,
    /// The file's bytes; `None` for a directory.
    pub contents: Option<Vec<u8>>,
    /// Permission bits (`& 0o7777`).
    pub mode: u32,
    /// Modification time, in seconds.
    pub mtime: i64,
}

/// Every entry under `root` (not `root` itself), sorted by path.
pub fn listing(root: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = fs::metadata(&path).expect("metadata");
            let contents = if meta.is_dir() {
                stack.push(path.clone());
                None
            } else {
                Some(fs::read(&path).expect("read"))
            };
            out.push(Entry {
                path: path.strip_prefix(root).expect("prefix").to_path_buf(),
                contents,
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Asserts that `copy` holds the same names and bytes as `original`, an [`make_odd_tree`] tree.
pub fn assert_same_bytes(original: &Path, copy: &Path) {
    let strip = |l: Vec<Entry>| {
        l.into_iter()
            .map(|e| (e.path, e.contents))
            .collect::<Vec<_>>()
    };
    let (a, b) = (strip(listing(original)), strip(listing(copy)));
    assert_eq!(
        a.len(),
        ODD_NAMES.len() + ODD_DIRS,
        "entries (files + dirs)"
    );
    assert!(
        a == b,
        "trees differ:\n{:?}\n{:?}",
        a.iter().map(|x| &x.0).collect::<Vec<_>>(),
        b.iter().map(|x| &x.0).collect::<Vec<_>>()
    );
}

/// Asserts that `copy` has the modes and modification times of `original` (a copy with `-p`).
pub fn assert_same_modes_and_times(original: &Path, copy: &Path) {
    let meta = |l: Vec<Entry>| {
        l.into_iter()
            .map(|e| (e.path, e.mode, e.mtime))
            .collect::<Vec<_>>()
    };
    assert_eq!(meta(listing(original)), meta(listing(copy)));
}
