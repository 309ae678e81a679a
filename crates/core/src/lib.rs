//! The pure core of snapcell.
//!
//! Everything here is data in, data out: snapd's mount profile (fstab) format,
//! `/proc/self/mountinfo`, `meta/snap.yaml`, layouts and their conversion to
//! mount profiles, the change planner of snap-update-ns, and snapd's compiled
//! seccomp profiles. Nothing in this crate makes a system call or uses
//! `unsafe`; the file system is consulted only through the [`plan::FsView`]
//! trait.
#![forbid(unsafe_code)]

pub mod args;
pub mod entry;
pub mod escape;
pub mod expand;
pub mod goquote;
pub mod layout;
pub mod mount_opts;
pub mod mount_spec;
pub mod mountinfo;
pub mod naming;
pub mod paths;
pub mod plan;
pub mod profile;
pub mod seccomp;
pub mod snap_yaml;
pub mod snapenv;
