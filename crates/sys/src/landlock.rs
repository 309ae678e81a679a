//! Landlock as the AppArmor substitute (security.md §2 "Surprise 2", §6.10).
//!
//! snapd relies on AppArmor's ptrace rules to keep a snap's processes away
//! from processes outside the sandbox. Without AppArmor, `/proc/PID/root`,
//! `/proc/PID/cwd`, `/proc/PID/mem` and `ptrace` of any same-uid process on
//! the host are an escape hatch: the sandbox shares the host's PID namespace
//! and procfs. Any Landlock domain closes it: a process inside a domain may
//! only ptrace-access (and so use those `/proc` links of) processes in the
//! same domain or one nested inside it — even as root.
//!
//! [`restrict_self_minimal`] applies the smallest useful domain: it handles
//! one file-system right, `LANDLOCK_ACCESS_FS_MAKE_BLOCK` (creating block
//! device nodes, which an application cannot do anyway without
//! `CAP_MKNOD`), with no rule allowing it. Nothing else is restricted by
//! Landlock's file-system or network rules.
//!
//! # When to call it
//!
//! Last thing before exec, after every mount (a Landlocked process cannot
//! mount). Like snapd's seccomp load, it does **not** set `no_new_privs`, so
//! it needs `CAP_SYS_ADMIN` in the effective set: call it as root or while
//! [`crate::creds::drop_privileges`] has kept `CAP_SYS_ADMIN`, next to
//! [`crate::seccomp::SeccompProgram::install`], before
//! [`crate::creds::DroppedPrivileges::release_sys_admin`]. Without it
//! `landlock_restrict_self` fails with `EPERM` and so does this function.
//!
//! The domain applies to the calling thread and everything it executes
//! afterwards; call it while the process is single-threaded. On a kernel
//! without Landlock the function succeeds with
//! [`RulesetStatus::NotEnforced`]: the caller decides whether that is fatal.

use landlock::{AccessFs, Ruleset, RulesetAttr, RulesetCreatedAttr};

pub use landlock::{RestrictionStatus as Status, RulesetStatus};

/// Why the Landlock domain could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    #[error("cannot apply the Landlock domain: {0}")]
    Ruleset(#[from] landlock::RulesetError),
}

/// Apply the minimal Landlock domain (see the module documentation).
pub fn restrict_self_minimal() -> Result<Status, LandlockError> {
    Ok(Ruleset::default()
        .handle_access(AccessFs::MakeBlock)?
        .create()?
        .no_new_privs(false)
        .restrict_self()?)
}
