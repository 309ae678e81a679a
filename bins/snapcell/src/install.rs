//! `snapcell install` and `snapcell try`.

use std::path::PathBuf;

use snapcell_standalone::manage::{self, Installed};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  snapcell install --dangerous ./hello_1.0_amd64.snap\n  snapcell install ./hello        (a directory: installed in place, as try)"
)]
pub struct InstallArgs {
    /// A .snap file (squashfs) or a snap directory (with meta/snap.yaml).
    pub snap: PathBuf,
    /// Install a local file without assertions (required for .snap files).
    #[arg(long)]
    pub dangerous: bool,
}

#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  snapcell try ./hello            (mounts ./hello read-only at /snap/hello/xN)\n\n\
A missing base that snapcell has a recipe for (debian-12, debian-13) is built with mmdebstrap \
(cached in $SNAPCELL_CACHE_DIR or /var/cache/snapcell/bases) and installed first. At the end, \
snapcell says on standard error how to run the snap's apps."
)]
pub struct TryArgs {
    /// A snap directory (with meta/snap.yaml).
    pub dir: PathBuf,
}

fn said(done: &Installed, how: &str) -> String {
    match &done.previous {
        Some(_) => format!("{} {} refreshed{how}\n", done.name, done.version),
        None => format!("{} {} installed{how}\n", done.name, done.version),
    }
}

pub fn install(args: InstallArgs) -> Result<String, String> {
    let done = manage::install(&args.snap, args.dangerous)?;
    Ok(said(&done, ""))
}

pub fn try_dir(args: TryArgs) -> Result<String, String> {
    if !args.dir.is_dir() {
        return Err(format!(
            "cannot try {}: not a directory (install a .snap file with snapcell install --dangerous)",
            args.dir.display()
        ));
    }
    let done = manage::install(&args.dir, true)?;
    // How to run the apps, for a person: on standard error, as the snap
    // command's hints go there and standard output stays `snap try`'s.
    if let Ok(info) = manage::installed_info(&done.name, &done.revision) {
        eprint!("{}", snapcell_standalone::run::how_to_run(&info));
    }
    Ok(format!(
        "{} {} mounted from {}\n",
        done.name,
        done.version,
        std::fs::canonicalize(&args.dir)
            .unwrap_or(args.dir)
            .display()
    ))
}
