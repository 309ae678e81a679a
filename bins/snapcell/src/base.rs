//! `snapcell base build NAME [--suite S] [--include PKG,...]`: a base snap
//! from distribution packages. mmdebstrap (installed with apt-get when
//! missing) makes the root file system; `snapcell_standalone::base` gives
//! it a base's mount points and snap.yaml; it is packed into the cache,
//! keyed by a hash of the inputs, and reused from there the next time.
//!
//! A base is packed with mksquashfs as snapd packs one (`-noappend -comp xz
//! -no-fragments -no-progress`, and without `-all-root`: a base keeps its
//! files' owners, which `snapcell pack`'s in-process writer makes root):
//! it is also much faster on a tree of this size, compressing on every
//! core.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use snapcell_core::naming::validate_snap_name;
use snapcell_standalone::base::{BaseSpec, finish_tree};

/// Where built bases are kept unless `--cache-dir` or `SNAPCELL_CACHE_DIR`
/// says otherwise.
const DEFAULT_CACHE_DIR: &str = "/var/cache/snapcell/bases";

#[derive(clap::Subcommand)]
pub enum BaseCommand {
    /// Build a base snap from Debian packages with mmdebstrap (cached).
    #[command(
        after_help = "The first build of a set of inputs takes about a minute and needs the \
distribution's package archive; later ones reuse the cached .snap at once. \
mmdebstrap is installed with apt-get if it is missing.

Examples:
  snapcell base build bookworm-base
  snapcell base build tools-base --include busybox,ca-certificates -o tools.snap
  snapcell base build trixie-base --suite trixie"
    )]
    Build(BuildArgs),
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The base snap's name (what apps name in `base:`).
    pub name: String,
    /// The distribution suite to install from.
    #[arg(long, default_value = "bookworm")]
    pub suite: String,
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
    validate_snap_name(&args.name).map_err(|e| fail(e.to_string()))?;
    if args.suite.is_empty()
        || !args
            .suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(fail(format!("invalid suite {:?}", args.suite)));
    }
    if let Some(bad) = args.include.iter().find(|p| !valid_package(p.trim())) {
        return Err(fail(format!("invalid package name {bad:?}")));
    }
    let spec = BaseSpec::new(&args.name, &args.suite, &args.include);
    let cache_dir = args
        .cache_dir
        .clone()
        .or_else(|| std::env::var_os("SNAPCELL_CACHE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
    let cached = spec.cache_path(&cache_dir);
    let mut out = String::new();
    if cached.is_file() {
        out.push_str(&format!("cached: {}\n", cached.display()));
    } else {
        std::fs::create_dir_all(&cache_dir)
            .map_err(|e| fail(format!("cannot create {}: {e}", cache_dir.display())))?;
        build_into(&spec, &cache_dir, &cached).map_err(fail)?;
        out.push_str(&format!("built: {}\n", cached.display()));
    }
    if let Some(output) = &args.output {
        std::fs::copy(&cached, output).map_err(|e| {
            fail(format!(
                "cannot copy {} to {}: {e}",
                cached.display(),
                output.display()
            ))
        })?;
        out.push_str(&format!("copied: {}\n", output.display()));
    }
    Ok(out)
}

/// Debian's package name rule (with an optional `:arch`).
fn valid_package(p: &str) -> bool {
    let name = p.split(':').next().unwrap_or("");
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

fn build_into(spec: &BaseSpec, cache_dir: &Path, cached: &Path) -> Result<(), String> {
    ensure_installed("mmdebstrap", "mmdebstrap")?;
    ensure_installed("mksquashfs", "squashfs-tools")?;
    let work = tempfile::Builder::new()
        .prefix(".build-")
        .tempdir_in(cache_dir)
        .map_err(|e| {
            format!(
                "cannot make a build directory in {}: {e}",
                cache_dir.display()
            )
        })?;
    let root = work.path().join("root");
    let status = Command::new("mmdebstrap")
        .args(spec.mmdebstrap_args(&root))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run mmdebstrap: {e}"))?;
    if !status.success() {
        return Err(format!("mmdebstrap failed ({status})"));
    }
    finish_tree(&root, spec).map_err(|e| format!("cannot prepare {}: {e}", root.display()))?;
    let partial = work.path().join("base.snap");
    let status = Command::new("mksquashfs")
        .arg(&root)
        .arg(&partial)
        .args(["-noappend", "-comp", "xz", "-no-fragments", "-no-progress"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run mksquashfs: {e}"))?;
    if !status.success() {
        return Err(format!("mksquashfs failed ({status})"));
    }
    std::fs::rename(&partial, cached)
        .map_err(|e| format!("cannot move the base into {}: {e}", cached.display()))
}

/// Install `package` with apt-get when `program` is not on the PATH.
fn ensure_installed(program: &str, package: &str) -> Result<(), String> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()));
    if found {
        return Ok(());
    }
    eprintln!("{program} is missing: installing {package} with apt-get");
    for args in [
        &["update", "-qq"][..],
        &["install", "-y", "-qq", "--no-install-recommends", package][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run apt-get to install {package}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "cannot install {package}: apt-get {} failed ({status})",
                args.join(" ")
            ));
        }
    }
    Ok(())
}
