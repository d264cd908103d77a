//! `opk scp`: OpenSSH scp's flags in, [`opk_scp::scp`] copies; exit 0 only if every file copied.

use std::io::IsTerminal as _;
use std::process::ExitCode;

/// `opk scp [-r] [-p] [-q] [-P port] [-i key] [-o opt] [-F file] [-J jump] SRC... DEST`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    // Help texts are attributes, not doc comments: rustdoc would read `[user@]` as links.
    #[arg(help = "Copy directories recursively", short = 'r')]
    recursive: bool,
    #[arg(
        help = "Preserve modification times, access times and modes",
        short = 'p'
    )]
    preserve: bool,
    #[arg(help = "Quiet: no progress bar", short = 'q')]
    quiet: bool,
    #[arg(help = "Port to connect to", short = 'P')]
    port: Option<u16>,
    #[command(flatten)]
    connect: crate::connect::ConnectFlags,
    #[arg(
        help = "Files or directories to copy: local paths or [user@]host:path (remote globs and ~ work)",
        value_name = "SRC",
        num_args = 1..,
        required = true
    )]
    sources: Vec<String>,
    #[arg(
        help = "Where to copy to: a local path or [user@]host:path (also scp://[user@]host[:port]/path)",
        value_name = "DEST",
        required = true
    )]
    dest: String,
}

/// Runs it. Each failure is printed as it happens; exit 1 if any (scp's contract).
pub(crate) fn run(cmd: Args) -> ExitCode {
    let mut operands = cmd.sources;
    operands.push(cmd.dest);
    let args = opk_scp::ScpArgs {
        operands,
        options: opk_scp::Options {
            recursive: cmd.recursive,
            preserve: cmd.preserve,
            progress: !cmd.quiet && std::io::stderr().is_terminal(),
        },
        port: cmd.port,
        identity_files: cmd.connect.identity,
        ssh_options: cmd.connect.option,
        config_file: cmd.connect.config,
        jump: cmd.connect.jump,
    };
    let mut report = |e: &opk_scp::Error| eprintln!("opk scp: {}", crate::one_line(e));
    match opk_scp::scp(&args, &mut report) {
        Ok(s) if s.errors == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
