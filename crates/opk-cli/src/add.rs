//! `opk add PRINCIPAL IDENTITY ISSUER`.

use std::path::PathBuf;

/// `opk add`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Account name on this host.
    pub(crate) principal: String,
    /// Email, subject, oidc:CLAIM:VALUE, oidc-match-end:email:@DOMAIN or repo: glob.
    pub(crate) identity: String,
    /// Issuer URL, or google / azure / microsoft / gitlab / hello.
    pub(crate) issuer: String,
    /// Policy file to edit (default /etc/opk/auth_id, falling back to ~/.opk/auth_id of the
    /// principal when the system file is not writable).
    #[arg(long, env = "OPK_AUTH_ID_FILE")]
    pub(crate) auth_id_file: Option<PathBuf>,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let req = opk_admin::AddRequest {
        principal: &args.principal,
        identity: &args.identity,
        issuer: &args.issuer,
        auth_id_file: args.auth_id_file.as_deref(),
    };
    let path = opk_admin::add(&opk_admin::AdminPaths::default(), &req)?;
    println!("Successfully added new policy to {}", path.display());
    Ok(())
}
