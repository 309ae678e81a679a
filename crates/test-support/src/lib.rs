//! Test support for snapcell (dev-only).
//!
//! * [`world`]: run a test body in a throwaway world, a forked process tree
//!   with its own PID and mount namespaces where fresh tmpfs cover `/snap`,
//!   `/var/snap`, `/var/lib/snapd`, `/run/snapd` and `/tmp`, and where snaps
//!   can be mounted from squashfs images on loop devices. Nothing is ever
//!   mounted in the namespace of the test process itself.
//! * [`squashfs`]: build reproducible, all-root squashfs images from a
//!   directory tree (`snapcell pack`'s writer, `snapcell_standalone::squashfs`).
//! * [`tree`]: describe a small directory tree (files with modes, symlinks,
//!   directories) and write it out.
//! * [`cgroup`]: throwaway cgroups, BPF pins and udev records for device
//!   cgroup tests (removed by a guard, also on failure).
//! * [`snapshot`]: a leak check over the test process's mount table and the
//!   machine's attached loop devices.
//! * `seccomp_probe` (x86_64): system calls with harmless arguments on every
//!   entry point and a static program that makes them as a snap's app, to
//!   see what seccomp filters decide.
//! * [`static_c`]: small static C programs that run as a snap's app on
//!   any base.
//! * [`snapd`]: snapd's own policy text (seccomp and AppArmor templates,
//!   interface snippets) read out of the installed snapd at test time.
//!
//! Files prepared on the host for use inside a world must not live under
//! `/tmp`: the world covers it with an empty tmpfs. [`scratch_dir`] makes a
//! temporary directory under `/var/tmp`, which the world sees unchanged.
#![forbid(unsafe_code)]

pub mod cgroup;
pub mod feature_build;
pub mod preserve;
#[cfg(target_arch = "x86_64")]
pub mod seccomp_probe;
pub mod snapd;
pub mod snapshot;
pub mod squashfs;
pub mod static_c;
pub mod tree;
pub mod world;

pub use snapshot::MachineSnapshot;
pub use squashfs::build_squashfs;
pub use static_c::build_static_c;
pub use tree::Tree;
pub use world::{World, WorldError, run_in_world, try_run_in_world};

/// Where [`scratch_dir`] creates its directories: outside `/tmp`, so that
/// both the host and a world see the same files at the same paths.
pub const SCRATCH_PARENT: &str = "/var/tmp";

/// How the names of [`scratch_dir`]s start.
pub const SCRATCH_PREFIX: &str = "snapcell-test-";

/// A temporary directory (removed on drop, in the process that drops it)
/// under [`SCRATCH_PARENT`]. Loop devices backed by files in it count as
/// this thread's in [`MachineSnapshot::assert_unchanged`].
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(SCRATCH_PREFIX)
        .tempdir_in(SCRATCH_PARENT)?;
    snapshot::claim_scratch_dir(dir.path());
    Ok(dir)
}
