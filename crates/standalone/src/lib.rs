//! snapcell's standalone front end, as a library: what the `snap` command
//! and snapd do for confinement on a machine without snapd, written to the
//! same files snapd writes. `bins/snapcell` is only its command line.
//!
//! * [`base`]: base snaps built from distribution packages (mmdebstrap's
//!   tree made a base, packed and cached; the recipes `install` and `try`
//!   build a missing base from);
//! * [`image`]: snap files (squashfs) attached to loop devices and mounted
//!   read-only, as snapd's mount units do;
//! * [`snap_file`]: checking a `.snap` file or snap directory before
//!   anything is installed;
//! * [`pack`]: what `snap pack` checks of a snap directory;
//! * [`squashfs`]: snap files written (`snapcell pack`) and read (their
//!   listing and `meta/snap.yaml`) in-process;
//! * [`state`]: which snaps, revisions and connections exist, and the
//!   change journal of the command changing them;
//! * [`fault`]: test-only fault points (feature `fault-injection`) where a
//!   command is made to crash;
//! * [`manage`]: install (and refresh), try, revert and remove;
//! * [`security`]: a revision's mount profile, seccomp profiles and
//!   `/snap/bin` commands;
//! * [`run`]: `snap run`'s part of a launch (environment, snap-confine's
//!   command line);
//! * [`helpers`]: finding snap-confine, snap-exec, snap-seccomp and
//!   snap-discard-ns next to snapcell;
//! * [`userdata`]: users' `~/snap/NAME` data, copied on refresh and
//!   removed with the snap as snapd does;
//! * [`interfaces`]: what each supported interface adds to a snap's mount
//!   profile and confinement when connected, which connect by themselves,
//!   and `connect`, `disconnect` and `connections`;
//! * [`policy`]: the profiles snap-confine translates into each app's
//!   Landlock domain (our grants, the connections', the layouts').
//!
//! The loop device ioctls themselves live in `snapcell_sys::loopdev`, with
//! the rest of the unsafe code.
#![forbid(unsafe_code)]

pub mod base;
pub mod fault;
pub mod helpers;
pub mod image;
pub mod interfaces;
pub mod manage;
pub mod pack;
pub mod policy;
pub mod run;
pub mod security;
pub mod snap_file;
pub mod squashfs;
pub mod state;
pub mod userdata;
