//! snapcell's standalone front end, as a library: what the `snap` command
//! and snapd do for confinement on a machine without snapd, written to the
//! same files snapd writes. `bins/snapcell` is only its command line.
//!
//! * [`base`]: base snaps built from distribution packages (what
//!   `snapcell base build` adds to mmdebstrap's tree);
//! * [`image`]: snap files (squashfs) attached to loop devices and mounted
//!   read-only, as snapd's mount units do;
//! * [`pack`]: what `snap pack` checks of a snap directory;
//! * [`squashfs`]: snap files written (`snapcell pack`) and read (their
//!   listing and `meta/snap.yaml`) in-process;
//! * [`state`]: which snaps, revisions and connections exist;
//! * [`interfaces`]: what each supported interface adds to a snap's mount
//!   profile and confinement when connected.
//!
//! The loop device ioctls themselves live in `snapcell_sys::loopdev`, with
//! the rest of the unsafe code.
#![forbid(unsafe_code)]

pub mod base;
pub mod image;
pub mod interfaces;
pub mod pack;
pub mod squashfs;
pub mod state;
