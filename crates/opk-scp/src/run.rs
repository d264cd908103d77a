//! `opk scp` from operands to a summary: classify the operands, connect with opk-ssh exactly as
//! `opk ssh` would (ssh_config, `-o`, known_hosts, the opk certificate), open the `sftp`
//! subsystem and copy.

use std::path::PathBuf;

use opk_ssh::{Plan, SshArgs, Tcp, Transport, Tty};

use crate::engine::{Options, Summary, download, upload};
use crate::error::Error;
use crate::operand::{Operand, Remote, parse_operand};
use crate::remote_path::resolve_remote;

/// `opk scp`'s arguments, as parsed by the CLI.
#[derive(Debug, Clone, Default)]
pub struct ScpArgs {
    /// Sources, then the destination last (as on the command line).
    pub operands: Vec<String>,
    /// `-r`, `-p`, progress.
    pub options: Options,
    /// `-P`.
    pub port: Option<u16>,
    /// `-i`.
    pub identity_files: Vec<PathBuf>,
    /// `-o`.
    pub ssh_options: Vec<String>,
    /// `-F`.
    pub config_file: Option<PathBuf>,
    /// `-J`.
    pub jump: Option<String>,
}

fn ssh_err(e: opk_ssh::Error) -> Error {
    Error::Ssh(Box::new(e))
}

enum Direction {
    Up(Vec<PathBuf>),
    Down(Vec<String>, PathBuf),
}

fn same_host(a: &Remote, b: &Remote) -> bool {
    (&a.user, &a.host, a.port) == (&b.user, &b.host, b.port)
}

fn classify(operands: &[String]) -> Result<(Remote, Direction), Error> {
    let Some((dest, sources)) = operands.split_last() else {
        return Err(Error::NoRemote);
    };
    let sources: Vec<Operand> = sources.iter().map(|s| parse_operand(s)).collect();
    match parse_operand(dest) {
        Operand::Remote(r) => {
            let mut locals = Vec::new();
            for s in sources {
                match s {
                    Operand::Local(p) => locals.push(p),
                    Operand::Remote(_) => {
                        return Err(Error::Direction(
                            "remote-to-remote copies are not supported",
                        ));
                    }
                }
            }
            Ok((r, Direction::Up(locals)))
        }
        Operand::Local(d) => {
            let mut host: Option<Remote> = None;
            let mut paths = Vec::new();
            for s in sources {
                match s {
                    Operand::Local(_) => {
                        return Err(match host {
                            Some(_) => Error::Direction("local and remote sources cannot be mixed"),
                            None => Error::NoRemote,
                        });
                    }
                    Operand::Remote(r) => {
                        if let Some(h) = &host
                            && !same_host(h, &r)
                        {
                            return Err(Error::Direction(
                                "all remote sources must be on the same host",
                            ));
                        }
                        paths.push(r.path.clone());
                        host.get_or_insert(r);
                    }
                }
            }
            let host = host.ok_or(Error::NoRemote)?;
            Ok((host, Direction::Down(paths, d)))
        }
    }
}

/// Runs the copy; each failed file goes to `report` as it happens. `Err` means nothing could be
/// copied (bad operands, no connection); `Ok` with `errors > 0` means some files failed.
pub fn scp(args: &ScpArgs, report: &mut dyn FnMut(&Error)) -> Result<Summary, Error> {
    scp_over(args, &Tcp, report)
}

/// [`scp`] whose first hop goes through `transport` instead of TCP (`opk zscp`: the overlay,
/// where the operand's host is the identity hosting the SSH server).
pub fn scp_over(
    args: &ScpArgs,
    transport: &dyn Transport,
    report: &mut dyn FnMut(&Error),
) -> Result<Summary, Error> {
    let (remote, direction) = classify(&args.operands)?;
    let host = if remote.host.contains(':') {
        format!("[{}]", remote.host)
    } else {
        remote.host.clone()
    };
    let destination = match &remote.user {
        Some(u) => format!("{u}@{host}"),
        None => host,
    };
    let ssh_args = SshArgs {
        destination,
        port: args.port.or(remote.port),
        identity_files: args.identity_files.clone(),
        options: args.ssh_options.clone(),
        config_file: args.config_file.clone(),
        jump: args.jump.clone(),
        tty: Tty::Never,
        stdin_null: true,
        ..SshArgs::default()
    };
    let plan = Plan::resolve(&ssh_args).map_err(ssh_err)?;
    let opts = args.options;
    opk_ssh::block_on(async move {
        let session = opk_ssh::connect(&plan.connect, transport)
            .await
            .map_err(ssh_err)?;
        let stream = session.subsystem("sftp").await.map_err(ssh_err)?;
        let sftp = crate::start(stream).await?;
        let summary = match direction {
            Direction::Up(locals) => {
                let dest = resolve_remote(&sftp, &remote.path).await;
                upload(&sftp, &locals, &dest, opts, report).await
            }
            Direction::Down(paths, dest) => {
                let mut resolved = Vec::with_capacity(paths.len());
                for p in &paths {
                    resolved.push(resolve_remote(&sftp, p).await);
                }
                download(&sftp, &resolved, &dest, opts, report).await
            }
        };
        let _ = sftp.close().await;
        session.close().await;
        Ok(summary)
    })
    .map_err(ssh_err)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn directions() {
        assert!(
            matches!(classify(&ops(&["a", "b", "h:d"])), Ok((_, Direction::Up(l))) if l.len() == 2)
        );
        assert!(
            matches!(classify(&ops(&["h:a", "h:b", "."])), Ok((_, Direction::Down(p, _))) if p == ["a", "b"])
        );
        assert!(matches!(classify(&ops(&["a", "b"])), Err(Error::NoRemote)));
        assert!(matches!(
            classify(&ops(&["h:a", "g:b"])),
            Err(Error::Direction(_))
        ));
        assert!(matches!(
            classify(&ops(&["h:a", "u@h:b", "."])),
            Err(Error::Direction(_))
        ));
        assert!(matches!(
            classify(&ops(&["h:a", "b", "."])),
            Err(Error::Direction(_))
        ));
        assert!(matches!(
            classify(&ops(&["a", "h:b", "."])),
            Err(Error::NoRemote)
        ));
    }
}
