//! The system layer of snapcell.
