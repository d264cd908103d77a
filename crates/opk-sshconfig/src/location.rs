//! A line of a file, shared by both parsers.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line of a file: where an ssh_config value came from, or where a known_hosts entry
/// lives. Displays as `file:line`, for messages like "Offending key in ~/.ssh/known_hosts:12".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (the label given to the parser), or `command line`.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}
