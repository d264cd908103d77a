//! `opk audit`: opkssh's policy audit (its flags and statuses), plus the risky rows opkssh does
//! not flag (O-3, O-8, H-1, H-2, H-3).

use std::process::ExitCode;

use crate::files::ServerFiles;

/// `opk audit`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) files: ServerFiles,
    /// Do not read the users' ~/.opk/auth_id.
    #[arg(long)]
    pub(crate) skip_user_policy: bool,
    /// A JSON report on stdout (opkssh's keys).
    #[arg(short = 'j', long)]
    pub(crate) json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let report = opk_admin::audit::audit(&args.files.paths(), args.skip_user_policy)?;
    if args.json {
        println!("{:#}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
