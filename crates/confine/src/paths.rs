//! The fixed locations snap-confine works with (snapd's, unchanged).

use std::path::Path;

/// Preserved namespaces and their profiles and info files.
pub const NS_DIR: &str = "/run/snapd/ns";
/// Root-only parent of the per-snap private `/tmp` directories.
pub const PRIVATE_TMP_DIR: &str = "/tmp/snap-private-tmp";
/// Where the host's root stays visible inside the namespace.
pub const HOSTFS_DIR: &str = "/var/lib/snapd/hostfs";
/// The fallback working directory (mode 0111).
pub const VOID_DIR: &str = "/var/lib/snapd/void";
/// Desired mount profiles, written by snapd.
pub const MOUNT_PROFILE_DIR: &str = "/var/lib/snapd/mount";
/// Compiled seccomp programs.
pub const SECCOMP_DIR: &str = "/var/lib/snapd/seccomp/bpf";
/// Snap cookies.
pub const COOKIE_DIR: &str = "/var/lib/snapd/cookie";
/// `homedirs=...` and other system parameters.
pub const SYSTEM_PARAMS: &str = "/var/lib/snapd/system-params";
/// Where snaps are mounted on most distributions.
pub const SNAP_MOUNT_DIR: &str = "/snap";
/// Where Fedora-like distributions mount them.
pub const ALT_SNAP_MOUNT_DIR: &str = "/var/lib/snapd/snap";

/// The directory holding snap mounts on this host: `/snap` when it is a
/// real directory, `/var/lib/snapd/snap` otherwise (a `/snap` symlink to it,
/// or no `/snap`).
pub fn snap_mount_dir() -> &'static str {
    match std::fs::symlink_metadata(SNAP_MOUNT_DIR) {
        Ok(meta) if meta.is_dir() => SNAP_MOUNT_DIR,
        _ if Path::new(ALT_SNAP_MOUNT_DIR).is_dir() => ALT_SNAP_MOUNT_DIR,
        _ => SNAP_MOUNT_DIR,
    }
}

/// `/run/snapd/ns/INSTANCE.mnt`.
pub fn preserved_ns_name(instance: &str) -> String {
    format!("{instance}.mnt")
}

/// `snap.INSTANCE.fstab`, the current mount profile in [`NS_DIR`].
pub fn current_profile_name(instance: &str) -> String {
    format!("snap.{instance}.fstab")
}

/// `snap.INSTANCE.info` in [`NS_DIR`].
pub fn info_name(instance: &str) -> String {
    format!("snap.{instance}.info")
}

/// `/var/lib/snapd/mount/snap.INSTANCE.fstab`, the desired mount profile.
pub fn desired_profile_path(instance: &str) -> String {
    format!("{MOUNT_PROFILE_DIR}/snap.{instance}.fstab")
}

/// `/run/snapd/ns/snap.INSTANCE.fstab`.
pub fn current_profile_path(instance: &str) -> String {
    format!("{NS_DIR}/{}", current_profile_name(instance))
}
