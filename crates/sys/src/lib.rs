//! The system layer of snapcell.

pub mod profile_io;
pub mod fsview;
pub mod ns;
