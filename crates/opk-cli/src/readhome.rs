//! `opk readhome <principal>`: opkssh's internal command (run by verify through
//! `sudo -n opk readhome %u`), printing the user's `~/.opk/auth_id` after the H-6 checks.

use std::io::Write as _;

/// `opk readhome`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The user whose ~/.opk/auth_id to print.
    pub(crate) principal: String,
    #[command(flatten)]
    pub(crate) passwd: crate::files::Passwd,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let bytes = opk_admin::read_home_policy(&args.passwd.passwd_file, &args.principal)
        .context("Failed to read user's home policy file")?;
    let mut out = std::io::stdout().lock();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}
