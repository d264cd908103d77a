//! `opk zssh`: zssh's target syntax and flags; SSH through the OpenZiti overlay to the SSH server
//! that hosts service `-s` as its own identity. The SSH side is `opk ssh` (opk certificate first,
//! remote exit status, host keys checked). `opk zssh mfa enable|remove` manage TOTP.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use crate::overlay::{OverlayFlags, SshKey};

/// `opk zssh [flags] [user@]identity [command...]`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    #[command(flatten)]
    key: SshKey,
    #[command(flatten)]
    overlay: OverlayFlags,
    #[command(flatten)]
    tty: crate::connect::TtyFlags,
    #[arg(
        help = "[user@]identity: the OpenZiti identity hosting the SSH server",
        required = true
    )]
    target: Option<String>,
    #[command(flatten)]
    command: crate::connect::RemoteCommand,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// TOTP multi-factor authentication for the identity.
    #[command(subcommand)]
    Mfa(Mfa),
}

#[derive(clap::Subcommand, Debug)]
enum Mfa {
    /// Enroll: print the secret (and a QR code), verify a code, print the recovery codes.
    Enable {
        #[command(flatten)]
        overlay: OverlayFlags,
        #[arg(
            help = "Print the QR code even when stdout is not a terminal",
            short = 'q',
            long = "qr-code"
        )]
        qr_code: bool,
    },
    /// Remove TOTP from the identity (asks for a current code or a recovery code).
    Remove {
        #[command(flatten)]
        overlay: OverlayFlags,
    },
}

/// Runs it. Exit status: the remote command's (128+n for a signal), or 255 when the overlay or
/// SSH fails, never 0 for a failure (zssh exits 1 for any remote status).
pub(crate) fn run(cmd: Args) -> ExitCode {
    let fail = |e: &(dyn std::error::Error + 'static)| {
        eprintln!("opk zssh: {}", crate::one_line(e));
        ExitCode::from(opk_ssh::EXIT_SSH_ERROR)
    };
    if let Some(Action::Mfa(mfa)) = cmd.action {
        return match run_mfa(mfa) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("opk zssh mfa: {}", crate::one_line(e.as_ref()));
                ExitCode::FAILURE
            }
        };
    }
    let target = cmd.target.unwrap_or_default();
    let transport = match cmd.overlay.transport() {
        Ok(t) => t,
        Err(e) => return fail(e.as_ref()),
    };
    let name = target.rsplit('@').next().unwrap_or(&target);
    let name = name.split(':').next().unwrap_or(name);
    let args = opk_ssh::SshArgs {
        options: vec![cmd.overlay.host_key_alias(name)],
        destination: target.clone(),
        command: cmd.command.command,
        identity_files: cmd.key.ssh_key.into_iter().collect(),
        tty: cmd.tty.tty(),
        ..Default::default()
    };
    match opk_ssh::ssh_over(&args, &transport) {
        Ok(status) => ExitCode::from(status),
        Err(e) => fail(&e),
    }
}

fn run_mfa(mfa: Mfa) -> anyhow::Result<()> {
    match mfa {
        Mfa::Enable { overlay, qr_code } => {
            let (_, ctrl, api) = overlay.authenticate()?;
            let stdout = std::io::stdout();
            let qr = qr_code || stdout.is_terminal();
            opk_ziti::mfa_enable(&ctrl, &api, &mut stdout.lock(), qr, &mut read_code)?;
        }
        Mfa::Remove { overlay } => {
            let (_, ctrl, api) = overlay.authenticate()?;
            let code = read_code("Current TOTP code or a recovery code: ")?;
            ctrl.remove_mfa(&api, code.trim())?;
            println!("TOTP MFA removed from {}", api.identity_name);
        }
    }
    Ok(())
}

/// Asks on stderr, reads one line of stdin (so scripts can pipe the code in).
fn read_code(question: &str) -> Result<String, opk_ziti::Error> {
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(opk_ziti::Error::CodeInput)?;
    Ok(line.trim().to_owned())
}
