//! snapcell's mount executor: snap-update-ns's update procedure (spec §3.2,
//! §3.4–§3.7) performed through the [`System`](snapcell_sys::system::System)
//! trait, plus `fake::FakeSystem`, an in-memory `System` for tests (feature
//! `testing`, never in what ships).
//!
//! The entry point is [`update::execute_mount_profile_update`], snapd's
//! update procedure over a context (the snap's namespace, as snap-update-ns
//! and snap-confine update it, or a user's): lock, enter, load, apply, save.
//! Its heart is [`executor::apply`]: given the current profile (what the
//! namespace holds), the desired profile and the [`Assumptions`], it plans
//! with [`snapcell_core::plan::needed_changes`], performs each change
//! (creating mount points without trespassing on the host, building
//! writable mimics where needed) and returns the new current profile. When a
//! layout or overname change fails, everything the run did is rolled back
//! and the caller keeps the old current profile.
#![forbid(unsafe_code)]

pub mod assumptions;
pub mod errno;
pub mod error;
pub mod executor;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
#[cfg(feature = "fault-injection")]
pub mod faulty;
pub mod update;

pub use assumptions::Assumptions;
pub use error::ExecError;
pub use executor::{Outcome, UpdateError, apply};
pub use update::{
    MountProfileUpdateContext, ProfileUpdateError, SystemProfileUpdateContext, Updated,
    UserProfileUpdateContext, execute_mount_profile_update,
};

#[cfg(test)]
mod tests;
