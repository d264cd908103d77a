//! `opk ziti`: OpenZiti identities without other OpenZiti software: `enroll` turns an enrolment
//! token into an identity file, `host` serves a local port as an addressable terminator.

use std::path::PathBuf;

use crate::overlay::TIMEOUT;

/// `opk ziti <enroll|host>`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Enroll an identity from its one-time token (the JWT `ziti edge create identity -o` writes).
    Enroll(Enroll),
    /// Host a service as this identity (addressable by its name) and forward dials to a local port.
    Host(Host),
}

#[derive(clap::Args, Debug)]
struct Enroll {
    #[arg(help = "The enrollment token file (JWT)")]
    jwt: PathBuf,
    #[arg(
        help = "Where to write the identity file (mode 0600) [default: the token's path with .json]",
        short = 'o',
        long = "out"
    )]
    out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct Host {
    #[arg(help = "The hosting identity's file", long = "identity")]
    identity: PathBuf,
    #[arg(help = "The service to host", long = "service", default_value = "zssh")]
    service: String,
    #[arg(
        help = "Local address each dial is forwarded to",
        long = "to",
        default_value = "127.0.0.1:22"
    )]
    to: String,
    #[arg(
        help = "Shell command printing the current TOTP code, when the controller asks for one",
        long = "totp-command"
    )]
    totp_command: Option<String>,
}

pub(crate) fn run(cmd: Args) -> anyhow::Result<()> {
    match cmd.action {
        Action::Enroll(e) => {
            let out = e.out.unwrap_or_else(|| e.jwt.with_extension("json"));
            let done = opk_ziti::enroll_to_file(&e.jwt, &out, TIMEOUT)?;
            println!(
                "Enrolled identity {} of {}: wrote {}",
                done.identity_id,
                done.controller,
                out.display()
            );
            Ok(())
        }
        Action::Host(h) => {
            let options = opk_ziti::HostOptions {
                identity: h.identity,
                service: h.service,
                to: h.to,
                totp: h
                    .totp_command
                    .map_or(opk_ziti::TotpSource::Prompt, opk_ziti::TotpSource::Command),
                timeout: TIMEOUT,
            };
            let mut ready = |name: &str| {
                eprintln!(
                    "opk ziti host: hosting {} as {name}, forwarding to {}",
                    options.service, options.to
                );
            };
            opk_ssh::block_on(opk_ziti::host(&options, &mut ready))??;
            Ok(())
        }
    }
}
