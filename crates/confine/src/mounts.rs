//! The mount operations of the bootstrap, one system call each, each logged
//! (`SNAPD_DEBUG`) and each failure saying which operation on which paths
//! failed, in the words of `mount(8)` as snap-confine does.

use rustix::mount::{
    MountFlags, MountPropagationFlags, UnmountFlags, mount, mount_bind, mount_bind_recursive,
    mount_change, mount_remount, unmount,
};
use snapcell_sys::debug;

use crate::error::{Result, SysContext};

/// Propagation changes, as `mount --make-*` spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    fn word(self) -> &'static str {
        match self {
            Propagation::Shared => "shared",
            Propagation::Slave => "slave",
            Propagation::Private => "private",
            Propagation::Unbindable => "unbindable",
        }
    }

    fn flags(self) -> MountPropagationFlags {
        match self {
            Propagation::Shared => MountPropagationFlags::SHARED,
            Propagation::Slave => MountPropagationFlags::DOWNSTREAM,
            Propagation::Private => MountPropagationFlags::PRIVATE,
            Propagation::Unbindable => MountPropagationFlags::UNBINDABLE,
        }
    }
}

fn run<T>(op: String, f: impl FnOnce() -> rustix::io::Result<T>) -> Result<T> {
    debug!("performing operation: {op}");
    f().or_die(|| format!("cannot perform operation: {op}"))
}

/// `mount --rbind SRC DST`.
pub fn rbind(src: &str, dst: &str) -> Result<()> {
    run(format!("mount --rbind {src} {dst}"), || {
        mount_bind_recursive(src, dst)
    })
}

/// `mount --bind SRC DST`.
pub fn bind(src: &str, dst: &str) -> Result<()> {
    run(format!("mount --bind {src} {dst}"), || mount_bind(src, dst))
}

/// `mount -o remount,bind,ro DST`.
pub fn remount_read_only(dst: &str) -> Result<()> {
    run(format!("mount -o remount,bind,ro {dst}"), || {
        mount_remount(dst, MountFlags::BIND | MountFlags::RDONLY, "")
    })
}

/// `mount --make-[r]KIND DST`.
pub fn make(dst: &str, kind: Propagation, recursive: bool) -> Result<()> {
    let r = if recursive { "r" } else { "" };
    let mut flags = kind.flags();
    if recursive {
        flags |= MountPropagationFlags::REC;
    }
    run(format!("mount --make-{r}{} {dst}", kind.word()), || {
        mount_change(dst, flags)
    })
}

/// `mount -t FSTYPE -o DATA SOURCE DST` (no flags).
pub fn mount_fs(source: &str, dst: &str, fstype: &str, data: &str) -> Result<()> {
    let shown = if data.is_empty() {
        format!("mount -t {fstype} {source} {dst}")
    } else {
        format!("mount -t {fstype} -o {data} {source} {dst}")
    };
    run(shown, || {
        let data = std::ffi::CString::new(data).map_err(|_| rustix::io::Errno::INVAL)?;
        mount(source, dst, fstype, MountFlags::empty(), data.as_c_str())
    })
}

/// `umount [--lazy] --no-follow DST` (`umount2(UMOUNT_NOFOLLOW [| MNT_DETACH])`).
pub fn umount(dst: &str, detach: bool) -> Result<()> {
    let mut flags = UnmountFlags::NOFOLLOW;
    if detach {
        flags |= UnmountFlags::DETACH;
    }
    let lazy = if detach { "--lazy " } else { "" };
    run(format!("umount {lazy}{dst}"), || unmount(dst, flags))
}
