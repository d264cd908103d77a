//! `opk install`: opkssh's installer's server set-up (sshd drop-in, opksshuser, sudoers rule,
//! /etc/opk, the log), pointing at this opk; migrates an opkssh install in place.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use opk_admin::install::{InstallOptions, apply, plan};

/// `opk install`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Print every change it would make, one per line, and make none.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Install into the tree under DIR (DIR/etc/ssh, DIR/etc/opk, ...; the drop-in points verify
    /// at them); the user is not created then: --user must name an existing one.
    #[arg(long, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// AuthorizedKeysCommandUser, whose group may read /etc/opk (created unless --root).
    #[arg(long, value_name = "NAME", default_value = "opksshuser")]
    pub(crate) user: String,
    /// No sudoers rule for `opk readhome`: home policies only where verify may read them itself.
    #[arg(long)]
    pub(crate) no_home_policy: bool,
    #[command(flatten)]
    pub(crate) passwd: crate::files::Passwd,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let opk = std::env::current_exe().context("cannot find the opk binary's own path")?;
    let root = match &args.root {
        Some(dir) => std::path::absolute(dir)
            .with_context(|| format!("cannot resolve --root {}", dir.display()))?,
        None => PathBuf::from("/"),
    };
    let opts = InstallOptions {
        create_user: args.root.is_none(),
        root,
        opk,
        user: args.user.clone(),
        home_policy: !args.no_home_policy,
        passwd: args.passwd.passwd_file.clone(),
        group: PathBuf::from("/etc/group"),
    };
    let plan = plan(&opts)?;
    for note in &plan.notes {
        println!("{note}");
    }
    for change in &plan.changes {
        println!("{}", change.line(&opts.user));
    }
    if plan.changes.is_empty() {
        println!(
            "nothing to change: opk is installed in {}",
            opts.root.display()
        );
    } else if args.dry_run {
        println!("dry run: nothing changed ({} changes)", plan.changes.len());
    } else {
        apply(&opts, &plan)?;
        println!(
            "installed ({} changes); check with `sshd -t`, then reload sshd (systemctl reload ssh)",
            plan.changes.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
