//! Per-file progress bars (name, percent, bytes, rate, ETA) on a terminal; nothing otherwise.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    enabled: bool,
    current: Option<ProgressBar>,
}

impl Progress {
    pub(crate) fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            current: None,
        }
    }

    /// A bar for one file (hidden when progress is off).
    pub(crate) fn file(&mut self, name: &str, len: u64) -> ProgressBar {
        if !self.enabled {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg:30.bold} {percent:>3}% {bytes:>10} {binary_bytes_per_sec:>12} {eta:>4}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(name.to_owned());
        self.current = Some(bar.clone());
        bar
    }

    /// Runs `f` (printing an error) without tearing the bar being drawn.
    pub(crate) fn suspend(&self, f: impl FnOnce()) {
        match &self.current {
            Some(b) if !b.is_finished() => b.suspend(f),
            _ => f(),
        }
    }
}
