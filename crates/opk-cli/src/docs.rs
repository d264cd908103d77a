//! `opk completions SHELL` and `opk man`: generated from the same clap definitions as the
//! parser, so they cannot drift from the flags.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::Cli;

/// `opk completions`.
#[derive(clap::Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell. Bash: `source <(opk completions bash)`.
    pub(crate) shell: clap_complete::Shell,
}

/// `opk man`.
#[derive(clap::Args, Debug)]
pub(crate) struct ManArgs {
    /// Write opk.1 and one page per command (opk-login.1, ...) into DIR instead of printing opk.1.
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    // Into memory first: clap_complete panics on a failed write (`opk completions bash | head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "opk", &mut script);
    to_stdout(&script)
}

pub(crate) fn man(args: &ManArgs) -> anyhow::Result<()> {
    // The page's VERSION section prints `v<version>`: the bare number, not `opk -V`'s text. No
    // page for clap's `help` subcommand, with or without --out-dir.
    let cmd = Cli::command()
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_subcommand(true);
    if let Some(dir) = &args.out_dir {
        return clap_mangen::generate_to(cmd, dir)
            .with_context(|| format!("cannot write the man pages into {}", dir.display()));
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    to_stdout(&page)
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is not an error.
fn to_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
