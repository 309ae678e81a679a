//! Interfaces the standalone front end can connect (home, network, content,
//! ...): for each, the mount profile entries, seccomp rules and Landlock
//! grants a connection adds (the rules themselves are pure and live in
//! `snapcell_core`). Filled by the standalone front end issue.
