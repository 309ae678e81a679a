//! Seccomp profiles as data: what snapd's compiled profiles contain, and how
//! to read them, without any system call.
//!
//! * [`bpf`]: classic BPF instructions and programs, and the constants to
//!   build small filters by hand;
//! * [`bin2`]: snapd's compiled profile files (`TAG.bin2`, legacy `TAG.bin`),
//!   parsed and validated into a [`SeccompProgram`];
//! * [`kernel`]: what the kernel does with a seccomp program (its checks,
//!   running one, running a stack, the action cache's emulation);
//! * [`compose`]: several filters as one program deciding as their stack;
//! * [`lang`]: the `.src` language that `snap-seccomp compile` reads, parsed
//!   into typed rules (the `snap-seccomp` binary compiles them with
//!   libseccomp);
//! * [`policy`]: snapcell's own policy for the standalone front end, the
//!   default profile and each interface's rules, written as `.src` text.
//!
//! Finding and reading a profile file safely and handing the filters to the
//! kernel is `snapcell_sys::seccomp`'s part.

pub mod bin2;
pub mod bpf;
pub mod compose;
pub mod kernel;
pub mod lang;
pub mod policy;

use std::fmt;
use std::path::{Path, PathBuf};

use bpf::BpfProgram;

/// Which part of a profile a filter is, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterRole {
    /// The `.bin2` deny program (loaded first).
    Deny,
    /// The `.bin2` allow program.
    Allow,
    /// The single program of a legacy `.bin` file.
    Legacy,
    /// A filter built in code (e.g. the TIOCSTI filter of
    /// `snapcell_sys::hygiene::harden_tty`).
    Builtin(&'static str),
}

impl fmt::Display for FilterRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterRole::Deny => f.write_str("deny"),
            FilterRole::Allow => f.write_str("allow"),
            FilterRole::Legacy => f.write_str("legacy"),
            FilterRole::Builtin(name) => f.write_str(name),
        }
    }
}

/// The file format a profile was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProfileFormat {
    /// `TAG.bin2`: header + allow + deny.
    Bin2,
    /// `TAG.bin`: one raw program, or `@unrestricted\n`.
    LegacyBin,
    /// Built in code, not read from a file.
    Builtin,
}

/// A parsed and validated seccomp profile, ready to install (installing is
/// `snapcell_sys::seccomp::Install`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeccompProgram {
    source: PathBuf,
    format: ProfileFormat,
    unrestricted: bool,
    /// In load order.
    filters: Vec<(FilterRole, BpfProgram)>,
}

impl SeccompProgram {
    /// A profile made of filters built in code, installed in the given order.
    pub fn builtin(name: &str, filters: Vec<(FilterRole, BpfProgram)>) -> Self {
        Self {
            source: PathBuf::from(format!("<builtin {name}>")),
            format: ProfileFormat::Builtin,
            unrestricted: filters.is_empty(),
            filters,
        }
    }

    /// The file the profile came from.
    pub fn path(&self) -> &Path {
        &self.source
    }

    pub fn format(&self) -> ProfileFormat {
        self.format
    }

    /// Whether the profile says "load nothing" (`.bin2` flag bit 0, or a
    /// legacy `@unrestricted` file).
    pub fn is_unrestricted(&self) -> bool {
        self.unrestricted
    }

    /// The filters in the order they are loaded (deny before allow; empty
    /// when unrestricted).
    pub fn filters(&self) -> &[(FilterRole, BpfProgram)] {
        &self.filters
    }
}
