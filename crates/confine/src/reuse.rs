//! Whether a preserved namespace can be entered again (spec §6.4 step 6).
//!
//! * No `/run/snapd/ns/INSTANCE.mnt`, or a plain file there: build anew.
//! * `snap.INSTANCE.info` records another base: it must be discarded.
//! * The base is no longer mounted in it, or a configured home directory is
//!   not a mount point in it: it should be discarded, unless the snap is in
//!   use.
//! * Otherwise: enter it (the check itself enters it, see [`inspect`]).
//!
//! "The base is still mounted" in our tmpfs-root design: `/` is a tmpfs
//! holding the base's top-level entries, each bound from the base. The
//! namespace still has the current base when some mount that is not a
//! tmpfs, at `/`, at a top-level directory, at `/usr` or below `/usr/`,
//! comes from the device the base's current revision is on now (the device
//! of `SNAP_MOUNT_DIR/BASE/REV`, REV = `readlink current`). snapd's check
//! is the same with `/`, `/usr` and below; the top-level directories are
//! added because a base need not have `/usr` in our tests and in the tmpfs
//! design they are exactly where the base shows (host directories there
//! come from host devices, never from the base's loop device). After a
//! refresh of the base (a new revision, a new loop device) the namespace is
//! rebuilt.
//!
//! A namespace that should be discarded is kept (and entered) while the
//! snap still has processes, as snapd decides it
//! ([`snapcell_sys::cgroup::tracking::snap_in_use`]: v1, a live process in
//! the freezer group `snap.INSTANCE`; v2, another group `snap.INSTANCE.*`);
//! one built from another base is discarded even then.

use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{Mode, OFlags, openat};
use rustix::io::Errno;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use snapcell_core::mountinfo::{MountInfoEntry, top_mount_at};
use snapcell_sys::cgroup::tracking::snap_in_use;
use snapcell_sys::debug;
use snapcell_sys::mountinfo::read_mountinfo;
use snapcell_sys::nsid::owning_user_ns;

use crate::base::Base;
use crate::error::{Error, Result, SysContext};
use crate::helper::{NSFS_MAGIC, PROC_SUPER_MAGIC};
use snapcell_core::dirs::{NS_DIR, info_name, preserved_ns_name};

/// What to do with the preserved namespace.
#[derive(Debug)]
pub enum Verdict {
    /// Nothing (usable) is preserved: build one.
    Absent,
    /// It is kept: the calling process is now in it.
    Joined,
    /// Discard it (the reason is for the debug log), then build one.
    Discard(String),
}

/// The most of an info file we read.
const MAX_INFO_SIZE: usize = 4096;

/// The base recorded in `snap.INSTANCE.info` (`base-snap-name=BASE`).
pub fn recorded_base(ns_dir: &OwnedFd, instance: &str) -> Result<Option<String>> {
    let name = info_name(instance);
    let fd = match openat(
        ns_dir,
        name.as_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("cannot open {NS_DIR}/{name}"), e)),
    };
    let st = rustix::fs::fstat(&fd).or_die(|| format!("cannot inspect {NS_DIR}/{name}"))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Err(Error::new(format!("{NS_DIR}/{name} is not a regular file")));
    }
    let mut buf = vec![0u8; MAX_INFO_SIZE];
    let mut len = 0;
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Error::sys(format!("cannot read {NS_DIR}/{name}"), e)),
        }
    }
    let text = String::from_utf8_lossy(&buf[..len]);
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("base-snap-name="))
        .map(str::to_owned))
}

/// Write `snap.INSTANCE.info` (`base-snap-name=BASE\n`, 0644, root).
pub fn write_info(ns_dir: &OwnedFd, instance: &str, base: &str) -> Result<()> {
    let name = info_name(instance);
    let fd = openat(
        ns_dir,
        name.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .or_die(|| format!("cannot open {NS_DIR}/{name}"))?;
    rustix::fs::fchown(
        &fd,
        Some(rustix::process::Uid::ROOT),
        Some(rustix::process::Gid::ROOT),
    )
    .or_die(|| format!("cannot chown {NS_DIR}/{name}"))?;
    rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))
        .or_die(|| format!("cannot chmod {NS_DIR}/{name}"))?;
    let text = format!("base-snap-name={base}\n");
    let n = rustix::io::write(&fd, text.as_bytes())
        .or_die(|| format!("cannot write {NS_DIR}/{name}"))?;
    if n != text.len() {
        return Err(Error::new(format!(
            "cannot write {NS_DIR}/{name}: short write"
        )));
    }
    Ok(())
}

/// Where the base shows in a namespace built by us or by snapd.
fn is_base_place(dir: &str) -> bool {
    if dir == "/" || dir == "/usr" || dir.starts_with("/usr/") {
        return true;
    }
    dir.strip_prefix('/')
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// Why a namespace with mount table `table` should be discarded, if it
/// should (see the module documentation).
pub fn should_discard(
    table: &[MountInfoEntry],
    base_device: (u32, u32),
    homedirs: &[String],
) -> Option<String> {
    let base_there = table.iter().any(|e| {
        e.fs_type != "tmpfs" && is_base_place(&e.mount_dir) && e.device() == Some(base_device)
    });
    if !base_there {
        return Some(format!(
            "the base snap (device {}:{}) is no longer mounted in it",
            base_device.0, base_device.1
        ));
    }
    for home in homedirs {
        if top_mount_at(table, home).is_none() {
            return Some(format!("home directory {home} is not mounted in it"));
        }
    }
    None
}

/// Decide about the preserved namespace of `instance` (caller holds the
/// snap lock, in the host namespace; `host_ns` is that namespace).
///
/// The namespace is judged from inside: this process enters it, reads its
/// mount table and stays there when it is kept ([`Verdict::Joined`]); on
/// any other outcome it is back in `host_ns` before this returns (an error
/// after entering is fatal to the caller anyway, but leaves it in the host
/// namespace where it can). Entering in-process rather than in a forked
/// child saves a fork, an exit and a wait on every warm start; it is the
/// same `setns` the launch would make next. The process must be
/// single-threaded (snap-confine is).
pub fn inspect(
    ns_dir: &OwnedFd,
    instance: &str,
    base: &Base,
    homedirs: &[String],
    host_ns: &OwnedFd,
) -> Result<Verdict> {
    let name = preserved_ns_name(instance);
    let fd = match openat(
        ns_dir,
        name.as_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Verdict::Absent),
        Err(e) => return Err(Error::sys(format!("cannot open {NS_DIR}/{name}"), e)),
    };
    let magic = rustix::fs::fstatfs(&fd)
        .or_die(|| format!("cannot inspect {NS_DIR}/{name}"))?
        .f_type as i64;
    if magic != NSFS_MAGIC && magic != PROC_SUPER_MAGIC {
        debug!("{NS_DIR}/{name} holds no preserved namespace");
        return Ok(Verdict::Absent);
    }
    // Never join a namespace owned by another user namespace (one a user
    // could have made and had bound here).
    let owner = owning_user_ns(fd.as_fd())
        .or_die(|| format!("cannot inspect the owner of {NS_DIR}/{name}"))?;
    let owner =
        rustix::fs::fstat(&owner).or_die(|| "cannot inspect a user namespace".to_owned())?;
    let ours = rustix::fs::stat("/proc/self/ns/user")
        .or_die(|| "cannot inspect /proc/self/ns/user".to_owned())?;
    if (owner.st_dev, owner.st_ino) != (ours.st_dev, ours.st_ino) {
        return Err(Error::new(format!(
            "cannot use {NS_DIR}/{name}: the namespace belongs to another user namespace"
        )));
    }
    if let Some(recorded) = recorded_base(ns_dir, instance)?
        && recorded != base.name
    {
        return Ok(Verdict::Discard(format!(
            "it was built from base {recorded}, now the base is {}",
            base.name
        )));
    }
    let device = base.device()?;
    match judge_from_inside(&fd, host_ns, device, homedirs)? {
        None => Ok(Verdict::Joined),
        Some(reason) => {
            // "Should discard" yields to processes still using it.
            let in_use = snap_in_use(instance).map_err(|e| Error::new(format!("{e}")))?;
            if !in_use {
                return Ok(Verdict::Discard(reason));
            }
            debug!("keeping the preserved mount namespace ({reason}): the snap is in use");
            move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Mount))
                .or_die(|| "cannot enter the preserved mount namespace".to_owned())?;
            Ok(Verdict::Joined)
        }
    }
}

/// `TMPFS_MAGIC`.
const TMPFS_MAGIC: rustix::fs::FsWord = 0x0102_1994;

/// A cheap sufficient condition for [`should_discard`]'s base test, in the
/// namespace this process is in: `/usr` or `/` is a directory on the base's
/// device, and not on a tmpfs. The mount covering `/usr` is at `/usr` or
/// at `/`, both places where the base shows, so the full test would find
/// it too; when this says no, the caller reads the mount table. Two or
/// three system calls instead of rendering and parsing the whole table.
fn base_evidently_there(device: (u32, u32)) -> bool {
    ["/usr", "/"].into_iter().any(|dir| {
        rustix::fs::lstat(dir).is_ok_and(|st| {
            rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
                && (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev)) == device
        }) && rustix::fs::statfs(dir).is_ok_and(|fs| fs.f_type != TMPFS_MAGIC)
    })
}

/// Enter `ns` and run [`should_discard`] on its mount table; go back to
/// `host_ns` unless it is kept.
fn judge_from_inside(
    ns: &OwnedFd,
    host_ns: &OwnedFd,
    device: (u32, u32),
    homedirs: &[String],
) -> Result<Option<String>> {
    move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot enter the preserved mount namespace".to_owned())?;
    if homedirs.is_empty() && base_evidently_there(device) {
        return Ok(None);
    }
    let judged = read_mountinfo()
        .map(|table| should_discard(&table, device, homedirs))
        .map_err(Error::from);
    if let Ok(None) = judged {
        return Ok(None);
    }
    move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Mount))
        .or_die(|| "cannot return to the host mount namespace".to_owned())?;
    judged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(lines: &[&str]) -> Vec<MountInfoEntry> {
        lines
            .iter()
            .map(|l| MountInfoEntry::parse(l).unwrap())
            .collect()
    }

    #[test]
    fn the_base_shows_at_its_top_level_entries_or_usr() {
        let t = table(&[
            "1 0 0:50 / / rw - tmpfs tmpfs rw",
            "2 1 7:3 /usr /usr ro master:2 - squashfs /dev/loop3 ro",
            "3 1 254:0 /etc /etc rw master:4 - ext4 /dev/vda rw",
            "4 1 7:3 / /snap/core/x1 ro master:2 - squashfs /dev/loop3 ro",
        ]);
        assert_eq!(should_discard(&t, (7, 3), &[]), None);
        let reason = should_discard(&t, (7, 9), &[]).unwrap();
        assert!(reason.contains("7:9"), "{reason}");
        // Only under /snap: not the base of this namespace.
        let t2 = table(&[
            "1 0 0:50 / / rw - tmpfs tmpfs rw",
            "4 1 7:3 / /snap/core/x1 ro master:2 - squashfs /dev/loop3 ro",
        ]);
        assert!(should_discard(&t2, (7, 3), &[]).is_some());
        // snapd 2.57's layout: the base is / itself.
        let t3 = table(&["1 0 7:3 / / ro master:2 - squashfs /dev/loop3 ro"]);
        assert_eq!(should_discard(&t3, (7, 3), &[]), None);
        // A tmpfs never counts, whatever its device.
        let t4 = table(&["1 0 7:3 / /bin rw - tmpfs tmpfs rw"]);
        assert!(should_discard(&t4, (7, 3), &[]).is_some());
    }

    #[test]
    fn home_directories_must_be_mounted() {
        let t = table(&[
            "2 1 7:3 /bin /bin ro - squashfs /dev/loop3 ro",
            "3 1 254:0 /data /data rw - ext4 /dev/vda rw",
        ]);
        assert_eq!(should_discard(&t, (7, 3), &["/data".to_owned()]), None);
        assert!(should_discard(&t, (7, 3), &["/srv/h".to_owned()]).is_some());
    }
}
