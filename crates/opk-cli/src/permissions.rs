//! `opk permissions check|fix`: opkssh's command, with opk's rule (owned by root, not writable by
//! group or others) and the exact fix named for each problem.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use opk_admin::permissions::{Action, PathReport, apply, check};

use crate::files::ServerFiles;

/// `opk permissions`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// check or fix.
    #[command(subcommand)]
    pub(crate) action: Mode,
}

/// What to do.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum Mode {
    /// Report owner and mode of each server file; exit 1 if any is unsafe or missing.
    Check {
        #[command(flatten)]
        files: ServerFiles,
    },
    /// Make the changes that fix what `check` reports.
    Fix {
        #[command(flatten)]
        files: ServerFiles,
        /// Print the changes, make none.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask before making them.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

fn report(reports: &[PathReport]) -> bool {
    let mut clean = true;
    for r in reports {
        match r.stat {
            Some((uid, mode)) => println!("{}: owner={uid} mode={mode:04o}", r.path.display()),
            None => println!("{}: missing", r.path.display()),
        }
        for line in r.problem_lines() {
            clean = false;
            println!("Problem: {line}");
        }
    }
    clean
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    match &args.action {
        Mode::Check { files } => Ok(if report(&check(&files.paths())) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }),
        Mode::Fix {
            files,
            dry_run,
            yes,
        } => {
            let actions: Vec<Action> = check(&files.paths())
                .iter()
                .flat_map(PathReport::fixes)
                .collect();
            for a in &actions {
                println!("Action: {a}");
            }
            if *dry_run {
                println!("dry-run complete");
                return Ok(ExitCode::SUCCESS);
            }
            if actions.is_empty() {
                println!("nothing to fix");
                return Ok(ExitCode::SUCCESS);
            }
            if !yes {
                print!("Apply these changes? [y/N]: ");
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    anyhow::bail!("nothing changed (answer y, or pass -y)");
                }
            }
            apply(&actions)?;
            println!("fix completed successfully");
            Ok(ExitCode::SUCCESS)
        }
    }
}
