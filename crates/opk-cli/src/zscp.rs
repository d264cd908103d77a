//! `opk zscp`: zscp's flags and operands (`[user@]identity:path`); the copy is `opk scp`'s SFTP
//! engine over the OpenZiti overlay, so every failed file is reported and the exit status says
//! whether all copied (zscp can exit 0 after a failed upload).

use std::io::IsTerminal as _;
use std::process::ExitCode;

use crate::overlay::{OverlayFlags, SshKey};

/// `opk zscp [flags] SRC... DEST`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    key: SshKey,
    #[command(flatten)]
    overlay: OverlayFlags,
    #[arg(help = "Copy directories recursively", short = 'r', long = "recursive")]
    recursive: bool,
    #[arg(
        help = "Preserve modification times, access times and modes",
        long = "preserve"
    )]
    preserve: bool,
    #[arg(
        help = "Files or directories to copy: local paths or [user@]identity:path",
        value_name = "SRC",
        num_args = 1..,
        required = true
    )]
    sources: Vec<String>,
    #[arg(
        help = "Where to copy to: a local path or [user@]identity:path",
        value_name = "DEST",
        required = true
    )]
    dest: String,
}

/// Runs it. Each failure is printed as it happens; exit 1 if any.
pub(crate) fn run(cmd: Args) -> ExitCode {
    let report = |e: &(dyn std::error::Error + 'static)| {
        eprintln!("opk zscp: {}", crate::one_line(e));
    };
    let mut operands = cmd.sources;
    operands.push(cmd.dest);
    let transport = match cmd.overlay.transport() {
        Ok(t) => t,
        Err(e) => {
            report(e.as_ref());
            return ExitCode::FAILURE;
        }
    };
    // Host keys are recorded per target identity, as `opk zssh` records them.
    let options = operands
        .iter()
        .find_map(|o| match opk_scp::parse_operand(o) {
            opk_scp::Operand::Remote(r) => Some(cmd.overlay.host_key_alias(&r.host)),
            opk_scp::Operand::Local(_) => None,
        })
        .into_iter()
        .collect();
    let args = opk_scp::ScpArgs {
        operands,
        options: opk_scp::Options {
            recursive: cmd.recursive,
            preserve: cmd.preserve,
            progress: std::io::stderr().is_terminal(),
        },
        identity_files: cmd.key.ssh_key.into_iter().collect(),
        ssh_options: options,
        ..Default::default()
    };
    let mut each = |e: &opk_scp::Error| report(e);
    match opk_scp::scp_over(&args, &transport, &mut each) {
        Ok(s) if s.errors == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            report(&e);
            ExitCode::FAILURE
        }
    }
}
