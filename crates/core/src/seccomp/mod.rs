//! snapd's seccomp profiles: the `.src` language that `snap-seccomp compile` reads.
pub mod lang;
