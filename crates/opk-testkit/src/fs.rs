//! Special files for the tests of readers that must refuse them (hazard R-3 in docs/hazards.md).

use std::path::Path;

/// Creates a FIFO at `path` (mode 0600). Nobody ever writes to it, so a reader that opens it
/// blocking would hang the test instead of refusing it.
pub fn mkfifo(path: &Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap_or_else(|e| panic!("mkfifo {}: {e}", path.display()));
}
