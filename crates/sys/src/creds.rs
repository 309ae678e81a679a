//! Dropping privileges before exec (spec §6.3 step 7).
//!
//! snap-confine is setuid root: it starts with the caller's real uid/gid and
//! euid 0 (saved uid 0). Before exec it becomes the real user for good:
//!
//! 1. [`drop_privileges`]: `setresgid(real, real, real)` then
//!    `setresuid(real, real, real)`, process-wide (glibc's wrappers, which
//!    apply the change to every thread; rustix's `set_thread_res_*` would
//!    change only the calling thread). Supplementary groups are left as they
//!    are: a setuid program inherits the caller's, and snapd keeps them.
//!    The result is verified: all three uids and gids equal the real ones and
//!    `setuid(0)` (and `setgid(0)` for a non-root group) fails.
//! 2. With [`KeepCapability::SysAdmin`], `CAP_SYS_ADMIN` survives the change
//!    in the permitted and effective sets (and nothing else does): the
//!    capability sets are first reduced to `CAP_SYS_ADMIN` (no inheritable),
//!    `PR_SET_KEEPCAPS` is set around the uid change, and the effective bit is
//!    raised again afterwards. That is what loading a seccomp filter without
//!    `no_new_privs` needs (snapd does not set `no_new_privs`; see
//!    [`crate::seccomp`]), and what applying a Landlock domain without it
//!    needs too.
//! 3. After loading seccomp (and Landlock),
//!    [`DroppedPrivileges::release_sys_admin`] clears every capability set and
//!    `PR_SET_KEEPCAPS`, and verifies it. (An `execve` by a process whose uids
//!    are all non-zero would also compute empty sets from a file without file
//!    capabilities; the explicit clear mirrors snapd and does not depend on
//!    that.) The seccomp profile must allow `capset`, which snapd's base
//!    template does.
//!
//! When the real uid is 0 (root ran snap-confine) nothing is dropped and the
//! application keeps root's capabilities, as with snapd.
//!
//! This differs from snapd's order in one respect: snapd only moves the
//! *effective* uid to the real user before loading seccomp and leaves the
//! saved uid 0 until `execve` turns it into the effective uid. Here all
//! three ids are the real user's before anything of the application's
//! environment is loaded, and "cannot regain root" is checked rather than
//! assumed.
//!
//! Capabilities, `PR_SET_KEEPCAPS` and seccomp are per-thread; call these
//! functions while the process is single-threaded (snap-confine always is).

use rustix::io::Errno;
use rustix::thread::{CapabilitySet, CapabilitySets};

/// Real, effective and saved ids (uids or gids).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResIds {
    pub real: u32,
    pub effective: u32,
    pub saved: u32,
}

impl ResIds {
    fn all(id: u32) -> Self {
        Self {
            real: id,
            effective: id,
            saved: id,
        }
    }
}

/// Whether to keep `CAP_SYS_ADMIN` across the drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepCapability {
    /// Keep nothing: after the drop the process has no capabilities.
    Nothing,
    /// Keep `CAP_SYS_ADMIN` (permitted and effective) for loading seccomp and
    /// Landlock; release it with [`DroppedPrivileges::release_sys_admin`].
    SysAdmin,
}

/// Why a privilege transition failed. Every failure must be fatal.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error("cannot {what}: {err}")]
    Syscall { what: &'static str, err: Errno },
    #[error(
        "permanently dropping privileges did not work: uids {uids:?}, gids {gids:?}, expected uid {uid} and gid {gid}"
    )]
    NotDropped {
        uids: ResIds,
        gids: ResIds,
        uid: u32,
        gid: u32,
    },
    #[error("permanently dropping privileges did not work: {0} succeeded")]
    Regained(&'static str),
    #[error("unexpected capabilities after {stage}: {caps:?}")]
    Capabilities {
        stage: &'static str,
        caps: CapabilitySets,
    },
    #[error("cannot keep CAP_SYS_ADMIN: it is not in the permitted set")]
    NoSysAdmin,
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

/// `getresuid(2)`.
pub fn getresuid() -> ResIds {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are valid, writable `uid_t`s on our stack.
    // getresuid cannot fail with valid pointers.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    ResIds {
        real: r,
        effective: e,
        saved: s,
    }
}

/// `getresgid(2)`.
pub fn getresgid() -> ResIds {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: as in `getresuid`.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    ResIds {
        real: r,
        effective: e,
        saved: s,
    }
}

/// Process-wide `setresgid(2)` (glibc applies it to every thread).
fn setresgid(id: u32) -> Result<(), CredsError> {
    // SAFETY: plain integer arguments; glibc's wrapper synchronises all
    // threads of the process and touches no memory of ours.
    if unsafe { libc::setresgid(id, id, id) } != 0 {
        return Err(CredsError::Syscall {
            what: "setresgid",
            err: last_errno(),
        });
    }
    Ok(())
}

/// Process-wide `setresuid(2)`.
fn setresuid(id: u32) -> Result<(), CredsError> {
    // SAFETY: as in `setresgid`.
    if unsafe { libc::setresuid(id, id, id) } != 0 {
        return Err(CredsError::Syscall {
            what: "setresuid",
            err: last_errno(),
        });
    }
    Ok(())
}

/// The calling thread's capability sets.
pub fn capabilities() -> Result<CapabilitySets, CredsError> {
    rustix::thread::capabilities(None).map_err(|err| CredsError::Syscall {
        what: "capget",
        err,
    })
}

fn set_caps(what: &'static str, sets: CapabilitySets) -> Result<(), CredsError> {
    rustix::thread::set_capabilities(None, sets).map_err(|err| CredsError::Syscall { what, err })
}

fn only_sys_admin() -> CapabilitySets {
    CapabilitySets {
        effective: CapabilitySet::SYS_ADMIN,
        permitted: CapabilitySet::SYS_ADMIN,
        inheritable: CapabilitySet::empty(),
    }
}

fn no_caps() -> CapabilitySets {
    CapabilitySets {
        effective: CapabilitySet::empty(),
        permitted: CapabilitySet::empty(),
        inheritable: CapabilitySet::empty(),
    }
}

fn expect_caps(stage: &'static str, want: CapabilitySets) -> Result<(), CredsError> {
    // The ambient set needs no separate check: the kernel keeps it a subset
    // of permitted ∩ inheritable, and inheritable is empty here.
    let caps = capabilities()?;
    if caps != want {
        return Err(CredsError::Capabilities { stage, caps });
    }
    Ok(())
}

/// The state after [`drop_privileges`].
#[derive(Debug)]
#[must_use = "CAP_SYS_ADMIN stays until release_sys_admin is called"]
pub struct DroppedPrivileges {
    uid: u32,
    gid: u32,
    real_root: bool,
    sys_admin_kept: bool,
}

impl DroppedPrivileges {
    /// The uid the process now runs as (all three ids).
    pub fn uid(&self) -> u32 {
        self.uid
    }

    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The real uid was 0: nothing was dropped and the process keeps root's
    /// capabilities.
    pub fn is_real_root(&self) -> bool {
        self.real_root
    }

    /// `CAP_SYS_ADMIN` is still held (until [`release_sys_admin`](Self::release_sys_admin)).
    pub fn holds_sys_admin(&self) -> bool {
        self.sys_admin_kept
    }

    /// Clear every capability set, the ambient set and `PR_SET_KEEPCAPS`,
    /// and verify that no capability is left. A no-op when nothing was kept
    /// (including for a root caller, whose capabilities stay).
    pub fn release_sys_admin(&mut self) -> Result<(), CredsError> {
        if !self.sys_admin_kept {
            return Ok(());
        }
        set_caps("clear CAP_SYS_ADMIN", no_caps())?;
        rustix::thread::clear_ambient_capability_set().map_err(|err| CredsError::Syscall {
            what: "clear the ambient capability set",
            err,
        })?;
        rustix::thread::set_keep_capabilities(false).map_err(|err| CredsError::Syscall {
            what: "clear PR_SET_KEEPCAPS",
            err,
        })?;
        expect_caps("clearing CAP_SYS_ADMIN", no_caps())?;
        self.sys_admin_kept = false;
        Ok(())
    }
}

/// Permanently become the real user (see the module documentation).
///
/// Works from snap-confine's setuid state (real uid ≠ 0, effective and saved
/// uid 0) and from snapd's "temporarily dropped" state (effective uid already
/// the real user, saved uid 0). With [`KeepCapability::SysAdmin`] the
/// process must have `CAP_SYS_ADMIN` in its permitted set. When the real uid
/// is 0 nothing is changed.
pub fn drop_privileges(keep: KeepCapability) -> Result<DroppedPrivileges, CredsError> {
    let uids = getresuid();
    let gids = getresgid();
    let (uid, gid) = (uids.real, gids.real);
    if uid == 0 {
        return Ok(DroppedPrivileges {
            uid,
            gid,
            real_root: true,
            sys_admin_kept: false,
        });
    }
    let keep_sys_admin = keep == KeepCapability::SysAdmin;
    if keep_sys_admin {
        if !capabilities()?.permitted.contains(CapabilitySet::SYS_ADMIN) {
            return Err(CredsError::NoSysAdmin);
        }
        // Everything but CAP_SYS_ADMIN goes now; none inheritable.
        set_caps("restrict capabilities to CAP_SYS_ADMIN", only_sys_admin())?;
        rustix::thread::set_keep_capabilities(true).map_err(|err| CredsError::Syscall {
            what: "set PR_SET_KEEPCAPS",
            err,
        })?;
    }
    // Group first: after the uid change we could no longer change it.
    setresgid(gid)?;
    setresuid(uid)?;
    let (now_uids, now_gids) = (getresuid(), getresgid());
    if now_uids != ResIds::all(uid) || now_gids != ResIds::all(gid) {
        return Err(CredsError::NotDropped {
            uids: now_uids,
            gids: now_gids,
            uid,
            gid,
        });
    }
    if keep_sys_admin {
        // The uid change emptied the effective set; raise the one bit again.
        set_caps("regain CAP_SYS_ADMIN", only_sys_admin())?;
        rustix::thread::set_keep_capabilities(false).map_err(|err| CredsError::Syscall {
            what: "clear PR_SET_KEEPCAPS",
            err,
        })?;
        expect_caps("dropping privileges", only_sys_admin())?;
    } else {
        // Usually already empty (all uids left 0), but not for a launcher
        // that got its capabilities from file capabilities rather than euid 0.
        set_caps("clear capabilities", no_caps())?;
        expect_caps("dropping privileges", no_caps())?;
    }
    // Cannot regain root. Without CAP_SETUID/CAP_SETGID and with no id 0
    // left these must fail; if one succeeds the process is root again and
    // the caller must die.
    // SAFETY: plain integer argument; glibc's wrapper touches no memory of ours.
    if unsafe { libc::setuid(0) } == 0 {
        return Err(CredsError::Regained("setuid(0)"));
    }
    // SAFETY: as above.
    if gid != 0 && unsafe { libc::setgid(0) } == 0 {
        return Err(CredsError::Regained("setgid(0)"));
    }
    Ok(DroppedPrivileges {
        uid,
        gid,
        real_root: false,
        sys_admin_kept: keep_sys_admin,
    })
}
