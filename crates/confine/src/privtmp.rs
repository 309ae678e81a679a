//! The per-snap private `/tmp` (spec §6.5 step 11), made after `pivot_root`.
//!
//! `/tmp/snap-private-tmp` (0700 root:root), `snap.INSTANCE` in it (0700
//! root:root) and `tmp` in that (01777 root:root) are each created with
//! `mkdirat` and opened `O_NOFOLLOW` relative to the previous one; objects
//! we did not create are only checked, never repaired (a wrong owner or mode
//! is fatal). The bind source is `/proc/self/fd/N` of the verified `tmp`
//! descriptor, so nothing can be swapped between the check and the mount
//! (CVE-2021-44731).

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use snapcell_sys::safefs::{mkdir_open, open_dir, verify_dir};

use crate::error::SysContext;
use crate::error::{Error, Result};
use crate::mounts::{Propagation, bind, make};
use snapcell_core::dirs::PRIVATE_TMP_DIR;

/// Open (creating it if missing) `/tmp/snap-private-tmp`, which must be a
/// directory 0700 root:root; never repaired.
pub fn open_private_tmp_base(tmp: &OwnedFd) -> Result<OwnedFd> {
    let (fd, _) = mkdir_open(tmp.as_fd(), "snap-private-tmp", 0o700, 0, 0)
        .or_die(|| format!("cannot create {PRIVATE_TMP_DIR}"))?;
    verify_dir(fd.as_fd(), PRIVATE_TMP_DIR, 0, 0, 0o700)?;
    Ok(fd)
}

/// `PROC_SUPER_MAGIC`.
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Bind `/tmp/snap-private-tmp/snap.INSTANCE/tmp` over `/tmp` and make it private.
pub fn setup_private_tmp(instance: &str) -> Result<()> {
    let proc = rustix::fs::statfs("/proc").or_die(|| "cannot inspect /proc".to_owned())?;
    if proc.f_type as i64 != PROC_SUPER_MAGIC {
        return Err(Error::new(
            "cannot set up the private /tmp: /proc is not procfs",
        ));
    }
    let tmp = open_dir("/tmp")?;
    let base = open_private_tmp_base(&tmp)?;
    let inst_path = format!("{PRIVATE_TMP_DIR}/snap.{instance}");
    let (inst, _) = mkdir_open(base.as_fd(), &format!("snap.{instance}"), 0o700, 0, 0)
        .or_die(|| format!("cannot create {inst_path}"))?;
    verify_dir(inst.as_fd(), &inst_path, 0, 0, 0o700)?;
    let tmp_path = format!("{inst_path}/tmp");
    let (private, _) = mkdir_open(inst.as_fd(), "tmp", 0o1777, 0, 0)
        .or_die(|| format!("cannot create {tmp_path}"))?;
    verify_dir(private.as_fd(), &tmp_path, 0, 0, 0o1777)?;
    bind(&format!("/proc/self/fd/{}", private.as_raw_fd()), "/tmp")?;
    make("/tmp", Propagation::Private, false)
}
