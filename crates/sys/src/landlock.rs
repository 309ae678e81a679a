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

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, PathBeneath, Ruleset, RulesetAttr,
    RulesetCreatedAttr, Scope,
};
use snapcell_core::landlock::{Policy, Target, access};

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

/// Whether this process can create a Landlock ruleset (the kernel has
/// Landlock, it is enabled, and no seccomp filter hides it).
pub fn available() -> bool {
    use landlock::{CompatLevel, Compatible};
    Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::Execute)
        .and_then(|r| r.create())
        .is_ok()
}

/// The newest ABI whose rights the domain handles. Rights of older kernels
/// are dropped by the library (best effort), so the domain degrades.
const BEST_ABI: ABI = ABI::V7;

/// A [`Policy`] with its paths opened (`O_PATH`, no symlink followed in
/// any component: AppArmor matches resolved paths, so a rule whose path
/// goes through a symlink matches nothing there either). Open it in the
/// app's mount namespace; apply it with [`PreparedDomain::restrict_self`].
pub struct PreparedDomain {
    paths: Vec<(std::os::fd::OwnedFd, u64, String)>,
    policy: Policy,
    /// Debug lines: skipped paths and the policy's own notes.
    pub notes: Vec<String>,
}

/// Open every path of `policy`; missing ones are skipped, a literal file
/// rule naming a directory is skipped (it would reach everything beneath).
pub fn prepare(policy: Policy) -> PreparedDomain {
    use rustix::fs::{FileType, OFlags, ResolveFlags};
    let mut notes = policy.notes.clone();
    let mut paths = Vec::new();
    for ((path, target), rights) in &policy.paths {
        let fd = match rustix::fs::openat2(
            rustix::fs::CWD,
            path.as_str(),
            OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            rustix::fs::Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => {
                notes.push(format!("{path}: not granted: {e}"));
                continue;
            }
        };
        let Ok(st) = rustix::fs::fstat(&fd) else {
            continue;
        };
        let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
        let mut rights = *rights;
        if !is_dir {
            if *target == Target::Dir {
                continue;
            }
            rights &= access::FILE;
        } else if *target == Target::File {
            notes.push(format!("{path}: not granted: a directory named as a file"));
            continue;
        }
        if rights != 0 {
            paths.push((fd, rights, path.clone()));
        }
    }
    PreparedDomain {
        paths,
        policy,
        notes,
    }
}

impl PreparedDomain {
    /// How many path rules the domain has.
    pub fn path_rules(&self) -> usize {
        self.paths.len()
    }

    /// Each path rule: the path and its rights (Landlock's bits).
    pub fn rules(&self) -> impl Iterator<Item = (&str, u64)> {
        self.paths.iter().map(|(_, r, p)| (p.as_str(), *r))
    }

    /// Apply the domain to the calling thread (same conditions as
    /// [`restrict_self_minimal`]: `CAP_SYS_ADMIN`, single-threaded; no
    /// `no_new_privs`). Handles every file-system right of the best ABI,
    /// TCP bind and connect unless the policy allows every port, and the
    /// ABI 6 scopes the policy asks for.
    pub fn restrict_self(self) -> Result<Status, LandlockError> {
        let mut ruleset = Ruleset::default().handle_access(AccessFs::from_all(BEST_ABI))?;
        let mut net = BitFlags::<AccessNet>::empty();
        if !self.policy.tcp_bind {
            net |= AccessNet::BindTcp;
        }
        if !self.policy.tcp_connect {
            net |= AccessNet::ConnectTcp;
        }
        if !net.is_empty() {
            ruleset = ruleset.handle_access(net)?;
        }
        let mut scopes = BitFlags::<Scope>::empty();
        if self.policy.scope_abstract_unix {
            scopes |= Scope::AbstractUnixSocket;
        }
        if self.policy.scope_signal {
            scopes |= Scope::Signal;
        }
        if !scopes.is_empty() {
            ruleset = ruleset.scope(scopes)?;
        }
        let mut created = ruleset.create()?;
        for (fd, rights, _) in self.paths {
            let access = BitFlags::<AccessFs>::from_bits_truncate(rights);
            created = created.add_rule(PathBeneath::new(fd, access))?;
        }
        // No port rules: the policy allows every port or none.
        Ok(created.no_new_privs(false).restrict_self()?)
    }
}
