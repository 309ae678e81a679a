//! Tests of the executor, all against [`FakeSystem`].

use snapcell_core::entry::MountEntry;
use snapcell_core::profile::Profile;
use snapcell_sys::system::{SQUASHFS_MAGIC, TMPFS_MAGIC};

use crate::fake::{EXT4_MAGIC, FakeSystem};
use crate::{Assumptions, Outcome, UpdateError, apply};

mod faults;
mod kinds;
mod mimic;
mod props;
mod symlinks;
mod trespass;
mod update;

pub(crate) fn entry(line: &str) -> MountEntry {
    MountEntry::parse(line).expect("test entry parses")
}

pub(crate) fn profile(lines: &[&str]) -> Profile {
    Profile {
        entries: lines.iter().map(|l| entry(l)).collect(),
    }
}

pub(crate) fn lines(p: &Profile) -> Vec<String> {
    p.entries.iter().map(ToString::to_string).collect()
}

/// A snap namespace as snap-confine leaves it on a classic system: the base
/// snap (read-only squashfs) at `/` (so also `/usr`, `/var`, `/var/lib`),
/// the host's `/etc`, `/var/snap`, `/snap` and `/home` (writable ext4), a
/// private `/tmp` (tmpfs), the snap `app`
/// revision 1 (squashfs) and a read-only `/rofs` with a directory, a file, a
/// symlink and a device node in it.
pub(crate) fn world() -> FakeSystem {
    let mut fs = FakeSystem::new();
    fs.add_dir("/usr/share/fonts", 0o755)
        .add_file("/usr/share/doc-readme", 0o644, 12)
        .add_symlink("/usr/share/fonts-link", "fonts")
        .add_dir("/usr/lib/x86_64-linux-gnu", 0o755)
        .add_dir("/etc/ssl", 0o755)
        .add_file("/etc/hostname", 0o644, 5)
        .add_dir("/var/lib/existing", 0o755)
        .add_dir("/var/snap/app/common", 0o755)
        .add_dir("/var/snap/app/1", 0o755)
        .add_dir("/home/user", 0o750)
        .add_dir("/tmp", 0o1777)
        .add_dir("/rofs/dir/deeper", 0o755)
        .add_file("/rofs/file", 0o600, 3)
        .add_symlink("/rofs/link", "dir/deeper")
        .add_other("/rofs/null", 0o666)
        .add_dir("/snap/app/1/data/sub", 0o755)
        .add_dir("/snap/app/1/lib", 0o755)
        .add_dir("/snap/app/1/share", 0o755)
        .add_file("/snap/app/1/conf/app.conf", 0o644, 10)
        .add_file("/snap/app/1/bin/tool", 0o755, 100)
        .add_symlink("/snap/app/1/data-link", "data")
        .add_dir("/snap/other/1", 0o755);
    fs.chown("/home/user", 1000, 1000);
    fs.mark_read_only("/", SQUASHFS_MAGIC)
        .mark_fs("/etc", EXT4_MAGIC, false)
        .mark_fs("/var/snap", EXT4_MAGIC, false)
        .mark_fs("/snap", EXT4_MAGIC, false)
        .mark_fs("/home", EXT4_MAGIC, false)
        .mark_fs("/tmp", TMPFS_MAGIC, false)
        .mark_read_only("/snap/app/1", SQUASHFS_MAGIC)
        .mark_read_only("/rofs", SQUASHFS_MAGIC);
    fs
}

pub(crate) fn ctx() -> Assumptions {
    Assumptions::for_system("app")
}

/// Apply and expect success.
pub(crate) fn ok(fs: &mut FakeSystem, current: &Profile, desired: &Profile) -> Outcome {
    match apply(fs, current, desired, ctx()) {
        Ok(o) => o,
        Err(e) => panic!("update failed: {e}\ncalls: {:#?}", fs.calls()),
    }
}

/// Apply and expect failure.
pub(crate) fn err(fs: &mut FakeSystem, current: &Profile, desired: &Profile) -> UpdateError {
    match apply(fs, current, desired, ctx()) {
        Ok(o) => panic!("update succeeded: {:#?}", lines(&o.profile)),
        Err(e) => e,
    }
}
