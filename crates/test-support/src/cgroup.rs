//! Throwaway cgroups, BPF pins and udev records for device cgroup tests.
//!
//! cgroups are not namespaced like mounts: a directory made under
//! `/sys/fs/cgroup` inside a world is the machine's. Tests therefore use
//! names nobody else uses ([`unique_snap_name`]) and a [`CgroupGuard`],
//! made in the test process before the world, that removes every
//! directory and pin it was told about when it is dropped, after the
//! world's processes are gone, also when the test fails.
//!
//! Inside a world (each of these changes only the world's mounts):
//! * [`show_cgroup_v1`] takes away the world's view of the unified
//!   hierarchy at `/sys/fs/cgroup`, showing the host's v1 layout;
//! * [`private_bpffs`] mounts a fresh BPF file system at `/sys/fs/bpf`, so
//!   pinned maps die with the world;
//! * [`fake_udev`] and [`tag_device`] put a tmpfs over `/run/udev` and
//!   write what udev writes for a tagged device;
//! * [`device_dir`] is a tmpfs where device nodes can be made.
//!
//! Process tracking: [`v1_freezer`] and [`V2Scope`] name throwaway groups,
//! [`joined_child`] starts a process in one and [`reap`] ends it.

use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{FileType, Mode};
use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};
use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};
use snapcell_sys::fork::fork_child;

/// A snap name no other test and no real snap uses: `snapcelltest` and 8
/// hex digits.
pub fn unique_snap_name() -> String {
    let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid").expect("cannot read a uuid");
    format!("snapcelltest{}", &uuid.replace('-', "")[..8])
}

/// A uuid, for `snap.NAME.APP-UUID.scope`.
pub fn uuid() -> String {
    fs::read_to_string("/proc/sys/kernel/random/uuid")
        .expect("cannot read a uuid")
        .trim()
        .to_owned()
}

/// Where the host's cgroup v2 hierarchy is: `/sys/fs/cgroup` on a v2 host,
/// `/sys/fs/cgroup/unified` on a hybrid one (this machine). A world shows
/// it at `/sys/fs/cgroup`.
pub fn host_v2_root() -> PathBuf {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let root = Path::new("/sys/fs/cgroup");
    match rustix::fs::statfs(root) {
        Ok(st) if st.f_type == CGROUP2_SUPER_MAGIC => root.to_owned(),
        _ => root.join("unified"),
    }
}

/// Removes, on drop, the cgroup directories (deepest first: in the reverse
/// order they were added) and the pinned objects it was given. Processes
/// still in a directory are killed first; they can only be the test's.
#[derive(Default)]
pub struct CgroupGuard {
    dirs: Vec<PathBuf>,
    pins: Vec<PathBuf>,
}

impl CgroupGuard {
    pub fn new() -> CgroupGuard {
        CgroupGuard::default()
    }

    /// Remove `dir` (a cgroup directory, host path) on drop.
    pub fn dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.dirs.push(dir.into());
        self
    }

    /// Unlink `pin` (a file in a BPF file system, host path) on drop.
    pub fn pin(&mut self, pin: impl Into<PathBuf>) -> &mut Self {
        self.pins.push(pin.into());
        self
    }

    /// What is still there of what the guard looks after.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .chain(&self.pins)
            .filter(|p| fs::symlink_metadata(p).is_ok())
            .cloned()
            .collect()
    }

    fn remove_dir(dir: &Path) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match fs::remove_dir(dir) {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) if Instant::now() < deadline => {
                    if let Ok(procs) = fs::read_to_string(dir.join("cgroup.procs")) {
                        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                            if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                                let _ = rustix::process::kill_process(
                                    pid,
                                    rustix::process::Signal::KILL,
                                );
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    eprintln!("cannot remove the test cgroup {}: {e}", dir.display());
                    return;
                }
            }
        }
    }
}

impl Drop for CgroupGuard {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            CgroupGuard::remove_dir(dir);
        }
        for pin in &self.pins {
            let _ = fs::remove_file(pin);
        }
    }
}

/// In a world: unmount the unified hierarchy the world shows at
/// `/sys/fs/cgroup`, uncovering the host's v1 (hybrid) layout.
pub fn show_cgroup_v1() {
    unmount("/sys/fs/cgroup", UnmountFlags::empty())
        .expect("cannot uncover the host's cgroup v1 layout");
    assert!(
        Path::new("/sys/fs/cgroup/devices/devices.allow").exists(),
        "the host has no cgroup v1 devices controller"
    );
}

/// In a world: a fresh BPF file system at `/sys/fs/bpf`.
pub fn private_bpffs() {
    mount("bpf", "/sys/fs/bpf", "bpf", MountFlags::empty(), None)
        .expect("cannot mount a private bpf file system");
}

/// In a world: an empty tmpfs at `/run/udev` (the world's `/run` is a
/// writable mimic, so the directory is made there, not on the host).
pub fn fake_udev() {
    fs::create_dir_all("/run/udev").expect("cannot create /run/udev in the world");
    mount("tmpfs", "/run/udev", "tmpfs", MountFlags::empty(), None)
        .expect("cannot mount a tmpfs at /run/udev");
}

/// In a world with [`fake_udev`]: what udev records for a device `id`
/// (`c10:237`) that carries `tag` as a current tag.
pub fn tag_device(tag: &str, id: &str) {
    fs::create_dir_all(format!("/run/udev/tags/{tag}")).unwrap();
    fs::write(format!("/run/udev/tags/{tag}/{id}"), "").unwrap();
    fs::create_dir_all("/run/udev/data").unwrap();
    fs::write(
        format!("/run/udev/data/{id}"),
        format!("I:1\nG:{tag}\nQ:{tag}\nV:1\n"),
    )
    .unwrap();
}

/// In a world: a tmpfs (allowing device nodes) at `/tmp/snapcell-devs`
/// holding the nodes `nodes` (name, char or block, major, minor).
pub fn device_dir(nodes: &[(&str, FileType, u32, u32)]) -> PathBuf {
    let dir = PathBuf::from("/tmp/snapcell-devs");
    fs::create_dir_all(&dir).unwrap();
    mount("tmpfs", &dir, "tmpfs", MountFlags::empty(), None)
        .expect("cannot mount a tmpfs for devices");
    for (name, kind, major, minor) in nodes {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join(name),
            *kind,
            Mode::from_raw_mode(0o666),
            rustix::fs::makedev(*major, *minor),
        )
        .unwrap_or_else(|e| panic!("cannot mknod {name}: {e}"));
    }
    dir
}

/// Whether opening `path` read-only works (the errno otherwise).
pub fn open_result(path: &Path) -> Result<(), Errno> {
    rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map(drop)
}

/// Run `body` in a forked child that first joins the cgroup whose
/// `cgroup.procs` is `procs` (if any); returns the child's exit code.
pub fn in_child(procs: Option<&Path>, body: impl FnOnce() -> i32) -> i32 {
    let pid = fork_child(|| {
        if let Some(procs) = procs {
            // "0": the writing process itself.
            if let Err(e) = fs::write(procs, "0\n") {
                eprintln!("cannot join {}: {e}", procs.display());
                return 99;
            }
        }
        body()
    })
    .expect("cannot fork");
    loop {
        match waitpid(Some(pid), WaitOptions::empty()) {
            Ok(Some((_, status))) => return status.exit_status().unwrap_or(98),
            Err(Errno::INTR) => continue,
            other => panic!("cannot wait for the child: {other:?}"),
        }
    }
}

/// The open results of `paths` in a child in the cgroup of `procs`, as
/// `Ok(())` or the errno (one byte each through a pipe).
pub fn opens_in(procs: Option<&Path>, paths: &[&Path]) -> Vec<Result<(), Errno>> {
    let (read, write) = rustix::pipe::pipe().expect("cannot make a pipe");
    let code = in_child(procs, || {
        let bytes: Vec<u8> = paths
            .iter()
            .map(|p| match open_result(p) {
                Ok(()) => 0u8,
                Err(e) => e.raw_os_error().clamp(1, 255) as u8,
            })
            .collect();
        match rustix::io::write(write.as_fd(), &bytes) {
            Ok(_) => 0,
            Err(_) => 97,
        }
    });
    drop(write);
    assert_eq!(code, 0, "the probe child failed");
    let mut buf = vec![0u8; paths.len()];
    let n = rustix::io::read(&read, &mut buf).expect("cannot read the probe's results");
    assert_eq!(n, paths.len());
    buf.into_iter()
        .map(|b| {
            if b == 0 {
                Ok(())
            } else {
                Err(Errno::from_raw_os_error(b as i32))
            }
        })
        .collect()
}

/// A child that runs `setup` (joining its group, say), tells the parent it
/// has, then calls `tick` for ever. Returns once `setup` has run.
pub fn joined_child(setup: impl FnOnce(), mut tick: impl FnMut()) -> Pid {
    let (read, write) = rustix::pipe::pipe().expect("cannot make a pipe");
    let w = &write;
    let pid = fork_child(move || {
        setup();
        let _ = rustix::io::write(w, b"x");
        loop {
            tick();
        }
    })
    .expect("cannot fork");
    drop(write);
    let mut b = [0u8; 1];
    assert_eq!(
        rustix::io::read(&read, &mut b).expect("cannot read from the child"),
        1,
        "the child did not join"
    );
    pid
}

/// Kill `pid` and wait for it.
pub fn reap(pid: Pid) {
    let _ = kill_process(pid, Signal::KILL);
    let _ = waitpid(Some(pid), WaitOptions::empty());
}

/// The v1 freezer group of snap `name` (host path), removed by `guard`.
pub fn v1_freezer(name: &str, guard: &mut CgroupGuard) -> PathBuf {
    let dir = PathBuf::from(format!("/sys/fs/cgroup/freezer/snap.{name}"));
    guard.dir(&dir);
    dir
}

/// A throwaway v2 scope of snap `name`: `snapcell-test-NAME/snap.NAME.app-UUID.scope`
/// under the unified hierarchy, both removed by the guard given to [`V2Scope::new`].
pub struct V2Scope {
    parent: String,
    leaf: String,
}

impl V2Scope {
    pub fn new(name: &str, guard: &mut CgroupGuard) -> V2Scope {
        let parent = format!("snapcell-test-{name}");
        let leaf = format!("snap.{name}.app-{}.scope", uuid());
        guard
            .dir(host_v2_root().join(&parent))
            .dir(host_v2_root().join(&parent).join(&leaf));
        V2Scope { parent, leaf }
    }

    /// The parent, as a world shows it (`/sys/fs/cgroup/snapcell-test-NAME`).
    pub fn parent_in_world(&self) -> PathBuf {
        Path::new("/sys/fs/cgroup").join(&self.parent)
    }

    /// The scope, as a world shows it.
    pub fn in_world(&self) -> PathBuf {
        self.parent_in_world().join(&self.leaf)
    }

    /// The parent on the host: what must be gone after the test.
    pub fn host_parent(&self) -> PathBuf {
        host_v2_root().join(&self.parent)
    }
}

/// The `frozen N` line of a v2 group's `cgroup.events`.
pub fn frozen_line(events: &Path) -> String {
    fs::read_to_string(events)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", events.display()))
        .lines()
        .find(|l| l.starts_with("frozen "))
        .unwrap_or_else(|| panic!("{} has no frozen line", events.display()))
        .to_owned()
}
