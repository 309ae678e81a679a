//! The system layer of snapcell.

pub mod fork;
pub mod fsview;
pub mod loopdev;
pub mod ns;
pub mod profile_io;
pub mod squashfs;
pub mod system;
