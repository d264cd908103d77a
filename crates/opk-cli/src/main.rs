//! The `opk` binary: parses arguments, calls the library crates, maps errors to exit codes
//! (0 success, 1 failure — opkssh's contract, which sshd and scripts rely on). One module per
//! subcommand holds its arguments and the call into the libraries.
#![forbid(unsafe_code)]

mod add;
mod cli;
mod login;
mod scp;
mod ssh;
mod verify;

use std::process::ExitCode;

use clap::Parser as _;
use cli::{Cli, Command};

fn main() -> ExitCode {
    // opkssh (cobra) exits 1 on every failure, argument errors included; clap would use 2.
    let cli = match Cli::try_parse_from(ssh::options_first(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        // verify prints its own reason and logs it: it must fail closed whatever happens.
        Command::Verify(args) => return verify::run(&args),
        // ssh's exit status is the remote command's (or 255 for its own failures).
        Command::Ssh(args) => return ssh::run(args),
        // scp prints each failed file itself and exits 1 if any failed.
        Command::Scp(args) => return scp::run(args),
        Command::Login(args) => login::run(&args),
        Command::Add(args) => add::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line. Library errors often carry their cause's text in their
/// own message as well as in `source()`; a cause already said is not repeated.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[derive(Debug, thiserror::Error)]
    #[error("request failed: {0}; check the network")]
    struct Repeats(#[source] std::io::Error);

    #[test]
    fn causes_are_said_once_on_one_line() {
        let io = || std::io::Error::other("connection refused");
        let e = anyhow::Error::new(Repeats(io())).context("--provider");
        assert_eq!(
            one_line(e.as_ref()),
            "--provider: request failed: connection refused; check the network"
        );
        let e = anyhow::Error::new(io()).context("Failed to add to policy");
        assert_eq!(
            one_line(e.as_ref()),
            "Failed to add to policy: connection refused"
        );
    }
}
