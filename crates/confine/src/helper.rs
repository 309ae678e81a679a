//! The capture helper (spec §6.5, "Capture helper") and unsharing a mount
//! namespace that the helper can actually preserve.
//!
//! The helper is forked before the launcher unshares, so it stays in the
//! host's mount namespace. On request it bind-mounts `/proc/PARENT/ns/mnt`
//! over `/run/snapd/ns/INSTANCE.mnt`; `/run/snapd/ns` is a private mount,
//! so the binding stays in the host's namespace and never shows up inside
//! the namespace it preserves (which would make a loop the kernel could
//! never free). Commands and answers travel over two packet-mode pipes.
//!
//! The kernel refuses that bind with `EINVAL` unless the preserved
//! namespace's id is greater than the id of the namespace the bind happens
//! in (its loop guard). Before 6.18 ids only grew; since 6.18 they come
//! from per-CPU batches, and a namespace unshared on another CPU than the
//! one the host's namespace was made on can get a smaller id (research §2,
//! "Surprise 1"): snapd 2.57 then fails ~3 cold starts in 10 inside nested
//! namespaces. [`unshare_preservable_mount_ns`] compares the ids right
//! after `unshare` and, while the new id is not greater, goes back to the
//! host namespace and unshares again on the next CPU. On kernels without
//! `NS_GET_MNTNS_ID` (before 6.8) ids only grow and one `unshare` is kept.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, openat};
use rustix::io::Errno;
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{Pid, Signal, WaitOptions, getpid, getppid, waitpid};
use rustix::thread::{
    CpuSet, LinkNameSpaceType, UnshareFlags, move_into_link_name_space, sched_getaffinity,
    sched_setaffinity,
};
use snapcell_sys::fork::{fork_child, unshare};
use snapcell_sys::nsid::mount_ns_id;

use crate::bootstrap::{Scratch, remove_scratch_dir};
use crate::debug;
use crate::error::{Error, Result, SysContext, strerror};
use crate::paths::{NS_DIR, preserved_ns_name};
use crate::safefs::open_dir_errno;

const CMD_EXIT: i32 = 0;
const CMD_CAPTURE: i32 = 1;
const CMD_CLEANUP: i32 = 3;

/// `NSFS_MAGIC` and `PROC_SUPER_MAGIC`.
pub(crate) const NSFS_MAGIC: i64 = 0x6e73_6673;
pub(crate) const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Most `unshare` attempts before giving up on a preservable namespace.
pub const MAX_UNSHARE_ATTEMPTS: usize = 1024;

/// A running capture helper.
#[derive(Debug)]
pub struct CaptureHelper {
    pid: Option<Pid>,
    parent: Pid,
    instance: String,
    to_helper: OwnedFd,
    from_helper: OwnedFd,
}

impl CaptureHelper {
    /// Fork the helper. `scratch` is the scratch directory the helper
    /// removes on [`CaptureHelper::cleanup`].
    pub fn spawn(instance: &str, scratch: Option<Scratch>) -> Result<CaptureHelper> {
        let flags = PipeFlags::CLOEXEC | PipeFlags::DIRECT;
        let (cmd_r, cmd_w) = pipe_with(flags).or_die(|| "cannot create a pipe".to_owned())?;
        let (ack_r, ack_w) = pipe_with(flags).or_die(|| "cannot create a pipe".to_owned())?;
        let parent = getpid();
        let name = instance.to_owned();
        let pid = fork_child(|| helper_main(parent, &name, scratch.as_ref(), &cmd_r, &ack_w))
            .or_die(|| "cannot fork the mount namespace capture helper".to_owned())?;
        debug!("forked the capture helper, pid {}", pid.as_raw_nonzero());
        Ok(CaptureHelper {
            pid: Some(pid),
            parent,
            instance: instance.to_owned(),
            to_helper: cmd_w,
            from_helper: ack_r,
        })
    }

    fn request(&mut self, cmd: i32) -> Result<i32> {
        let helper_gone = || Error::new("unexpected end of the capture helper process");
        write_all(self.to_helper.as_fd(), &cmd.to_ne_bytes()).map_err(|_| helper_gone())?;
        let mut buf = [0u8; 4];
        match read_full(self.from_helper.as_fd(), &mut buf) {
            Ok(true) => Ok(i32::from_ne_bytes(buf)),
            _ => Err(helper_gone()),
        }
    }

    /// Have the helper preserve this process's mount namespace as
    /// `/run/snapd/ns/INSTANCE.mnt`.
    pub fn capture(&mut self) -> Result<()> {
        debug!("asking the helper to preserve the mount namespace");
        match self.request(CMD_CAPTURE)? {
            0 => Ok(()),
            errno => Err(Error::sys(
                format!(
                    "cannot preserve mount namespace of process {} as {}",
                    self.parent.as_raw_nonzero(),
                    preserved_ns_name(&self.instance)
                ),
                Errno::from_raw_os_error(errno),
            )),
        }
    }

    /// After a failed construction: have the helper remove the scratch
    /// directory from the host (best effort).
    pub fn cleanup(&mut self) {
        let _ = self.request(CMD_CLEANUP);
    }

    /// Tell the helper to exit and reap it.
    pub fn finish(mut self) -> Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> Result<()> {
        let Some(pid) = self.pid.take() else {
            return Ok(());
        };
        let _ = write_all(self.to_helper.as_fd(), &CMD_EXIT.to_ne_bytes());
        loop {
            match waitpid(Some(pid), WaitOptions::empty()) {
                Ok(Some((_, status))) => {
                    return if status.exit_status() == Some(0) {
                        Ok(())
                    } else {
                        Err(Error::new(format!(
                            "the capture helper failed ({status:?})"
                        )))
                    };
                }
                Ok(None) | Err(Errno::INTR) => continue,
                Err(e) => return Err(Error::sys("cannot wait for the capture helper", e)),
            }
        }
    }
}

impl Drop for CaptureHelper {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn write_all(fd: BorrowedFd<'_>, bytes: &[u8]) -> std::result::Result<(), Errno> {
    loop {
        match rustix::io::write(fd, bytes) {
            Ok(n) if n == bytes.len() => return Ok(()),
            Ok(_) => return Err(Errno::IO),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Read one packet of exactly `buf.len()` bytes; `Ok(false)` on EOF.
fn read_full(fd: BorrowedFd<'_>, buf: &mut [u8]) -> std::result::Result<bool, Errno> {
    loop {
        match rustix::io::read(fd, &mut *buf) {
            Ok(0) => return Ok(false),
            Ok(n) if n == buf.len() => return Ok(true),
            Ok(_) => return Err(Errno::IO),
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn helper_main(
    parent: Pid,
    instance: &str,
    scratch: Option<&Scratch>,
    commands: &OwnedFd,
    answers: &OwnedFd,
) -> i32 {
    let _ = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if getppid() != Some(parent) {
        return 1;
    }
    loop {
        let mut buf = [0u8; 4];
        match read_full(commands.as_fd(), &mut buf) {
            Ok(true) => {}
            _ => return 0,
        }
        let answer = match i32::from_ne_bytes(buf) {
            CMD_EXIT => return 0,
            CMD_CAPTURE => match capture(parent, instance) {
                Ok(()) => 0,
                Err(e) => e.raw_os_error(),
            },
            CMD_CLEANUP => {
                if let Some(scratch) = scratch {
                    remove_scratch_dir(scratch);
                }
                0
            }
            _ => Errno::INVAL.raw_os_error(),
        };
        if write_all(answers.as_fd(), &answer.to_ne_bytes()).is_err() {
            return 1;
        }
    }
}

/// In the helper: bind `/proc/PARENT/ns/mnt` over `NS_DIR/INSTANCE.mnt`.
fn capture(parent: Pid, instance: &str) -> std::result::Result<(), Errno> {
    let dir = open_dir_errno(NS_DIR)?;
    let name = preserved_ns_name(instance);
    let file = openat(
        &dir,
        name.as_str(),
        OFlags::CREATE | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )?;
    let magic = rustix::fs::fstatfs(&file)?.f_type as i64;
    if magic == NSFS_MAGIC || magic == PROC_SUPER_MAGIC {
        // Something is preserved there already; the caller discards first,
        // under the lock, so this is not ours to cover.
        return Err(Errno::EXIST);
    }
    let src = format!("/proc/{}/ns/mnt", parent.as_raw_nonzero());
    let dst = format!("/proc/self/fd/{}", file.as_raw_fd());
    let result = rustix::mount::mount_bind(src.as_str(), dst.as_str());
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&dir, name.as_str(), AtFlags::empty());
    }
    result
}

/// Open `/proc/self/ns/mnt`.
pub fn open_own_mount_ns() -> Result<OwnedFd> {
    rustix::fs::open(
        "/proc/self/ns/mnt",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .or_die(|| "cannot open /proc/self/ns/mnt".to_owned())
}

/// `unshare(CLONE_NEWNS)` into a namespace whose id is greater than that of
/// `host_ns` (the namespace the capture helper binds from), re-unsharing on
/// the next allowed CPU while it is not. See the module documentation.
pub fn unshare_preservable_mount_ns(host_ns: &OwnedFd) -> Result<()> {
    let host_id = match mount_ns_id(host_ns.as_fd()) {
        Ok(id) => Some(id),
        Err(e) => {
            debug!(
                "cannot read mount namespace ids ({}); unsharing once",
                strerror(e)
            );
            None
        }
    };
    let affinity = sched_getaffinity(None).ok();
    let cpus: Vec<usize> = match &affinity {
        Some(set) => (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        None => Vec::new(),
    };
    let mut next_cpu = 0;
    let mut moved = false;
    let result = (|| {
        for attempt in 0..MAX_UNSHARE_ATTEMPTS {
            debug!("performing operation: unshare(CLONE_NEWNS)");
            unshare(UnshareFlags::NEWNS)
                .or_die(|| "cannot unshare the mount namespace".to_owned())?;
            let Some(host_id) = host_id else {
                return Ok(());
            };
            let new_id = mount_ns_id(open_own_mount_ns()?.as_fd())
                .or_die(|| "cannot read the id of the new mount namespace".to_owned())?;
            if new_id > host_id {
                if attempt > 0 {
                    debug!(
                        "mount namespace id {new_id} > {host_id} after {} attempts",
                        attempt + 1
                    );
                }
                return Ok(());
            }
            debug!(
                "new mount namespace id {new_id} is not greater than the host's {host_id}; \
                 it could not be preserved; trying again on another CPU"
            );
            move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Mount))
                .or_die(|| "cannot return to the host mount namespace".to_owned())?;
            if !cpus.is_empty() {
                let mut set = CpuSet::new();
                set.set(cpus[next_cpu % cpus.len()]);
                next_cpu += 1;
                if sched_setaffinity(None, &set).is_ok() {
                    moved = true;
                }
            }
        }
        Err(Error::new(format!(
            "cannot create a mount namespace that can be preserved: its id stayed below the \
             host's after {MAX_UNSHARE_ATTEMPTS} attempts"
        )))
    })();
    if moved && let Some(set) = &affinity {
        let _ = sched_setaffinity(None, set);
    }
    result
}
