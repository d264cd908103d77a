//! The `opk` binary: parses arguments, calls the library crates, maps errors to exit codes
//! (0 success, 1 failure — opkssh's contract, which sshd and scripts rely on). One module per
//! subcommand holds its arguments and the call into the libraries.
#![forbid(unsafe_code)]

mod add;
mod audit;
mod cli;
mod client;
mod connect;
mod docs;
mod files;
mod inspect;
mod install;
mod login;
mod logout;
mod overlay;
mod permissions;
mod readhome;
mod scp;
mod ssh;
mod verify;
mod ziti;
mod zscp;
mod zssh;

use std::process::ExitCode;

use clap::Parser as _;
use cli::{Cli, Command, VerifyCommand, VerifyOnly};

fn main() -> ExitCode {
    // Bare `opk` prints help and exits 0, as opkssh does (clap would call it an error).
    if std::env::args_os().len() <= 1 {
        let _ = <Cli as clap::CommandFactory>::command().print_help();
        return ExitCode::SUCCESS;
    }
    let argv = as_invoked(std::env::args_os().collect());
    if argv.get(1).is_some_and(|a| a == "verify") {
        return match VerifyOnly::try_parse_from(argv) {
            Ok(VerifyOnly {
                command: VerifyCommand::Verify(args),
            }) => verify::run(&args),
            Err(e) => clap_exit(&e),
        };
    }
    let cli = match Cli::try_parse_from(ssh::options_first(argv)) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let result = match cli.command {
        // verify prints its own reason and logs it: it must fail closed whatever happens.
        Command::Verify(args) => return verify::run(&args),
        // ssh's exit status is the remote command's (or 255 for its own failures).
        Command::Ssh(args) => return ssh::run(args),
        // scp prints each failed file itself and exits 1 if any failed.
        Command::Scp(args) => return scp::run(args),
        Command::Zssh(args) => return zssh::run(*args),
        Command::Zscp(args) => return zscp::run(*args),
        // Both exit 1 when they find a problem, as opkssh's do.
        Command::Audit(args) => audit::run(&args),
        Command::Permissions(args) => permissions::run(&args),
        Command::Install(args) => install::run(&args),
        Command::Ziti(args) => ziti::run(args).map(|()| ExitCode::SUCCESS),
        Command::Login(args) => login::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Completions(args) => docs::completions(&args).map(|()| ExitCode::SUCCESS),
        Command::Man(args) => docs::man(&args).map(|()| ExitCode::SUCCESS),
        Command::Logout(args) => logout::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Client(args) => client::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Add(args) => add::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Inspect(args) => inspect::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Readhome(args) => readhome::run(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {}", one_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Prints clap's message; opkssh (cobra) exits 1 on every failure, argument errors included
/// (clap would use 2), and 0 for `--help` and `--version`.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Invoked as `zssh` or `zscp` (a link to the binary under that name), opk is that tool:
/// `zssh ARGS` runs as `opk zssh ARGS`.
fn as_invoked(mut argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let name = argv
        .first()
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .map(str::to_owned);
    if let Some(tool @ ("zssh" | "zscp")) = name.as_deref() {
        argv.insert(1, tool.into());
        argv[0] = "opk".into();
    }
    argv
}

/// The error and its causes on one line, joined by ": ". Library errors say each cause once
/// (in their message or as `source()`, never both), so the chain is printed as it is.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::one_line;

    /// Fails if some error in `e`'s chain repeats the text of its cause.
    fn assert_said_once(e: &(dyn std::error::Error + 'static)) {
        let mut parent = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            let text = c.to_string();
            assert!(
                !parent.contains(&text),
                "{parent:?} repeats its cause {text:?}"
            );
            parent = text;
            cause = c.source();
        }
    }

    #[test]
    fn the_chain_is_joined_on_one_line() {
        let io = std::io::Error::other("connection refused");
        let e = anyhow::Error::new(io).context("Failed to add to policy\nfor alice");
        assert_eq!(
            one_line(e.as_ref()),
            "Failed to add to policy for alice: connection refused"
        );
    }

    /// One real error per library wrapper that `opk` prints: none may say a cause twice now
    /// that `one_line` prints every cause.
    #[test]
    fn library_errors_say_each_cause_once() {
        let plain_key = "AAAAC3NzaC1lZDI1NTE5AAAAIBxCN4w2PPkQMjeOb4p1D1I3aKh1lqL4fqz1Ib8cKjKT";
        let cert = opk_sshcert::OpkCert::parse("ssh-ed25519", plain_key).expect_err("plain key");
        assert_said_once(&opk_verify::Error::from(cert));
        let url = opk_http::check_url("http://example.com/").expect_err("plain http");
        assert_said_once(&opk_verify::Error::from(opk_jwks::Error::from(url)));
        let pkt = opk_pktoken::PkToken::from_compact("x.y").expect_err("not a PK Token");
        assert_said_once(&opk_verify::Error::from(pkt));
        let choice = opk_login::ProviderChoice {
            provider: Some("http://example.com,client"),
            ..Default::default()
        };
        let provider = opk_login::resolve_provider(&choice).expect_err("plain http");
        assert!(provider.source().is_some());
        assert_said_once(&provider);
        let dir = tempfile::tempdir().expect("tmp");
        let add = opk_admin::add(
            &opk_admin::AdminPaths::default(),
            &opk_admin::AddRequest {
                principal: "guest,root",
                identity: "x@example.com",
                issuer: "google",
                auth_id_file: Some(&dir.path().join("auth_id")),
            },
        )
        .expect_err("H-1");
        assert!(add.source().is_some());
        assert_said_once(&add);
    }
}
