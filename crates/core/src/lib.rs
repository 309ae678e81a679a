//! The pure core of snapcell.
//!
//! Everything here is data in, data out: snapd's mount profile (fstab) format,
//! `/proc/self/mountinfo`, `meta/snap.yaml`, layouts and their conversion to
//! mount profiles, the change planner of snap-update-ns, and snapd's compiled
//! seccomp profiles with their language. `snap_yaml` and `snapenv` come with the `snap-yaml`
//! feature (on by default, off for the set-user-ID snap-confine). Nothing in
//! this crate makes a system call or uses `unsafe`; the file system is
//! consulted only through the [`plan::FsView`] trait.
#![forbid(unsafe_code)]

pub mod apparmor;
pub mod args;
pub mod devices;
pub mod dirs;
pub mod entry;
pub mod escape;
pub mod expand;
pub mod goquote;
pub mod landlock;
pub mod layout;
pub mod mount_opts;
pub mod mount_spec;
pub mod mountinfo;
pub mod naming;
pub mod os_release;
pub mod paths;
pub mod plan;
pub mod profile;
pub mod saved_env;
pub mod seccomp;
#[cfg(feature = "snap-yaml")]
pub mod snap_yaml;
pub mod snapd_state;
#[cfg(feature = "snap-yaml")]
pub mod snapenv;
pub mod system_params;
