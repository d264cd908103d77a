//! A remote command or shell wired to the local stdio, ending with the remote exit status.

use std::io::{IsTerminal as _, Read as _};

use russh::{ChannelMsg, Sig};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

use crate::client::Session;
use crate::error::Error;
use crate::escape::{Action, Escape, HELP};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The command line; `None` for a login shell.
    pub command: Option<String>,
    /// Request a PTY (the local terminal goes raw while the session runs).
    pub pty: bool,
    /// Environment sent before the command (as `SendEnv`); servers drop what `AcceptEnv` lacks.
    pub env: Vec<(String, String)>,
    /// Do not read stdin (`-n`, `-N`-like use): the remote side sees EOF at once.
    pub stdin_null: bool,
}

/// OpenSSH's exit status for its own failures and for `~.`.
pub const EXIT_SSH_ERROR: u8 = 255;

/// 128 + SIGPIPE: what `opk ssh` returns when its stdout reader goes away.
const SIGPIPE_STATUS: u8 = 128 + 13;

/// Puts the terminal in raw mode until dropped (also on error paths).
struct RawMode;

impl RawMode {
    fn enable() -> Result<Self, Error> {
        crossterm::terminal::enable_raw_mode().map_err(Error::Stdio)?;
        Ok(Self)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Linux signal numbers by SSH name (RFC 4254 section 6.10 names without "SIG").
fn signal_number(sig: &Sig) -> u8 {
    let name = match sig {
        Sig::ABRT => "ABRT",
        Sig::ALRM => "ALRM",
        Sig::FPE => "FPE",
        Sig::HUP => "HUP",
        Sig::ILL => "ILL",
        Sig::INT => "INT",
        Sig::KILL => "KILL",
        Sig::PIPE => "PIPE",
        Sig::QUIT => "QUIT",
        Sig::SEGV => "SEGV",
        Sig::TERM => "TERM",
        Sig::USR1 => "USR1",
        Sig::Custom(s) => s.as_str(),
    };
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "XCPU" => 24,
        "XFSZ" => 25,
        // An unknown name has no number: report it as a failure of its own kind.
        _ => return EXIT_SSH_ERROR,
    };
    128 + n
}

/// Reads stdin on a plain thread: a blocking read cannot be cancelled, and a thread left in
/// `read` does not keep the process alive at exit (tokio's stdin would hold up the runtime).
fn spawn_stdin() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

fn terminal_size() -> (u32, u32) {
    crossterm::terminal::size()
        .map(|(c, r)| (u32::from(c), u32::from(r)))
        .unwrap_or((80, 24))
}

/// Runs the command (or shell) and returns its exit status: the remote one, 128+n for a
/// signal, [`EXIT_SSH_ERROR`] for `~.`.
pub async fn run(session: &Session, opts: &RunOptions) -> Result<u8, Error> {
    let mut ch = session.open_session().await?;
    if session.forward_agent {
        ch.agent_forward(false).await.map_err(Error::Session)?;
    }
    for (k, v) in &opts.env {
        ch.set_env(false, k.as_str(), v.as_str())
            .await
            .map_err(Error::Session)?;
    }
    let interactive = opts.pty && std::io::stdin().is_terminal();
    if opts.pty {
        let term = std::env::var("TERM").unwrap_or_else(|_| "xterm".into());
        let (cols, rows) = terminal_size();
        ch.request_pty(false, &term, cols, rows, 0, 0, &[])
            .await
            .map_err(Error::Session)?;
    }
    let what = match &opts.command {
        Some(cmd) => {
            ch.exec(true, cmd.as_bytes())
                .await
                .map_err(Error::Session)?;
            "exec"
        }
        None => {
            ch.request_shell(true).await.map_err(Error::Session)?;
            "shell"
        }
    };
    let raw = if interactive {
        Some(RawMode::enable()?)
    } else {
        None
    };
    let mut winch = if opts.pty {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()).ok()
    } else {
        None
    };
    let mut stdin = if opts.stdin_null {
        ch.eof().await.map_err(Error::Session)?;
        None
    } else {
        Some(spawn_stdin())
    };
    let mut escape = interactive.then(Escape::default);
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    let mut status: Option<u8> = None;
    let mut confirmed = false;
    loop {
        tokio::select! {
            msg = ch.wait() => match msg {
                Some(ChannelMsg::Success) => confirmed = true,
                Some(ChannelMsg::Failure) if !confirmed => return Err(Error::Refused { what }),
                Some(ChannelMsg::Data { data }) => {
                    let written = match stdout.write_all(&data).await {
                        Ok(()) => stdout.flush().await,
                        Err(e) => Err(e),
                    };
                    match written {
                        Ok(()) => {}
                        // `opk ssh host cmd | head`: the reader left. End quietly with the
                        // status a shell shows for a pipeline member killed by SIGPIPE.
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                            let _ = ch.close().await;
                            return Ok(SIGPIPE_STATUS);
                        }
                        Err(e) => return Err(Error::Stdio(e)),
                    }
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    stderr.write_all(&data).await.map_err(Error::Stdio)?;
                    stderr.flush().await.map_err(Error::Stdio)?;
                }
                Some(ChannelMsg::ExitStatus { exit_status }) => {
                    // Only the low 8 bits reach a local parent, as with OpenSSH.
                    status = Some((exit_status & 0xff) as u8);
                }
                Some(ChannelMsg::ExitSignal { signal_name, .. }) => {
                    status = Some(signal_number(&signal_name));
                }
                Some(ChannelMsg::Close) | None => break,
                Some(_) => {}
            },
            chunk = async { stdin.as_mut()?.recv().await }, if stdin.is_some() => match chunk {
                Some(bytes) => {
                    let (send, action) = match escape.as_mut() {
                        Some(e) => e.feed(&bytes),
                        None => (bytes, Action::None),
                    };
                    if !send.is_empty() {
                        ch.data(&send[..]).await.map_err(Error::Session)?;
                    }
                    match action {
                        Action::None => {}
                        Action::Help => {
                            stderr.write_all(HELP.as_bytes()).await.map_err(Error::Stdio)?;
                            stderr.flush().await.map_err(Error::Stdio)?;
                        }
                        Action::Disconnect => {
                            drop(raw);
                            eprintln!("\nConnection to {} closed.", session.host);
                            session.close().await;
                            return Ok(EXIT_SSH_ERROR);
                        }
                    }
                }
                None => {
                    stdin = None;
                    let _ = ch.eof().await;
                }
            },
            _ = async { winch.as_mut()?.recv().await }, if winch.is_some() => {
                let (cols, rows) = terminal_size();
                ch.window_change(cols, rows, 0, 0).await.map_err(Error::Session)?;
            }
        }
    }
    drop(raw);
    if interactive {
        eprintln!("Connection to {} closed.", session.host);
    }
    status.ok_or(Error::NoExitStatus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_map_to_128_plus_n() {
        assert_eq!(signal_number(&Sig::TERM), 143);
        assert_eq!(signal_number(&Sig::KILL), 137);
        assert_eq!(signal_number(&Sig::Custom("USR2".into())), 140);
        assert_eq!(signal_number(&Sig::Custom("NOPE".into())), EXIT_SSH_ERROR);
    }
}
