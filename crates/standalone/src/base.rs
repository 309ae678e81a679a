//! Base snaps built from distribution packages (`snapcell base build`, and
//! `install`/`try` when a snap's base is missing and snapcell knows a
//! recipe for it): the root file system comes from mmdebstrap; this module
//! gives it what a snap base carries (the mount points snap-confine and
//! snap-update-ns use, a `meta/snap.yaml` of `type: base`, no device
//! nodes), packs it with mksquashfs and keeps it in a cache named by a
//! hash of the inputs.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use snapcell_core::naming::validate_snap_name;
use snapcell_core::snap_yaml::{SnapInfo, SnapType};

/// The directories a snap base carries as mount points (snapd's bases
/// have them; snap-confine binds the host's or the snap's over them).
pub const BASE_DIRS: &[&str] = &[
    "bin",
    "dev",
    "etc",
    "home",
    "root",
    "proc",
    "sys",
    "tmp",
    "var/snap",
    "var/lib/snapd",
    "var/lib/snapd/hostfs",
    "var/tmp",
    "var/log",
    "run",
    "lib/modules",
    "lib/firmware",
    "usr/src",
    "usr/lib/snapd",
    "media",
    "snap",
    "mnt",
    "opt",
    "srv",
    "writable",
    "etc/alternatives",
];

/// Directories emptied before packing: what only a running system fills,
/// and apt's downloads.
const EMPTIED: &[&str] = &[
    "dev",
    "proc",
    "sys",
    "run",
    "tmp",
    "var/tmp",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
];

/// What a base is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseSpec {
    /// The base snap's name (`bookworm-base`).
    pub name: String,
    /// The distribution suite (`bookworm`).
    pub suite: String,
    /// Packages installed besides the minimal set, sorted and without
    /// duplicates.
    pub include: Vec<String>,
}

/// The version of this recipe: a change to what [`finish_tree`] does
/// changes it, so older cached builds are not reused.
const RECIPE: &str = "snapcell-base-1";

impl BaseSpec {
    pub fn new(name: &str, suite: &str, include: &[String]) -> BaseSpec {
        let mut include: Vec<String> = include
            .iter()
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        include.sort();
        include.dedup();
        BaseSpec {
            name: name.to_owned(),
            suite: suite.to_owned(),
            include,
        }
    }

    /// A hash of the inputs (FNV-1a, 64 bits, hex): stable across builds
    /// and toolchains, which a cache key must be.
    pub fn input_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let text = format!(
            "{RECIPE}\0{}\0{}\0{}",
            self.name,
            self.suite,
            self.include.join(",")
        );
        for b in text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{h:016x}")
    }

    /// The cached .snap's path under `cache_dir`.
    pub fn cache_path(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(format!(
            "{}_{}_{}.snap",
            self.name,
            self.suite,
            self.input_hash()
        ))
    }

    /// The base's `meta/snap.yaml`.
    pub fn snap_yaml(&self) -> String {
        let mut yaml = format!(
            "name: {}\nversion: '{}'\ntype: base\nsummary: A base built by snapcell from Debian {} packages\ndescription: |\n  Built with mmdebstrap (variant minbase) from suite {}",
            self.name, self.suite, self.suite, self.suite
        );
        if !self.include.is_empty() {
            yaml.push_str(&format!(", with {}", self.include.join(", ")));
        }
        yaml.push_str(".\n");
        yaml
    }

    /// The mmdebstrap command line that builds the root file system into
    /// the directory `target`.
    pub fn mmdebstrap_args(&self, target: &Path) -> Vec<String> {
        let mut args = vec![
            "--variant=minbase".to_owned(),
            "--mode=root".to_owned(),
            "--quiet".to_owned(),
        ];
        if !self.include.is_empty() {
            args.push(format!("--include={}", self.include.join(",")));
        }
        args.push(self.suite.clone());
        args.push(target.display().to_string());
        args
    }
}

/// A base snapcell knows how to build: `install` and `try` build and
/// install it when a snap needs it and it is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recipe {
    /// The base snap's name, as snaps give it in `base:`.
    pub name: &'static str,
    /// The Debian suite mmdebstrap installs.
    pub suite: &'static str,
    /// Packages besides mmdebstrap's minbase.
    pub include: &'static [&'static str],
}

/// The bases snapcell can build by itself.
pub const RECIPES: &[Recipe] = &[
    Recipe {
        name: "debian-12",
        suite: "bookworm",
        include: &[],
    },
    Recipe {
        name: "debian-13",
        suite: "trixie",
        include: &[],
    },
];

/// The recipe for base `name`, if snapcell has one.
pub fn recipe(name: &str) -> Option<&'static Recipe> {
    RECIPES.iter().find(|r| r.name == name)
}

impl Recipe {
    pub fn spec(&self) -> BaseSpec {
        let include: Vec<String> = self.include.iter().map(|p| (*p).to_owned()).collect();
        BaseSpec::new(self.name, self.suite, &include)
    }
}

/// Where built bases are kept unless `$SNAPCELL_CACHE_DIR` (or
/// `base build --cache-dir`) says otherwise.
pub const DEFAULT_CACHE_DIR: &str = "/var/cache/snapcell/bases";

/// The environment variable naming the cache directory.
pub const CACHE_DIR_ENV: &str = "SNAPCELL_CACHE_DIR";

/// The cache directory: `given`, else `$SNAPCELL_CACHE_DIR`, else
/// [`DEFAULT_CACHE_DIR`].
pub fn cache_dir(given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_owned)
        .or_else(|| std::env::var_os(CACHE_DIR_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR))
}

/// Check a build's inputs: the name as a snap name, the suite as a plain
/// word, the packages by Debian's rule for package names.
pub fn check_spec(name: &str, suite: &str, include: &[String]) -> Result<(), String> {
    validate_snap_name(name).map_err(|e| e.to_string())?;
    if suite.is_empty()
        || !suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!("invalid suite {suite:?}"));
    }
    if let Some(bad) = include.iter().find(|p| !valid_package(p.trim())) {
        return Err(format!("invalid package name {bad:?}"));
    }
    Ok(())
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

/// What [`build`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// The .snap in the cache.
    pub path: PathBuf,
    /// Whether it was there already.
    pub cached: bool,
}

/// The base `spec` as a .snap in `cache_dir`: the cached one when its
/// inputs were built before, else built now (mmdebstrap and mksquashfs,
/// installed with apt-get when missing; their progress goes to standard
/// error).
pub fn build(spec: &BaseSpec, cache_dir: &Path) -> Result<Built, String> {
    let path = spec.cache_path(cache_dir);
    if path.is_file() {
        return Ok(Built { path, cached: true });
    }
    fs::create_dir_all(cache_dir)
        .map_err(|e| format!("cannot create {}: {e}", cache_dir.display()))?;
    build_into(spec, cache_dir, &path)?;
    Ok(Built {
        path,
        cached: false,
    })
}

/// A build directory in the cache, removed when dropped.
struct WorkDir(PathBuf);

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A base is packed with mksquashfs as snapd packs one (`-noappend -comp
/// xz -no-fragments -no-progress`, and without `-all-root`: a base keeps
/// its files' owners, which `snapcell pack`'s in-process writer makes
/// root): it is also much faster on a tree of this size, compressing on
/// every core.
fn build_into(spec: &BaseSpec, cache_dir: &Path, cached: &Path) -> Result<(), String> {
    ensure_installed("mmdebstrap", "mmdebstrap")?;
    ensure_installed("mksquashfs", "squashfs-tools")?;
    let work = WorkDir(cache_dir.join(format!(".build-{}", std::process::id())));
    let _ = fs::remove_dir_all(&work.0);
    fs::create_dir(&work.0).map_err(|e| {
        format!(
            "cannot make a build directory in {}: {e}",
            cache_dir.display()
        )
    })?;
    let root = work.0.join("root");
    let status = Command::new("mmdebstrap")
        .args(spec.mmdebstrap_args(&root))
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run mmdebstrap: {e}"))?;
    if !status.success() {
        return Err(format!("mmdebstrap failed ({status})"));
    }
    finish_tree(&root, spec).map_err(|e| format!("cannot prepare {}: {e}", root.display()))?;
    let partial = work.0.join("base.snap");
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
    fs::rename(&partial, cached)
        .map_err(|e| format!("cannot move the base into {}: {e}", cached.display()))
}

/// Install `package` with apt-get when `program` is not on the PATH.
pub fn ensure_installed(program: &str, package: &str) -> Result<(), String> {
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

/// The base `info` needs, if any (bases, `os` and `snapd` snaps and
/// `base: none` need none; no `base:` is `core`).
pub fn base_of(info: &SnapInfo) -> Option<&str> {
    match info.snap_type {
        SnapType::Base | SnapType::Os | SnapType::Snapd => None,
        _ => match info.base_or_default() {
            "none" => None,
            b => Some(b),
        },
    }
}

/// How to get base `base` when it is missing and snapcell has no recipe.
pub fn how_to_get(base: &str) -> String {
    let known: Vec<&str> = RECIPES.iter().map(|r| r.name).collect();
    format!(
        "install its .snap first (snapcell install --dangerous {base}_*.snap), or build one from \
         Debian packages (snapcell base build {base} --suite bookworm); snapcell builds {} by itself",
        known.join(" and ")
    )
}

/// What [`provide_base`] did, for the caller to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provided {
    pub base: String,
    pub built: Built,
    /// The build (or the cache lookup) and the install.
    pub build_time: Duration,
    pub install_time: Duration,
}

/// Before `snap` is installed: where its base is missing, build the base
/// from its recipe (cached) and install it with `install` (snapcell's
/// install of a .snap file), saying so on standard error with the time each
/// step took. `installed(base)` says whether a snap is installed. A missing
/// base without a recipe is an error saying how to get one.
pub fn provide_base(
    info: &SnapInfo,
    installed: &dyn Fn(&str) -> Result<bool, String>,
    install: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<Option<Provided>, String> {
    let Some(base) = base_of(info) else {
        return Ok(None);
    };
    if installed(base)? {
        return Ok(None);
    }
    let name = &info.name;
    let Some(recipe) = recipe(base) else {
        return Err(format!(
            "cannot install snap {name:?}: it requires base {base:?}, which is not installed; {}",
            how_to_get(base)
        ));
    };
    let spec = recipe.spec();
    let dir = cache_dir(None);
    let cached = spec.cache_path(&dir).is_file();
    if cached {
        eprintln!("snap {name:?} needs base {base:?}: installing it from the cache");
    } else {
        eprintln!(
            "snap {name:?} needs base {base:?}: building it from Debian {} (mmdebstrap, minbase) into {}; a minute or a few",
            recipe.suite,
            dir.display()
        );
    }
    let start = Instant::now();
    let built = build(&spec, &dir)
        .map_err(|e| format!("cannot build base {base:?} for snap {name:?}: {e}"))?;
    let build_time = start.elapsed();
    if !built.cached {
        eprintln!(
            "built base {base:?} in {:.1} s: {}",
            build_time.as_secs_f64(),
            built.path.display()
        );
    }
    let start = Instant::now();
    install(&built.path)
        .map_err(|e| format!("cannot install base {base:?} for snap {name:?}: {e}"))?;
    let install_time = start.elapsed();
    eprintln!(
        "installed base {base:?} in {:.1} s",
        install_time.as_secs_f64()
    );
    Ok(Some(Provided {
        base: base.to_owned(),
        built,
        build_time,
        install_time,
    }))
}

/// [`provide_base`] against this machine's state and installer: what
/// `snapcell install` and `try` call before installing `info`.
pub fn provide_missing_base(info: &SnapInfo) -> Result<Option<Provided>, String> {
    provide_base(
        info,
        &|base| Ok(crate::manage::read_state()?.snaps.contains_key(base)),
        &|path| crate::manage::install(path, true).map(|_| ()),
    )
}

/// Give the root file system at `root` what a snap base carries: empty the
/// directories only a running system fills, remove device nodes, FIFOs and
/// sockets (a snap cannot hold them), create the mount points and write
/// `meta/snap.yaml`.
pub fn finish_tree(root: &Path, spec: &BaseSpec) -> io::Result<()> {
    for dir in EMPTIED {
        let path = root.join(dir);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                for entry in fs::read_dir(&path)? {
                    let entry = entry?;
                    let p = entry.path();
                    if entry.file_type()?.is_dir() {
                        fs::remove_dir_all(&p)?;
                    } else {
                        fs::remove_file(&p)?;
                    }
                }
            }
            _ => {}
        }
    }
    remove_special_files(root)?;
    for dir in BASE_DIRS {
        make_dir_in(root, dir)?;
    }
    fs::create_dir_all(root.join("meta"))?;
    fs::write(root.join("meta/snap.yaml"), spec.snap_yaml())
}

/// Create the directory `rel` under `root`, component by component. A
/// symlink on the way (merged-/usr's `lib -> usr/lib`) is followed only
/// where it stays in its directory (relative, without `..`); the directory
/// is skipped behind any other, so nothing is made outside `root`.
fn make_dir_in(root: &Path, rel: &str) -> io::Result<()> {
    let mut at = root.to_path_buf();
    for part in rel.split('/').filter(|p| !p.is_empty()) {
        let next = at.join(part);
        match fs::symlink_metadata(&next) {
            Ok(meta) if meta.is_symlink() => {
                let target = fs::read_link(&next)?;
                let stays = target.is_relative()
                    && target
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)));
                if !stays {
                    return Ok(());
                }
                at = at.join(target);
                if !at.is_dir() {
                    return Ok(());
                }
            }
            Ok(meta) if meta.is_dir() => at = next,
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir(&next)?;
                at = next;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn remove_special_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            remove_special_files(&entry.path())?;
        } else if !kind.is_file() && !kind.is_symlink() {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snapcell_core::snap_yaml::{SnapInfo, SnapType};

    #[test]
    fn the_hash_is_of_every_input_and_of_the_package_set() {
        let a = BaseSpec::new("b", "bookworm", &["x".into(), "y".into()]);
        let same = BaseSpec::new("b", "bookworm", &["y".into(), " x".into(), "x".into()]);
        assert_eq!(a, same);
        assert_eq!(a.input_hash(), same.input_hash());
        assert_eq!(a.input_hash().len(), 16);
        for other in [
            BaseSpec::new("c", "bookworm", &["x".into(), "y".into()]),
            BaseSpec::new("b", "trixie", &["x".into(), "y".into()]),
            BaseSpec::new("b", "bookworm", &["x".into()]),
        ] {
            assert_ne!(a.input_hash(), other.input_hash(), "{other:?}");
        }
        assert_eq!(
            a.cache_path(Path::new("/c")),
            Path::new(&format!("/c/b_bookworm_{}.snap", a.input_hash()))
        );
        assert_eq!(
            a.mmdebstrap_args(Path::new("/t")),
            [
                "--variant=minbase",
                "--mode=root",
                "--quiet",
                "--include=x,y",
                "bookworm",
                "/t"
            ]
        );
    }

    #[test]
    fn recipes_and_what_a_missing_base_says() {
        let r = recipe("debian-12").unwrap();
        assert_eq!((r.suite, r.include), ("bookworm", &[][..]));
        // The same cache entry as `snapcell base build debian-12 --suite bookworm`.
        assert_eq!(r.spec(), BaseSpec::new("debian-12", "bookworm", &[]));
        assert!(recipe("core22").is_none());
        for r in RECIPES {
            check_spec(r.name, r.suite, &r.spec().include).unwrap();
        }
        assert_eq!(
            how_to_get("core22"),
            "install its .snap first (snapcell install --dangerous core22_*.snap), or build one from \
             Debian packages (snapcell base build core22 --suite bookworm); snapcell builds \
             debian-12 and debian-13 by itself"
        );
        assert_eq!(
            check_spec("bb", "x/y", &[]).unwrap_err(),
            "invalid suite \"x/y\""
        );

        let app = |base: &str| {
            SnapInfo::parse(&format!("name: app\nversion: 1\nbase: {base}\n")).unwrap()
        };
        let none = |_: &str| -> Result<bool, String> { Ok(false) };
        let never = |p: &Path| -> Result<(), String> { panic!("installed {p:?}") };
        let e = provide_base(&app("core22"), &none, &never).unwrap_err();
        assert!(
            e.starts_with(
                "cannot install snap \"app\": it requires base \"core22\", which is not installed; install its .snap"
            ),
            "{e}"
        );
        let all = |_: &str| -> Result<bool, String> { Ok(true) };
        assert_eq!(provide_base(&app("core22"), &all, &never), Ok(None));
        let base = SnapInfo::parse("name: b\nversion: 1\ntype: base\n").unwrap();
        assert_eq!(provide_base(&base, &none, &never), Ok(None));
        assert_eq!(base_of(&app("none")), None);
    }

    #[test]
    fn the_skeleton_and_snap_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("usr/bin")).unwrap();
        fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        // A symlink leaving the tree is not followed.
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("srv")).unwrap();
        fs::create_dir_all(root.join("dev/pts")).unwrap();
        fs::write(root.join("dev/null-ish"), "").unwrap();
        fs::create_dir_all(root.join("var/lib/apt/lists")).unwrap();
        fs::write(root.join("var/lib/apt/lists/x_Packages"), "big").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("usr/fifo"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let spec = BaseSpec::new("tiny-base", "bookworm", &["busybox".into()]);
        finish_tree(root, &spec).unwrap();

        for d in BASE_DIRS.iter().filter(|d| **d != "srv") {
            assert!(root.join(d).is_dir(), "{d}");
        }
        assert!(root.join("usr/lib/modules").is_dir());
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(fs::symlink_metadata(root.join("bin")).unwrap().is_symlink());
        assert_eq!(fs::read_dir(root.join("dev")).unwrap().count(), 0);
        assert_eq!(
            fs::read_dir(root.join("var/lib/apt/lists"))
                .unwrap()
                .count(),
            0
        );
        assert!(fs::symlink_metadata(root.join("usr/fifo")).is_err());

        let yaml = fs::read_to_string(root.join("meta/snap.yaml")).unwrap();
        let info = SnapInfo::parse(&yaml).unwrap();
        info.validate().unwrap();
        assert_eq!(info.name, "tiny-base");
        assert_eq!(info.version, "bookworm");
        assert_eq!(info.snap_type, SnapType::Base);
        assert!(info.apps.is_empty());
    }
}
