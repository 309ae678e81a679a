//! snap-confine's launcher logic, as a library: from a command line and an
//! environment to an app running in its snap's mount namespace.
//!
//! * [`request`]: arguments and environment → a validated [`request::Request`];
//! * the per-snap and global locks are [`snapcell_sys::snaplock`]'s;
//! * [`host`]: the host side (`/run/snapd/ns` private, shared snap mounts);
//! * [`reuse`]: whether a preserved namespace may be entered again;
//! * [`bootstrap`]: building a namespace (one ordered table of host
//!   directories, [`bootstrap::HOST_DIRS`]); [`privtmp`]: the private `/tmp`;
//! * [`helper`]: preserving a namespace (in-process, where snapd forks a
//!   capture helper), and the `unshare` that avoids the 6.18 namespace-id
//!   trap;
//! * [`profile`]: applying the snap's mount profile;
//! * [`confinement`]: seccomp, the minimal Landlock domain, privileges,
//!   environment, descriptors;
//! * [`discard`](mod@discard): snap-discard-ns;
//! * [`launch`]: the main flow. A warm start is: parse and check the
//!   request, take the snap lock, open and check the preserved namespace
//!   (the check enters it), confine, exec; the host preparation (global
//!   lock, shared snap mounts, `/run/snapd/ns`) happens only when a
//!   namespace is built.
//!
//! Decisions where the spec is silent or where we depart from it (each
//! documented where it is made):
//! * `/proc/1/ns/mnt` unreadable (this VM): a root caller stays in the
//!   current namespace, a set-user-ID caller is refused ([`host`]);
//! * "the base is still mounted" in the tmpfs-root design ([`reuse`]);
//! * a "should discard" namespace is discarded even if in use: no process
//!   tracking yet ([`reuse`]);
//! * the scratch root is `/tmp/snap-private-tmp/snap.rootfs.XXXXXXXXXXXX`,
//!   a name no instance can have ([`bootstrap::Scratch`]);
//! * `/usr/lib/snapd` is remounted read-only, and only bound from a
//!   directory only root can change ([`launch`]);
//! * the mount profile is applied in-process, read before `unshare`
//!   ([`profile`]); no helper binary is ever executed;
//! * the new namespace is preserved from the host namespace by `setns`
//!   there and back, not by a forked capture helper ([`helper`]);
//! * debug output of a set-user-ID run is held back until the end
//!   ([`snapcell_sys::log`]);
//! * Ubuntu Core 16 legacy mode is refused rather than implemented;
//! * a minimal Landlock domain stands in for AppArmor's ptrace rules
//!   ([`confinement`]); a Landlocked app cannot mount, so a snap-confine
//!   started from inside a snap cannot build a namespace.
//!
//! The process must be single-threaded (`setns` into a mount namespace
//! requires it); nothing here starts threads.
#![forbid(unsafe_code)]

pub mod base;
pub mod bootstrap;
pub mod confinement;
pub mod discard;
pub mod error;
pub mod helper;
pub mod host;
pub mod launch;
pub mod mounts;
pub mod paths;
pub mod privtmp;
pub mod profile;
pub mod request;
pub mod reuse;
pub mod system;

pub use error::{Error, Result};
pub use launch::main;
