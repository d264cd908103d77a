//! `opk client provider list`.

use std::io::IsTerminal as _;
use std::path::PathBuf;

/// `opk client`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: ClientCommand,
}

/// `opk client` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ClientCommand {
    /// The providers of the client config.
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
}

/// `opk client provider` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ProviderCommand {
    /// List the aliases and issuers of the client config (the built-in ones when it is missing).
    List {
        /// Client config file [default: ~/.opk/config.yml].
        #[arg(long, value_name = "PATH")]
        config_path: Option<PathBuf>,
    },
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let ClientCommand::Provider {
        command: ProviderCommand::List { config_path },
    } = &args.command;
    let path = match config_path {
        Some(p) => p.clone(),
        None => crate::login::home_dir()?.join(".opk/config.yml"),
    };
    // opkssh fails without a file; login uses the built-in providers then, so those are shown.
    let config = match opk_login::ClientConfig::load(&path)? {
        Some(c) => c,
        None => {
            eprintln!(
                "No client config at {}: these are the built-in providers (opk login --create-config writes them there)",
                path.display()
            );
            opk_login::ClientConfig::builtin()
        }
    };
    print!(
        "{}",
        config.provider_table(std::io::stdout().is_terminal())?
    );
    Ok(())
}
