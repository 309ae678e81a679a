//! Control groups as snapd uses them: the device cgroup (v1 `devices`
//! controller, v2 BPF device programs with a pinned map under
//! `/sys/fs/bpf/snap`) and process tracking (v1 freezer `snap.NAME`, v2
//! the scopes `snap run` makes), with the freezing snap-update-ns does.
//!
//! * [`bpf`]: the raw `bpf()` calls;
//! * [`udev`]: the devices udev tagged for an app;
//! * [`device`]: the device cgroup itself ([`device::DeviceCgroup`]) and
//!   snap-confine's step ([`device::setup_device_cgroup`]);
//! * [`tracking`]: the snap's tracking group (joining it, "in use",
//!   freezing and thawing).
//!
//! Which version a host uses is decided as snapd does: `/sys/fs/cgroup` is
//! the v2 hierarchy itself (`statfs` says cgroup2), or v1 (a tmpfs with
//! controllers in it, this machine's hybrid layout included: the v2
//! hierarchy at `/sys/fs/cgroup/unified` is then left alone).

pub mod bpf;
pub mod device;
pub mod tracking;
pub mod udev;

use std::fmt;

use rustix::io::Errno;
use snapcell_core::dirs::CGROUP_DIR;

use crate::errno::strerror;

/// Why a cgroup step failed: what could not be done (snapd's words,
/// `cannot ...`, naming the path) and the errno, if a system call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupError {
    what: String,
    errno: Option<Errno>,
}

impl CgroupError {
    pub fn new(what: impl Into<String>) -> CgroupError {
        CgroupError {
            what: what.into(),
            errno: None,
        }
    }

    pub fn sys(what: impl Into<String>, errno: Errno) -> CgroupError {
        CgroupError {
            what: what.into(),
            errno: Some(errno),
        }
    }

    /// The errno of the failed system call, if that is what failed.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }
}

impl fmt::Display for CgroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Some(errno) => write!(f, "{}: {}", self.what, strerror(errno)),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for CgroupError {}

/// Attach "what" to an errno result.
pub(crate) trait OrCgroupError<T> {
    fn or_fail(self, what: impl FnOnce() -> String) -> Result<T, CgroupError>;
}

impl<T> OrCgroupError<T> for Result<T, Errno> {
    fn or_fail(self, what: impl FnOnce() -> String) -> Result<T, CgroupError> {
        self.map_err(|errno| CgroupError::sys(what(), errno))
    }
}

/// The cgroup version of the host (of this mount namespace's
/// `/sys/fs/cgroup`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// `CGROUP2_SUPER_MAGIC`.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// `statfs("/sys/fs/cgroup")`: cgroup2 is v2, anything else v1.
pub fn cgroup_version() -> Result<CgroupVersion, CgroupError> {
    let st = rustix::fs::statfs(CGROUP_DIR).or_fail(|| format!("cannot statfs {CGROUP_DIR}"))?;
    Ok(if st.f_type == CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    })
}

/// The calling process's v2 cgroup (`/proc/self/cgroup`'s `0::PATH`
/// line), relative to the hierarchy's root: `/user.slice/...`.
pub fn own_cgroup_v2() -> Result<String, CgroupError> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| {
        CgroupError::sys(
            "cannot read /proc/self/cgroup",
            Errno::from_io_error(&e).unwrap_or(Errno::IO),
        )
    })?;
    own_cgroup_v2_of(&text).ok_or_else(|| CgroupError::new("cannot obtain own group path"))
}

fn own_cgroup_v2_of(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_owned)
}

/// Whether a v2 cgroup is one of snapd's (its leaf `snap.*.scope`, made by
/// `snap run`, or `snap.*.service`, a daemon's unit): the only cgroups
/// snap-confine locks down, never a group the app shares with others.
pub fn is_snap_cgroup(path: &str) -> bool {
    let leaf = path.rsplit('/').next().unwrap_or_default();
    leaf.starts_with("snap.") && (leaf.ends_with(".scope") || leaf.ends_with(".service"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_group() {
        let text = "12:devices:/user.slice\n1:name=systemd:/x\n0::/user.slice/snap.a.b-1.scope\n";
        assert_eq!(
            own_cgroup_v2_of(text).as_deref(),
            Some("/user.slice/snap.a.b-1.scope")
        );
        assert_eq!(own_cgroup_v2_of("1:name=systemd:/x\n"), None);
    }

    #[test]
    fn snap_cgroups() {
        assert!(is_snap_cgroup(
            "/user.slice/user-1000.slice/user@1000.service/app.slice/snap.hello.hello-4706fe54.scope"
        ));
        assert!(is_snap_cgroup("/system.slice/snap.foo.daemon.service"));
        assert!(!is_snap_cgroup(
            "/user.slice/user-1000.slice/session-2.scope"
        ));
        assert!(!is_snap_cgroup("/user.slice/user@1000.service"));
        assert!(!is_snap_cgroup("/"));
    }
}
