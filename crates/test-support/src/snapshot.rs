//! Leak checks: the mount table of the test process and the machine's loop
//! devices, before and after.
//!
//! ```no_run
//! # use snapcell_test_support::{MachineSnapshot, run_in_world};
//! let before = MachineSnapshot::take();
//! run_in_world(|_world| { /* ... */ });
//! before.assert_unchanged();
//! ```
//!
//! Loop devices are a machine-wide resource: other tests (cargo-nextest runs
//! them in parallel processes) and other processes attach them too. Only
//! devices attached *now* that were not (or were attached to another file)
//! *before* count; devices that went away are ignored. Of those, a device is
//! left out when it provably belongs to someone else:
//! * its backing file is on an anonymous-device file system (a tmpfs) that
//!   is not one of the worlds this thread ran, or that a live process still
//!   has mounted (this thread's worlds have ended; the kernel reuses a freed
//!   anonymous device number) — another test's world;
//! * its backing file is in a [`crate::scratch_dir`] this thread did not
//!   make — another test's scratch directory.
//!
//! Anything else new is reported, with its backing file, so a person can
//! tell a foreign device from a leak.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use snapcell_core::mountinfo::{MountInfoEntry, parse_mountinfo};
use snapcell_sys::loopdev::backing_file_of;

use crate::SCRATCH_PARENT;

/// How long [`MachineSnapshot::assert_unchanged`] waits for changes to go
/// away (the kernel may release an auto-clearing loop device a moment after
/// the last process of a namespace is gone) before it fails.
pub const SETTLE_TIME: Duration = Duration::from_secs(3);

/// One mount as seen in `/proc/self/mountinfo`, without the ids that change
/// from one mount to the next.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MountRecord {
    pub mount_dir: String,
    pub root: String,
    pub fs_type: String,
    pub source: String,
    /// Per-mount options, sorted (`nodev,relatime,rw`).
    pub options: String,
    /// Optional fields (`shared:N`, `master:N`, ...), as listed.
    pub propagation: String,
}

impl fmt::Display for MountRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (root {}, {} from {}, {}{}{})",
            self.mount_dir,
            self.root,
            self.fs_type,
            self.source,
            self.options,
            if self.propagation.is_empty() {
                ""
            } else {
                ", "
            },
            self.propagation
        )
    }
}

impl MountRecord {
    fn from_entry(entry: &MountInfoEntry) -> MountRecord {
        let options = entry
            .mount_options
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        MountRecord {
            mount_dir: entry.mount_dir.clone(),
            root: entry.root.clone(),
            fs_type: entry.fs_type.clone(),
            source: entry.mount_source.clone(),
            options,
            propagation: entry.optional_fields.join(" "),
        }
    }
}

/// The state a test must leave as it found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineSnapshot {
    /// The test process's mounts, sorted.
    pub mounts: Vec<MountRecord>,
    /// Attached loop devices: `loopN` → backing file (as
    /// `/sys/block/loopN/loop/backing_file` shows it).
    pub loops: BTreeMap<String, String>,
}

impl MachineSnapshot {
    /// Record the mount table of this process and the attached loop devices.
    pub fn take() -> MachineSnapshot {
        let text =
            fs::read_to_string("/proc/self/mountinfo").expect("cannot read /proc/self/mountinfo");
        let entries = parse_mountinfo(&text).expect("cannot parse /proc/self/mountinfo");
        let mut mounts: Vec<MountRecord> = entries.iter().map(MountRecord::from_entry).collect();
        mounts.sort();
        MachineSnapshot {
            mounts,
            loops: attached_loops(),
        }
    }

    /// Every difference from `self` (taken before) to `now`, one line each,
    /// with no attribution of loop devices; empty when nothing changed.
    pub fn changes_until(&self, now: &MachineSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        let before = count(&self.mounts);
        let after = count(&now.mounts);
        for (mount, n) in &after {
            let m = before.get(mount).copied().unwrap_or(0);
            for _ in m..*n {
                out.push(format!("new mount: {mount}"));
            }
        }
        for (mount, n) in &before {
            let m = after.get(mount).copied().unwrap_or(0);
            for _ in m..*n {
                out.push(format!("mount gone: {mount}"));
            }
        }
        for (device, backing) in &now.loops {
            if self.loops.get(device) != Some(backing) {
                out.push(format!(
                    "loop device /dev/{device} newly attached to {backing}"
                ));
            }
        }
        out
    }

    /// Panic, listing the changes, unless the mount table and the attached
    /// loop devices are as they were when `self` was taken. Changes are
    /// given [`SETTLE_TIME`] to go away first.
    pub fn assert_unchanged(&self) {
        let deadline = Instant::now() + SETTLE_TIME;
        loop {
            let changes = self.leaks_until(&MachineSnapshot::take());
            if changes.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!("the machine changed:\n  {}", changes.join("\n  "));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl MachineSnapshot {
    /// Like [`MachineSnapshot::changes_until`], leaving out new loop devices
    /// that belong to someone else (see the [module documentation](self)).
    /// Asks the kernel about the new devices, so `now` should be fresh.
    pub fn leaks_until(&self, now: &MachineSnapshot) -> Vec<String> {
        self.changes_until(now)
            .into_iter()
            .filter(|change| match change.strip_prefix("loop device /dev/") {
                Some(rest) => {
                    let device = rest.split(' ').next().unwrap_or_default();
                    now.loops
                        .get(device)
                        .is_some_and(|backing| !not_ours(device, backing))
                }
                None => true,
            })
            .collect()
    }
}

/// What this thread made: the file systems of its worlds and its scratch
/// directories. Thread-local because plain `cargo test` runs each test on its
/// own thread of one process.
#[derive(Default)]
struct Claims {
    filesystems: BTreeSet<(u32, u32)>,
    scratch_dirs: Vec<PathBuf>,
}

thread_local! {
    static CLAIMS: RefCell<Claims> = RefCell::new(Claims::default());
}

/// Record that a world run from this thread had a file system with this
/// device number.
pub(crate) fn claim_filesystem(major: u32, minor: u32) {
    CLAIMS.with(|claims| claims.borrow_mut().filesystems.insert((major, minor)));
}

/// Record that this thread made the scratch directory `dir`.
pub(crate) fn claim_scratch_dir(dir: &Path) {
    CLAIMS.with(|claims| claims.borrow_mut().scratch_dirs.push(dir.to_owned()));
}

/// Whether the new device `device` (backed by `backing`) is provably not
/// this thread's to answer for.
fn not_ours(device: &str, backing: &str) -> bool {
    let backing = Path::new(backing);
    let scratch_area = Path::new(SCRATCH_PARENT);
    let in_a_scratch_dir = backing
        .strip_prefix(scratch_area)
        .ok()
        .and_then(|rest| rest.iter().next())
        .is_some_and(|first| first.to_string_lossy().starts_with(crate::SCRATCH_PREFIX));
    if in_a_scratch_dir {
        return !CLAIMS.with(|claims| {
            claims
                .borrow()
                .scratch_dirs
                .iter()
                .any(|dir| backing.starts_with(dir))
        });
    }
    match backing_file_of(&Path::new("/dev").join(device)) {
        Ok(Some(file)) => {
            let (major, minor) = file.device_numbers();
            // Major 0: an anonymous device (tmpfs and friends), made by
            // whoever mounted it; ours only if one of our worlds did. The
            // kernel hands a freed anonymous device number out again, so a
            // number one of our (ended) worlds had may by now be another
            // test's live world: a file system some live process still has
            // mounted is not one of our ended worlds'.
            major == 0
                && (!CLAIMS.with(|claims| claims.borrow().filesystems.contains(&(major, minor)))
                    || mounted_by_a_live_process(major, minor))
        }
        // Detached in the meantime: not a leak.
        Ok(None) => true,
        Err(_) => false,
    }
}

/// Whether a process other than this one (this test's worlds have ended
/// when it checks) has a mount of the file system with device number
/// `major:minor`, as field 3 of `/proc/PID/mountinfo` shows it.
fn mounted_by_a_live_process(major: u32, minor: u32) -> bool {
    let me = std::process::id().to_string();
    let wanted = format!("{major}:{minor}");
    let Ok(procs) = fs::read_dir("/proc") else {
        return false;
    };
    procs
        .flatten()
        .map(|e| e.file_name())
        .filter(|pid| {
            pid.to_str()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p != me)
        })
        .any(|pid| {
            fs::read_to_string(Path::new("/proc").join(pid).join("mountinfo")).is_ok_and(|table| {
                table
                    .lines()
                    .any(|line| line.split(' ').nth(2) == Some(wanted.as_str()))
            })
        })
}

fn count(mounts: &[MountRecord]) -> BTreeMap<&MountRecord, usize> {
    let mut out = BTreeMap::new();
    for mount in mounts {
        *out.entry(mount).or_insert(0) += 1;
    }
    out
}

/// Attached loop devices and their backing files, from sysfs.
pub fn attached_loops() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(entries) = fs::read_dir("/sys/block") else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let file = Path::new("/sys/block")
            .join(&name)
            .join("loop/backing_file");
        if let Ok(backing) = fs::read_to_string(file) {
            out.insert(name, backing.trim_end_matches('\n').to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A world's tmpfs is some live process's mount while the world runs,
    /// and no one's once it has ended (when its number may be reused).
    #[test]
    fn a_live_worlds_file_system_is_mounted_by_a_live_process() {
        let scratch = crate::scratch_dir().unwrap();
        let (dev_file, go) = (scratch.path().join("dev"), scratch.path().join("go"));
        let other = {
            let (dev_file, go) = (dev_file.clone(), go.clone());
            std::thread::spawn(move || {
                crate::run_in_world(|_world| {
                    let dev = fs::metadata("/var/lib/snapd").unwrap().dev();
                    let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
                    fs::write(&dev_file, format!("{major} {minor}")).unwrap();
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while !go.exists() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                });
            })
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !dev_file.exists() && Instant::now() < deadline && !other.is_finished() {
            std::thread::sleep(Duration::from_millis(10));
        }
        let text = fs::read_to_string(&dev_file).expect("the world did not start");
        let (major, minor) = text.split_once(' ').unwrap();
        let (major, minor): (u32, u32) = (major.parse().unwrap(), minor.parse().unwrap());
        assert_eq!(major, 0, "a tmpfs has an anonymous device number");
        assert!(mounted_by_a_live_process(major, minor));
        fs::write(&go, "").unwrap();
        other.join().unwrap();
        assert!(!mounted_by_a_live_process(major, minor));
    }
}
