//! Every location snapd and its helpers use, defined once (snapd's `dirs`
//! package).
//!
//! The constants are the paths on a running system. [`Dirs`] joins them
//! under a root directory, the way snapd's `dirs.SetRootDir` does in its
//! tests: [`Dirs::HOST`] is the machine itself, [`Dirs::under`] a directory
//! standing in for it. Pure: nothing here looks at the file system (which
//! of `/snap` and `/var/lib/snapd/snap` a host uses is decided in `sys`).

/// Where snaps are mounted on most distributions (`/snap/NAME/REVISION`).
pub const SNAP_MOUNT_DIR: &str = "/snap";
/// Where Fedora-like distributions mount them.
pub const ALT_SNAP_MOUNT_DIR: &str = "/var/lib/snapd/snap";
/// Launchers of the installed apps (`/snap/bin/NAME.APP`).
pub const SNAP_BIN_DIR: &str = "/snap/bin";
/// The snaps' system data (`/var/snap/NAME/{REVISION,common}`).
pub const SNAP_DATA_DIR: &str = "/var/snap";
/// snapd's state directory.
pub const SNAPD_STATE_DIR: &str = "/var/lib/snapd";
/// The installed snap files (`NAME_REVISION.snap`).
pub const SNAP_BLOB_DIR: &str = "/var/lib/snapd/snaps";
/// snapd's state (connections among the rest).
pub const STATE_FILE: &str = "/var/lib/snapd/state.json";
/// Per-snap saved data (`save/snap/INSTANCE`).
pub const SNAP_SAVE_DIR: &str = "/var/lib/snapd/save/snap";
/// Preserved mount namespaces with their current profiles and info files.
pub const NS_DIR: &str = "/run/snapd/ns";
/// Per-snap lock files (`INSTANCE.lock`) and the global lock (`.lock`).
pub const LOCK_DIR: &str = "/run/snapd/lock";
/// Name of the global lock in [`LOCK_DIR`].
pub const GLOBAL_LOCK: &str = ".lock";
/// Root-only parent of the per-snap private `/tmp` directories.
pub const PRIVATE_TMP_DIR: &str = "/tmp/snap-private-tmp";
/// Where the host's root stays visible inside a snap's namespace.
pub const HOSTFS_DIR: &str = "/var/lib/snapd/hostfs";
/// The fallback working directory (mode 0111).
pub const VOID_DIR: &str = "/var/lib/snapd/void";
/// Desired mount profiles, written by snapd.
pub const MOUNT_PROFILE_DIR: &str = "/var/lib/snapd/mount";
/// Compiled seccomp profiles (`TAG.bin2`, `TAG.bin`, `global.bin`).
pub const SECCOMP_DIR: &str = "/var/lib/snapd/seccomp/bpf";
/// AppArmor profiles snapd wrote (`snap.NAME.APP`).
pub const APPARMOR_PROFILES_DIR: &str = "/var/lib/snapd/apparmor/profiles";
/// Snap cookies (`snap.INSTANCE`).
pub const COOKIE_DIR: &str = "/var/lib/snapd/cookie";
/// `homedirs=...` and other system parameters.
pub const SYSTEM_PARAMS: &str = "/var/lib/snapd/system-params";
/// snapd's helper programs on the host.
pub const LIBEXEC_DIR: &str = "/usr/lib/snapd";
/// The host's description of itself.
pub const OS_RELEASE: &str = "/etc/os-release";
/// The cgroup file systems (v1 controllers in `devices/`, `freezer/`, ...,
/// or the v2 hierarchy itself).
pub const CGROUP_DIR: &str = "/sys/fs/cgroup";
/// Where the v1 `devices` controller is mounted; a device cgroup is
/// `snap.NAME.APP` in it.
pub const CGROUP_V1_DEVICES_DIR: &str = "/sys/fs/cgroup/devices";
/// Where the v1 `freezer` controller is mounted; a snap's tracking group is
/// `snap.INSTANCE` in it.
pub const CGROUP_V1_FREEZER_DIR: &str = "/sys/fs/cgroup/freezer";
/// snapd's feature flags (`per-user-mount-namespace`, ...), one file each.
pub const FEATURES_DIR: &str = "/var/lib/snapd/features";
/// The BPF file system.
pub const BPF_FS_DIR: &str = "/sys/fs/bpf";
/// Pinned v2 device maps (`snap_NAME_APP`).
pub const BPF_SNAP_DIR: &str = "/sys/fs/bpf/snap";
/// `snap.INSTANCE.device` files (snapd 2.62 and later).
pub const DEVICE_CGROUP_INFO_DIR: &str = "/var/lib/snapd/cgroup";
/// udev's tag index: `TAG/DEVICE-ID`, one empty file per tagged device.
pub const UDEV_TAGS_DIR: &str = "/run/udev/tags";
/// udev's database: one file per device (`DEVICE-ID`).
pub const UDEV_DATA_DIR: &str = "/run/udev/data";
/// Devices by number in sysfs (`char/MAJ:MIN`, `block/MAJ:MIN`).
pub const SYS_DEV_DIR: &str = "/sys/dev";

/// `snap.INSTANCE.device` in [`DEVICE_CGROUP_INFO_DIR`].
pub fn device_cgroup_info_name(instance: &str) -> String {
    format!("snap.{instance}.device")
}

/// `INSTANCE.mnt`, the preserved mount namespace of a snap in [`NS_DIR`].
pub fn preserved_ns_name(instance: &str) -> String {
    format!("{instance}.mnt")
}

/// `INSTANCE.UID.mnt`, the preserved per-user mount namespace in [`NS_DIR`].
pub fn preserved_user_ns_name(instance: &str, uid: u32) -> String {
    format!("{instance}.{uid}.mnt")
}

/// `snap.INSTANCE.fstab`: the current mount profile in [`NS_DIR`], the
/// desired one in [`MOUNT_PROFILE_DIR`].
pub fn profile_name(instance: &str) -> String {
    format!("snap.{instance}.fstab")
}

/// `snap.INSTANCE.user-fstab`, the desired per-user mount profile in
/// [`MOUNT_PROFILE_DIR`].
pub fn user_profile_name(instance: &str) -> String {
    format!("snap.{instance}.user-fstab")
}

/// `snap.INSTANCE.info`, written beside a preserved namespace.
pub fn info_name(instance: &str) -> String {
    format!("snap.{instance}.info")
}

/// `INSTANCE.lock` in [`LOCK_DIR`].
pub fn lock_name(instance: &str) -> String {
    format!("{instance}.lock")
}

/// The locations above under one root directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dirs<'r> {
    /// Prefix of every path: empty for the host.
    root: &'r str,
}

impl Dirs<'static> {
    /// The machine itself.
    pub const HOST: Dirs<'static> = Dirs { root: "" };
}

impl<'r> Dirs<'r> {
    /// The locations under `root` (`/` or empty: the host). A trailing `/`
    /// is ignored.
    pub fn under(root: &'r str) -> Dirs<'r> {
        Dirs {
            root: root.trim_end_matches('/'),
        }
    }

    /// `path` (one of the constants, absolute) under the root.
    pub fn join(&self, path: &str) -> String {
        debug_assert!(path.starts_with('/'), "{path} is not absolute");
        format!("{}{path}", self.root)
    }

    /// `/run/snapd/ns`.
    pub fn ns_dir(&self) -> String {
        self.join(NS_DIR)
    }

    /// `/run/snapd/ns/INSTANCE.mnt`.
    pub fn preserved_ns(&self, instance: &str) -> String {
        format!("{}/{}", self.ns_dir(), preserved_ns_name(instance))
    }

    /// `/run/snapd/ns/INSTANCE.UID.mnt`.
    pub fn preserved_user_ns(&self, instance: &str, uid: u32) -> String {
        format!(
            "{}/{}",
            self.ns_dir(),
            preserved_user_ns_name(instance, uid)
        )
    }

    /// `/run/snapd/ns/snap.INSTANCE.fstab`, the current mount profile.
    pub fn current_profile(&self, instance: &str) -> String {
        format!("{}/{}", self.ns_dir(), profile_name(instance))
    }

    /// `/run/snapd/ns/snap.INSTANCE.info`.
    pub fn info_file(&self, instance: &str) -> String {
        format!("{}/{}", self.ns_dir(), info_name(instance))
    }

    /// `/var/lib/snapd/mount/snap.INSTANCE.fstab`, the desired mount profile.
    pub fn desired_profile(&self, instance: &str) -> String {
        format!(
            "{}/{}",
            self.join(MOUNT_PROFILE_DIR),
            profile_name(instance)
        )
    }

    /// `/var/lib/snapd/mount/snap.INSTANCE.user-fstab`.
    pub fn desired_user_profile(&self, instance: &str) -> String {
        format!(
            "{}/{}",
            self.join(MOUNT_PROFILE_DIR),
            user_profile_name(instance)
        )
    }

    /// `/run/snapd/lock/INSTANCE.lock`.
    pub fn snap_lock(&self, instance: &str) -> String {
        format!("{}/{}", self.join(LOCK_DIR), lock_name(instance))
    }

    /// `/var/lib/snapd/seccomp/bpf`.
    pub fn seccomp_dir(&self) -> String {
        self.join(SECCOMP_DIR)
    }

    /// `/var/lib/snapd/cookie/snap.INSTANCE`.
    pub fn cookie(&self, instance: &str) -> String {
        format!("{}/snap.{instance}", self.join(COOKIE_DIR))
    }

    /// `/var/lib/snapd/snaps/NAME_REVISION.snap`.
    pub fn snap_blob(&self, instance: &str, revision: &str) -> String {
        format!("{}/{instance}_{revision}.snap", self.join(SNAP_BLOB_DIR))
    }

    /// `/var/snap/INSTANCE`.
    pub fn snap_data(&self, instance: &str) -> String {
        format!("{}/{instance}", self.join(SNAP_DATA_DIR))
    }

    /// `/var/lib/snapd/save/snap/INSTANCE`.
    pub fn snap_save(&self, instance: &str) -> String {
        format!("{}/{instance}", self.join(SNAP_SAVE_DIR))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_are_snapds() {
        let d = Dirs::HOST;
        assert_eq!(d.preserved_ns("foo_bar"), "/run/snapd/ns/foo_bar.mnt");
        assert_eq!(
            d.preserved_user_ns("foo", 1000),
            "/run/snapd/ns/foo.1000.mnt"
        );
        assert_eq!(d.current_profile("foo"), "/run/snapd/ns/snap.foo.fstab");
        assert_eq!(d.info_file("foo"), "/run/snapd/ns/snap.foo.info");
        assert_eq!(
            d.desired_profile("foo"),
            "/var/lib/snapd/mount/snap.foo.fstab"
        );
        assert_eq!(
            d.desired_user_profile("foo"),
            "/var/lib/snapd/mount/snap.foo.user-fstab"
        );
        assert_eq!(d.snap_lock("foo"), "/run/snapd/lock/foo.lock");
        assert_eq!(d.seccomp_dir(), "/var/lib/snapd/seccomp/bpf");
        assert_eq!(d.cookie("foo"), "/var/lib/snapd/cookie/snap.foo");
        assert_eq!(d.snap_blob("foo", "x1"), "/var/lib/snapd/snaps/foo_x1.snap");
        assert_eq!(d.snap_data("foo"), "/var/snap/foo");
        assert_eq!(d.snap_save("foo"), "/var/lib/snapd/save/snap/foo");
    }

    #[test]
    fn a_root_prefixes_every_path() {
        for root in ["/tmp/root", "/tmp/root/"] {
            let d = Dirs::under(root);
            assert_eq!(d.ns_dir(), "/tmp/root/run/snapd/ns");
            assert_eq!(d.join(VOID_DIR), "/tmp/root/var/lib/snapd/void");
        }
        assert_eq!(Dirs::under("/"), Dirs::HOST);
        assert_eq!(Dirs::under(""), Dirs::HOST);
    }
}
