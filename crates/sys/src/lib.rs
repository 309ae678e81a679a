//! The system layer of snapcell.

pub mod apparmor;
pub mod cgroup;
pub mod creds;
pub mod errno;
pub mod flock;
pub mod fork;
pub mod fsview;
pub mod hygiene;
pub mod landlock;
pub mod live;
pub mod log;
pub mod loopdev;
pub mod mountinfo;
pub mod ns;
pub mod nsid;
pub mod profile_io;
pub mod safefs;
pub mod seccomp;
pub mod snaplock;
pub mod system;
pub mod users;
