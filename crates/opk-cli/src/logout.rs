//! `opk logout`.

use std::path::PathBuf;

/// `opk logout`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Remove only this key pair (PATH and PATH-cert.pub); refused unless opk wrote it.
    #[arg(short = 'i', long = "private-key-file", value_name = "PATH")]
    pub(crate) private_key_file: Option<PathBuf>,
    /// Say on stderr why each key found was kept.
    #[arg(short = 'v', long)]
    pub(crate) verbose: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let home = match &args.private_key_file {
        Some(_) => PathBuf::new(),
        None => crate::login::home_dir()?,
    };
    let socket = std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    let report = opk_login::logout(&home, args.private_key_file.as_deref(), socket.as_deref())?;
    if args.verbose {
        for (key, why) in &report.kept {
            eprintln!("Skipping {}: {why}", key.display());
        }
    }
    for (key, cert) in &report.removed {
        println!("Removed {} and {}", key.display(), cert.display());
    }
    if report.agent_removed > 0 {
        println!(
            "Removed {} identity(ies) from ssh-agent",
            report.agent_removed
        );
    }
    if let Some(e) = &report.agent_error {
        eprintln!("Warning: ssh-agent not cleaned up: {}", crate::one_line(e));
    }
    // opkssh's closing lines.
    match (report.removed.len(), &args.private_key_file) {
        (0, _) => println!("No opkssh keys found to remove"),
        (_, Some(key)) => println!("Successfully removed opkssh key pair: {}", key.display()),
        (n, None) => println!("Successfully removed {n} opkssh key pair(s)"),
    }
    Ok(())
}
