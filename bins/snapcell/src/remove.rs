//! `snapcell remove` and `snapcell revert`.

use snapcell_standalone::manage;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  snapcell remove hello\n  snapcell remove --purge hello")]
pub struct RemoveArgs {
    /// The snap's name.
    pub name: String,
    /// Remove the data without keeping a snapshot (snapcell keeps none either way).
    #[arg(long)]
    pub purge: bool,
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  snapcell revert hello           (back to the revision before the current one)"
)]
pub struct RevertArgs {
    /// The snap's name.
    pub name: String,
}

pub fn remove(args: RemoveArgs) -> Result<String, String> {
    manage::remove(&args.name, args.purge)?;
    Ok(format!("{} removed\n", args.name))
}

pub fn revert(args: RevertArgs) -> Result<String, String> {
    let (version, _rev) = manage::revert(&args.name)?;
    Ok(format!("{} reverted to {version}\n", args.name))
}
