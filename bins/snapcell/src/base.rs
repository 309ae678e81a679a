//! `snapcell base build NAME [--suite S] [--include PKG,...]`: a base snap
//! from distribution packages, built by `snapcell_standalone::base`
//! (mmdebstrap, installed with apt-get when missing; the mount points and
//! snap.yaml of a base; mksquashfs), kept in the cache keyed by a hash of
//! the inputs and reused from there the next time.

use std::path::PathBuf;

use snapcell_standalone::base::{self as base_lib, BaseSpec, recipe};

#[derive(clap::Subcommand)]
pub enum BaseCommand {
    /// Build a base snap from Debian packages with mmdebstrap (cached).
    #[command(
        after_help = "The first build of a set of inputs takes about a minute and needs the \
distribution's package archive; later ones reuse the cached .snap at once. \
mmdebstrap is installed with apt-get if it is missing. snapcell install and try build \
debian-12 (bookworm) and debian-13 (trixie) by themselves when a snap needs them.

Examples:
  snapcell base build debian-12
  snapcell base build tools-base --include busybox,ca-certificates -o tools.snap
  snapcell base build trixie-base --suite trixie"
    )]
    Build(BuildArgs),
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The base snap's name (what apps name in `base:`).
    pub name: String,
    /// The distribution suite to install from [default: the recipe's for debian-12 and
    /// debian-13, else bookworm].
    #[arg(long)]
    pub suite: Option<String>,
    /// Packages to install besides the minimal set.
    #[arg(long, value_delimiter = ',', value_name = "PKG,...")]
    pub include: Vec<String>,
    /// Also copy the .snap here (it is always kept in the cache).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The cache directory [default: $SNAPCELL_CACHE_DIR or /var/cache/snapcell/bases].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub fn run(cmd: BaseCommand) -> Result<String, String> {
    match cmd {
        BaseCommand::Build(args) => build(args),
    }
}

fn build(args: BuildArgs) -> Result<String, String> {
    let fail = |why: String| format!("cannot build base {:?}: {why}", args.name);
    let suite = args
        .suite
        .clone()
        .or_else(|| recipe(&args.name).map(|r| r.suite.to_owned()))
        .unwrap_or_else(|| "bookworm".to_owned());
    base_lib::check_spec(&args.name, &suite, &args.include).map_err(fail)?;
    let spec = BaseSpec::new(&args.name, &suite, &args.include);
    let cache_dir = base_lib::cache_dir(args.cache_dir.as_deref());
    let built = base_lib::build(&spec, &cache_dir).map_err(fail)?;
    let mut out = if built.cached {
        format!("cached: {}\n", built.path.display())
    } else {
        format!("built: {}\n", built.path.display())
    };
    if let Some(output) = &args.output {
        std::fs::copy(&built.path, output).map_err(|e| {
            fail(format!(
                "cannot copy {} to {}: {e}",
                built.path.display(),
                output.display()
            ))
        })?;
        out.push_str(&format!("copied: {}\n", output.display()));
    }
    Ok(out)
}
