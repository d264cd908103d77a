//! `opk ssh`: OpenSSH-style flags in, [`opk_ssh::ssh`] does the work; its exit status out.

use std::ffi::OsString;
use std::process::ExitCode;

/// `opk ssh [options] [user@]host [command...]`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    // Help texts are attributes, not doc comments: rustdoc would read `[user@]` as links.
    #[arg(help = "Port to connect to", short = 'p')]
    port: Option<u16>,
    #[arg(help = "User to log in as", short = 'l')]
    login: Option<String>,
    #[command(flatten)]
    connect: crate::connect::ConnectFlags,
    #[command(flatten)]
    tty: crate::connect::TtyFlags,
    #[arg(
        help = "Local forward [bind:]port:host:hostport. Repeatable",
        short = 'L'
    )]
    local: Vec<String>,
    #[arg(
        help = "Remote forward [bind:]port:host:hostport. Repeatable",
        short = 'R'
    )]
    remote: Vec<String>,
    #[arg(help = "SOCKS5 proxy on [bind:]port. Repeatable", short = 'D')]
    dynamic: Vec<String>,
    #[arg(
        help = "Forward the ssh-agent (SSH_AUTH_SOCK) to the server",
        short = 'A'
    )]
    forward_agent: bool,
    #[arg(help = "No remote command (forwarding only)", short = 'N')]
    no_command: bool,
    #[arg(help = "Read stdin from /dev/null", short = 'n')]
    stdin_null: bool,
    #[arg(help = "[user@]host[:port], or a Host alias of ssh_config")]
    destination: String,
    #[command(flatten)]
    command: crate::connect::RemoteCommand,
}

/// Runs it. Exit status: the remote command's (128+n for a signal), or 255 when opk ssh itself
/// fails (as OpenSSH), so scripts can tell the two apart.
pub(crate) fn run(cmd: Args) -> ExitCode {
    let tty = cmd.tty.tty();
    let args = opk_ssh::SshArgs {
        destination: cmd.destination,
        command: cmd.command.command,
        port: cmd.port,
        login: cmd.login,
        identity_files: cmd.connect.identity,
        options: cmd.connect.option,
        config_file: cmd.connect.config,
        tty,
        local: cmd.local,
        remote: cmd.remote,
        dynamic: cmd.dynamic,
        jump: cmd.connect.jump,
        forward_agent: cmd.forward_agent,
        no_command: cmd.no_command,
        stdin_null: cmd.stdin_null,
    };
    match opk_ssh::ssh(&args) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("opk ssh: {}", crate::one_line(&e));
            ExitCode::from(opk_ssh::EXIT_SSH_ERROR)
        }
    }
}

/// Flags of `opk ssh` that take a value (the others are switches).
const VALUE_FLAGS: &[u8] = b"plioFLRDJ";
/// Switches of `opk ssh`.
const SWITCHES: &[u8] = b"tTANn";

/// OpenSSH reads options after the destination too (`ssh host -p 2222 uptime`); clap would take
/// them for the command. Moves flags that follow the destination in front of it, up to the first
/// word that is not one of our flags (where the command starts). Other commands are untouched.
pub(crate) fn options_first(mut argv: Vec<OsString>) -> Vec<OsString> {
    if argv.get(1).is_none_or(|a| a != "ssh") {
        return argv;
    }
    // Find the destination: the first word after `ssh` that is neither a flag nor a flag's value.
    let mut i = 2;
    let mut dest = None;
    while i < argv.len() {
        let a = argv[i].to_string_lossy();
        if a == "--" {
            break;
        }
        match flag_words(&a) {
            Some(n) => i += n,
            None => {
                dest = Some(i);
                break;
            }
        }
    }
    let Some(dest) = dest else { return argv };
    let mut j = dest + 1;
    while j < argv.len() {
        let a = argv[j].to_string_lossy();
        match flag_words(&a) {
            Some(n) if j + n <= argv.len() => j += n,
            _ => break,
        }
    }
    if j > dest + 1 {
        // [.., dest, flags.., rest] -> [.., flags.., dest, rest]
        argv[dest..j].rotate_left(1);
    }
    argv
}

/// How many words `a` takes as one of our flags (1 or 2), or `None` if it is not one.
fn flag_words(a: &str) -> Option<usize> {
    let b = a.as_bytes();
    if b.len() < 2 || b[0] != b'-' || b[1] == b'-' {
        return None;
    }
    // Switch clusters like -tt, -NT, ending possibly in a value flag (-Np 22, -Np22).
    for (k, c) in b[1..].iter().enumerate() {
        if VALUE_FLAGS.contains(c) {
            return Some(if k + 2 == b.len() { 2 } else { 1 });
        }
        if !SWITCHES.contains(c) {
            return None;
        }
    }
    Some(1)
}

#[cfg(test)]
mod tests {
    use super::options_first;

    fn run(args: &[&str]) -> Vec<String> {
        let argv = std::iter::once("opk")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        options_first(argv)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn flags_after_the_destination_move_before_it() {
        assert_eq!(
            run(&["ssh", "host", "-p", "2222", "-tt", "uptime", "-x"]),
            ["opk", "ssh", "-p", "2222", "-tt", "host", "uptime", "-x"]
        );
        assert_eq!(
            run(&["ssh", "-i", "k", "host", "-oUser=a", "ls", "-l"]),
            ["opk", "ssh", "-i", "k", "-oUser=a", "host", "ls", "-l"]
        );
        // The command's own flags stay: `ls -l` starts at `ls`.
        assert_eq!(
            run(&["ssh", "host", "ls", "-p"]),
            ["opk", "ssh", "host", "ls", "-p"]
        );
        // Unknown flags after the host start the command, as do words.
        assert_eq!(run(&["ssh", "host", "-x"]), ["opk", "ssh", "host", "-x"]);
        // Other subcommands are untouched.
        assert_eq!(run(&["login", "x", "-p"]), ["opk", "login", "x", "-p"]);
        // A value flag at the very end is left for clap to report.
        assert_eq!(run(&["ssh", "host", "-p"]), ["opk", "ssh", "host", "-p"]);
    }
}
