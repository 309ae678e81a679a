//! snapcell's standalone front end, as a library: what the `snap` command
//! and snapd do for confinement on a machine without snapd, written to the
//! same files snapd writes. `bins/snapcell` is only its command line.
//!
//! * [`image`]: snap files (squashfs) attached to loop devices and mounted
//!   read-only, as snapd's mount units do;
//! * [`state`]: which snaps, revisions and connections exist;
//! * [`interfaces`]: what each supported interface adds to a snap's mount
//!   profile and confinement when connected.
//!
//! The loop device ioctls themselves live in `snapcell_sys::loopdev`, with
//! the rest of the unsafe code.
#![forbid(unsafe_code)]

pub mod image;
pub mod interfaces;
pub mod state;
