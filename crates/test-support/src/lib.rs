//! Test support for snapcell.
