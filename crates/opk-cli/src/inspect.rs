//! `opk inspect <cert|file|->`: opkssh's inspect (same section titles and field names), plus the
//! token's expiry under each providers policy.

use std::io::Read as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// `opk inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A -cert.pub file, the certificate line itself, or - for stdin.
    pub(crate) input: String,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let text = if args.input == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else if Path::new(&args.input).is_file() {
        std::fs::read_to_string(&args.input)
            .with_context(|| format!("cannot read {}", args.input))?
    } else {
        args.input.clone()
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    print!("{}", opk_admin::inspect::inspect(&text, now)?);
    Ok(())
}
