//! Shared fixtures for snap-confine's integration tests: a small base snap
//! (busybox and the directories snap-confine needs), an app snap, the
//! binary copied where a world can see it, and helpers to run it.
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use snapcell_core::mountinfo::{MountInfoEntry, parse_mountinfo};
use snapcell_test_support::{
    MachineSnapshot, Tree, World, build_squashfs, run_in_world, scratch_dir,
};

/// The app snap's name and its app's security tag.
pub const SNAP: &str = "hello";
pub const TAG: &str = "snap.hello.hello";

/// Directories of the base snap (as snapd's bases have them): every test
/// base's, and `/etc/alternatives`, which snap-confine binds from the base.
fn base_dirs() -> impl Iterator<Item = &'static str> {
    snapcell_test_support::tree::TEST_BASE_DIRS
        .iter()
        .copied()
        .chain(["etc/alternatives"])
}

/// Busybox applets linked into the base's /bin.
const APPLETS: &[&str] = &[
    "sh", "cat", "ls", "readlink", "stat", "id", "env", "true", "pwd", "echo", "grep", "sleep",
    "mkdir", "touch", "test", "nc", "timeout", "rm", "head",
];

/// A base tree: busybox, the mount points snap-confine needs, and
/// `/etc/nsswitch.conf`. `skip` leaves directories out.
pub fn base_tree(skip: &[&str]) -> Tree {
    let busybox = fs::read("/bin/busybox").expect("busybox-static must be installed");
    let mut tree = Tree::new();
    for dir in base_dirs() {
        if !skip.contains(&dir) {
            tree = tree.dir(dir, 0o755);
        }
    }
    tree = tree
        .file("bin/busybox", busybox, 0o755)
        .file("etc/nsswitch.conf", "passwd: files\n", 0o644)
        .file("etc/alternatives/marker", "from the base\n", 0o644);
    for applet in APPLETS {
        tree = tree.symlink(format!("bin/{applet}"), "busybox");
    }
    tree
}

/// The app snap's tree.
pub fn app_tree() -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            "name: hello\nversion: 1\napps:\n  hello:\n    command: bin/hello\n",
            0o644,
        )
        .file("bin/hello", "#!/bin/sh\necho hello\n", 0o755)
        .file("data/hello.txt", "hi\n", 0o644)
        .file("conf", "conf\n", 0o644)
}

/// Images and the binaries, prepared on the host (outside `/tmp`).
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// The copy of snap-confine the tests run.
    pub confine: PathBuf,
    pub base_image: PathBuf,
    pub app_image: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with_base(base_tree(&[]))
    }

    pub fn with_base(base: Tree) -> Fixture {
        let dir = scratch_dir().unwrap();
        // Readable by all, so a set-user-ID copy can be run by another user.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let confine = dir.path().join("snap-confine");
        fs::copy(env!("CARGO_BIN_EXE_snap-confine"), &confine).unwrap();
        let base_dir = dir.path().join("base");
        base.write_to(&base_dir).unwrap();
        let base_image = dir.path().join("base.snap");
        build_squashfs(&base_dir, &base_image).unwrap();
        let app_dir = dir.path().join("app");
        app_tree().write_to(&app_dir).unwrap();
        let app_image = dir.path().join("app.snap");
        build_squashfs(&app_dir, &app_image).unwrap();
        Fixture {
            dir,
            confine,
            base_image,
            app_image,
        }
    }

    /// Run `body` in a fresh world where `base` and the app snap are
    /// installed ([`Fixture::install`]), then check that the machine's mounts
    /// and loop devices are as they were before.
    pub fn run_installed(&self, base: &str, mut body: impl FnMut(&mut World)) {
        let before = MachineSnapshot::take();
        run_in_world(|world: &mut World| {
            self.install(world, base);
            body(world);
        });
        before.assert_unchanged();
    }

    /// A set-user-ID root copy of snap-confine in the fixture's directory,
    /// as snapd installs it (`-rwsr-xr-x`).
    pub fn setuid_copy(&self) -> PathBuf {
        let setuid = self.dir.path().join("snap-confine-setuid");
        fs::copy(&self.confine, &setuid).unwrap();
        fs::set_permissions(&setuid, fs::Permissions::from_mode(0o4755)).unwrap();
        setuid
    }

    /// Mount the base (as `base`, revision x1) and the app snap, and give
    /// the app an unrestricted seccomp profile. Runs in a world.
    pub fn install(&self, world: &mut World, base: &str) {
        world.mount_snap(base, "x1", &self.base_image).unwrap();
        world.mount_snap(SNAP, "x1", &self.app_image).unwrap();
        write_unrestricted_seccomp(TAG);
    }
}

/// `/var/lib/snapd/seccomp/bpf/TAG.bin2` with the unrestricted flag.
pub fn write_unrestricted_seccomp(tag: &str) {
    let dir = Path::new("/var/lib/snapd/seccomp/bpf");
    fs::create_dir_all(dir).unwrap();
    let mut bytes = vec![b'S', b'C', 1, 1];
    bytes.resize(128, 0);
    fs::write(dir.join(format!("{tag}.bin2")), bytes).unwrap();
}

/// The environment snap run would give.
pub fn snap_env() -> Vec<(OsString, OsString)> {
    [
        ("SNAP_INSTANCE_NAME", SNAP),
        ("SNAP_NAME", SNAP),
        ("SNAP", "/snap/hello/x1"),
        ("SNAP_REVISION", "x1"),
        ("PATH", "/usr/bin:/bin"),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect()
}

/// [`snap_env`] for the app snap installed as `name` (revision x1).
pub fn snap_env_of(name: &str) -> Vec<(OsString, OsString)> {
    snap_env()
        .into_iter()
        .map(|(k, v)| {
            let v = match k.to_str() {
                Some("SNAP_INSTANCE_NAME" | "SNAP_NAME") => OsString::from(name),
                Some("SNAP") => OsString::from(format!("/snap/{name}/x1")),
                _ => v,
            };
            (k, v)
        })
        .collect()
}

/// Run `confine` with `args` and `env` (nothing else), returning its output.
pub fn run_with(confine: &Path, args: &[&str], env: &[(OsString, OsString)]) -> Output {
    Command::new(confine)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Run the app with a shell script.
pub fn run_app(confine: &Path, base: &str, script: &str, debug: bool) -> Output {
    let mut env = snap_env();
    if debug {
        env.push(("SNAPD_DEBUG".into(), "1".into()));
    }
    run_with(
        confine,
        &["--base", base, TAG, "/bin/sh", "-c", script],
        &env,
    )
}

/// Panic with the output unless the run succeeded; return stdout.
pub fn expect_success(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "snap-confine failed ({}):\nstderr:\n{stderr}\nstdout:\n{stdout}",
        out.status
    );
    stdout
}

/// The app's mount table, printed by `cat /proc/self/mountinfo` (the lines
/// up to the first one that does not parse).
pub fn parse_table(text: &str) -> Vec<MountInfoEntry> {
    let lines: String = text
        .lines()
        .take_while(|l| MountInfoEntry::parse(l).is_ok())
        .map(|l| format!("{l}\n"))
        .collect();
    parse_mountinfo(&lines).unwrap()
}

/// The mount on top at `dir`.
pub fn top<'a>(table: &'a [MountInfoEntry], dir: &str) -> Option<&'a MountInfoEntry> {
    table.iter().rev().find(|e| e.mount_dir == dir)
}

/// The world's own mount table, without ids.
pub fn world_mounts() -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut out: Vec<String> = parse_mountinfo(&text)
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {} {}",
                e.mount_dir,
                e.root,
                e.fs_type,
                e.mount_source,
                e.optional_fields.join(",")
            )
        })
        .collect();
    out.sort();
    out
}

/// The names in `/run/snapd/ns`.
pub fn ns_dir_listing() -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir("/run/snapd/ns") {
        Ok(dir) => dir
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Whether `/run/snapd/ns/NAME.mnt` holds a namespace.
pub fn is_preserved(name: &str) -> bool {
    snapcell_sys::ns::is_preserved(Path::new(&format!("/run/snapd/ns/{name}.mnt")))
}

/// The unique (never reused) id of the namespace preserved for `name`.
pub fn preserved_ns_id(name: &str) -> u64 {
    let fd = rustix::fs::open(
        format!("/run/snapd/ns/{name}.mnt"),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    snapcell_sys::nsid::mount_ns_id(std::os::fd::AsFd::as_fd(&fd)).unwrap()
}

/// `mnt:[INODE]` of the namespace preserved for `name`, as `readlink
/// /proc/self/ns/mnt` shows it inside.
pub fn preserved_ns_link(name: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(format!("/run/snapd/ns/{name}.mnt")).unwrap();
    format!("mnt:[{}]", meta.ino())
}
