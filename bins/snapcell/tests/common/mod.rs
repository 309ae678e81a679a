//! Shared fixtures for snapcell's end-to-end tests: a busybox base snap
//! (snapd's mount points, busybox applets, and the C libraries snap-exec
//! needs), and a [`Fixture`] holding snapcell and its helpers in a scratch
//! directory, a home, and images built there, with helpers to run snapcell
//! and check what it printed.
//!
//! snapcell finds its helpers next to itself, so the fixture copies them
//! from cargo's target directory: build the workspace first (`cargo nextest
//! run --workspace` does).
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use snapcell_test_support::{Tree, build_squashfs, scratch_dir};

/// The helpers snapcell runs, found next to it.
pub const HELPERS: &[&str] = &[
    "snap-confine",
    "snap-exec",
    "snap-seccomp",
    "snap-discard-ns",
];

/// Where cargo put the workspace's binaries.
pub fn helper_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_snapcell"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The shared libraries `ldd` lists for `exe` (with the interpreter).
pub fn shared_libraries(exe: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(exe).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// `meta/snap.yaml` of a base snap named `name`.
pub fn base_snap_yaml(name: &str) -> String {
    format!("name: {name}\nversion: '1'\ntype: base\n")
}

/// A base: the directories `dirs`, `snap_yaml` as its `meta/snap.yaml`,
/// busybox with `applets` linked in `/bin`, `/etc/nsswitch.conf`, and the
/// C libraries our snap-exec needs (none when it is static).
pub fn busybox_base<'a>(
    snap_yaml: &str,
    dirs: impl IntoIterator<Item = &'a str>,
    applets: &[&str],
) -> Tree {
    let busybox = fs::read("/bin/busybox").expect("busybox-static must be installed");
    let mut tree = Tree::new();
    for dir in dirs {
        tree = tree.dir(dir, 0o755);
    }
    tree = tree
        .file("meta/snap.yaml", snap_yaml, 0o644)
        .file("bin/busybox", busybox, 0o755)
        .file("etc/nsswitch.conf", "passwd: files\n", 0o644);
    for applet in applets {
        tree = tree.symlink(format!("bin/{applet}"), "busybox");
    }
    for lib in shared_libraries(&helper_dir().join("snap-exec")) {
        let bytes = fs::read(&lib).unwrap();
        tree = tree.file(lib.strip_prefix("/").unwrap(), bytes, 0o755);
    }
    tree
}

/// snapcell and its helpers in `bin` of a scratch directory (outside
/// `/tmp`, readable by all), a home, and the images a test builds there.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The copy of snapcell the tests run.
    pub snapcell: PathBuf,
    /// `$HOME` of every command the fixture runs.
    pub home: PathBuf,
    /// More environment for every command the fixture runs.
    env: Vec<(OsString, OsString)>,
}

impl Fixture {
    /// The snapcell cargo built, with [`HELPERS`].
    pub fn new() -> Fixture {
        Fixture::with(Path::new(env!("CARGO_BIN_EXE_snapcell")), HELPERS)
    }

    /// A copy of `snapcell`, with `helpers` from [`helper_dir`] next to it.
    pub fn with(snapcell: &Path, helpers: &[&str]) -> Fixture {
        let dir = scratch_dir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let copy = bin.join("snapcell");
        fs::copy(snapcell, &copy).unwrap();
        for h in helpers {
            let from = helper_dir().join(h);
            assert!(
                from.is_file(),
                "{} is missing: build the workspace first (cargo build --workspace)",
                from.display()
            );
            fs::copy(&from, bin.join(h)).unwrap();
        }
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        Fixture {
            dir,
            snapcell: copy,
            home,
            env: Vec::new(),
        }
    }

    /// Give every command the fixture runs `key=value` too.
    pub fn with_env(mut self, key: &str, value: impl Into<OsString>) -> Fixture {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Build the image `name` (`NAME.snap` in the scratch directory) from
    /// `tree`, written to `NAME.d` there.
    pub fn image(&self, name: &str, tree: &Tree) {
        let src = self.dir.path().join(format!("{name}.d"));
        tree.write_to(&src).unwrap();
        build_squashfs(&src, Path::new(&self.path(name))).unwrap();
    }

    /// The path of the image `name`, as a command's argument.
    pub fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.snap"))
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// `program` with `args`, in `/`, with nothing of the test's
    /// environment: the fixture's home, a `PATH`, and the fixture's own.
    pub fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
        c.args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir("/");
        c
    }

    /// Run [`Fixture::command`].
    pub fn cmd(&self, program: &Path, args: &[&str]) -> Output {
        self.command(program, args).output().unwrap()
    }

    /// Run the fixture's snapcell.
    pub fn snapcell(&self, args: &[&str]) -> Output {
        self.cmd(&self.snapcell, args)
    }

    /// Run the fixture's snapcell; it must succeed. Its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        expect_ok(&self.snapcell(args), &format!("{args:?}"))
    }

    /// `snapcell install --dangerous` the image `name`.
    pub fn install(&self, name: &str) {
        self.ok(&["install", "--dangerous", &self.path(name)]);
    }
}

/// The snapcell cargo built, run with `args` in the test's own environment
/// (for what needs no world: `--help`, usage errors).
pub fn built_snapcell(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapcell"))
        .args(args)
        .output()
        .unwrap()
}

/// Panic with the output unless `what` succeeded; its standard output.
pub fn expect_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstderr:\n{}\nstdout:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Panic unless the command failed with status 1 saying `needle` (and did
/// not panic); its standard error.
pub fn expect_error(out: &Output, needle: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} does not say {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}
