//! `opk zssh`: zssh's target syntax and flags; SSH through the OpenZiti overlay to the SSH server
//! that hosts service `-s` as its own identity. The SSH side is `opk ssh` (opk certificate first,
//! remote exit status, host keys checked).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `opk zssh [flags] [user@]identity [command...]`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(
        help = "SSH private key (its KEY-cert.pub is used with it); default: opk's key, then ~/.ssh/id_*",
        short = 'i',
        long = "SshKeyPath"
    )]
    ssh_key: Option<PathBuf>,
    #[arg(
        help = "OpenZiti identity file [default: ~/.ziti/zssh.json]",
        short = 'c',
        long = "ZConfig"
    )]
    zconfig: Option<PathBuf>,
    #[arg(
        help = "OpenZiti service the SSH servers host",
        short = 's',
        long = "service",
        default_value = "zssh"
    )]
    service: String,
    #[arg(
        help = "Shell command printing the current TOTP code, when the controller asks for one (default: ask on the terminal)",
        long = "totp-command"
    )]
    totp_command: Option<String>,
    #[command(flatten)]
    tty: crate::connect::TtyFlags,
    #[arg(help = "[user@]identity: the OpenZiti identity hosting the SSH server")]
    target: String,
    #[command(flatten)]
    command: crate::connect::RemoteCommand,
}

/// Runs it. Exit status: the remote command's (128+n for a signal), or 255 when the overlay or
/// SSH fails, never 0 for a failure (zssh exits 1 for any remote status).
pub(crate) fn run(cmd: Args) -> ExitCode {
    let fail = |e: &(dyn std::error::Error + 'static)| {
        eprintln!("opk zssh: {}", crate::one_line(e));
        ExitCode::from(opk_ssh::EXIT_SSH_ERROR)
    };
    let identity = match cmd.zconfig {
        Some(p) => p,
        None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(h) => PathBuf::from(h).join(".ziti/zssh.json"),
            None => {
                eprintln!("opk zssh: HOME is not set: set it, or pass -c IDENTITY_FILE");
                return ExitCode::from(opk_ssh::EXIT_SSH_ERROR);
            }
        },
    };
    // Host keys are recorded per target identity and service, never per edge router (zssh's
    // known_hosts entries collide for hosts behind one router).
    let name = cmd.target.rsplit('@').next().unwrap_or(&cmd.target);
    let name = name.split(':').next().unwrap_or(name);
    let tty = cmd.tty.tty();
    let args = opk_ssh::SshArgs {
        options: vec![format!("HostKeyAlias={name}.{}.ziti", cmd.service)],
        destination: cmd.target.clone(),
        command: cmd.command.command,
        identity_files: cmd.ssh_key.into_iter().collect(),
        tty,
        ..Default::default()
    };
    let transport = opk_ziti::OverlayTransport::new(opk_ziti::OverlayOptions {
        identity,
        service: cmd.service,
        totp: cmd
            .totp_command
            .map_or(opk_ziti::TotpSource::Prompt, opk_ziti::TotpSource::Command),
        timeout: Duration::from_secs(30),
    });
    match opk_ssh::ssh_over(&args, &transport) {
        Ok(status) => ExitCode::from(status),
        Err(e) => fail(&e),
    }
}
