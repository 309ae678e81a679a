//! Base snaps built from distribution packages (`snapcell base build`): the
//! root file system comes from mmdebstrap; this module gives it what a snap
//! base carries (the mount points snap-confine and snap-update-ns use, a
//! `meta/snap.yaml` of `type: base`, no device nodes) and names the cache
//! entry a build is kept under.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
