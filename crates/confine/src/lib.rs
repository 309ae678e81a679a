//! snap-confine's launcher logic, as a library: from a command line and an
//! environment to an app running in its snap's mount namespace.
//!
//! * [`request`]: arguments and environment → a validated [`request::Request`];
//! * the per-snap and global locks are [`snapcell_sys::snaplock`]'s;
//! * [`host`]: the host side (`/run/snapd/ns` private, shared snap mounts);
//! * [`reuse`]: whether a preserved namespace may be entered again;
//! * [`bootstrap`]: building a namespace (one ordered table of host
//!   directories, [`bootstrap::HOST_DIRS`]); [`privtmp`]: the private `/tmp`;
//! * [`helper`]: preserving a namespace (in-process, where snapd forks a
//!   capture helper), and the `unshare` that avoids the 6.18 namespace-id
//!   trap;
//! * [`apply_profile`]: applying the snap's mount profile;
//! * [`user_ns`]: the caller's per-user mount namespace (the user-fstab);
//! * process tracking: the snap's freezer group on cgroup v1
//!   ([`snapcell_sys::cgroup::tracking`]), joined under the snap lock;
//! * [`confinement`]: seccomp, the app's Landlock domain (translated from
//!   snapd's AppArmor profile, or default grants plus the connections in
//!   snapd's state; the minimal domain where there is neither), AppArmor's
//!   `change_onexec` where it enforces, privileges, environment,
//!   descriptors;
//! * [`discard`](mod@discard): snap-discard-ns;
//! * [`launch`]: the main flow. A warm start is: parse and check the
//!   request, take the snap lock, open and check the preserved namespace
//!   (the check enters it), confine, exec; the host preparation (global
//!   lock, shared snap mounts, `/run/snapd/ns`) happens only when a
//!   namespace is built.
//!
//! Decisions where the spec is silent or where we depart from it (each
//! documented where it is made):
//! * `/proc/1/ns/mnt` unreadable (this VM): a root caller stays in the
//!   current namespace, a set-user-ID caller is refused ([`host`]);
//! * "the base is still mounted" in the tmpfs-root design ([`reuse`]);
//! * the in-process mount profile update of a namespace just built freezes
//!   no process (none of the snap's is in it yet); snap-update-ns freezes
//!   ([`snapcell_exec::update`]);
//! * the per-user namespace's user-fstab is read in the host namespace and
//!   applied in-process as root with the user's write restrictions, where
//!   snapd runs snap-update-ns as the user ([`user_ns`]);
//! * the scratch root is `/tmp/snap-private-tmp/snap.rootfs.XXXXXXXXXXXX`,
//!   a name no instance can have ([`bootstrap::Scratch`]);
//! * `/usr/lib/snapd` is remounted read-only, and only bound from a
//!   directory only root can change ([`launch`]);
//! * the mount profile is applied in-process, read before `unshare`
//!   ([`apply_profile`]); no helper binary is ever executed;
//! * the new namespace is preserved from the host namespace by `setns`
//!   there and back, not by a forked capture helper ([`helper`]);
//! * debug output of a set-user-ID run is held back until the end
//!   ([`snapcell_sys::log`]);
//! * Ubuntu Core 16 legacy mode is refused rather than implemented;
//! * a Landlock domain stands in for AppArmor where the kernel has none
//!   ([`confinement`]); a Landlocked app cannot mount, so a snap-confine
//!   started from inside a snap cannot build a namespace;
//! * strict snaps get `no_new_privs` on kernels without AppArmor (snapd
//!   never sets it) ([`confinement`]);
//! * waiting for a seccomp profile is said on stderr after a second
//!   (snapd waits silently) ([`confinement::prepare_seccomp`]).
//!
//! The process must be single-threaded (`setns` into a mount namespace
//! requires it); nothing here starts threads.
//!
//! # Privileges: what runs as root and what after the drop
//!
//! A set-user-ID launch starts with euid 0 and the caller's real uid. In
//! [`launch::run`]'s order:
//!
//! * **euid 0, all capabilities** (everything that touches the host, reads
//!   policy or mounts): [`launch::main`]'s descriptor and dumpable hygiene;
//!   [`request::parse_request`] (pure); [`base::locate_base`];
//!   [`host::snap_mount_dir`], [`host::probe_distro`],
//!   [`host::read_homedirs`]; [`launch::enter_snap_namespace`] with all it
//!   calls: [`host::join_host_mount_ns`], the snap and global locks,
//!   the device cgroup ([`snapcell_sys::cgroup::device::setup_device_cgroup`],
//!   in the host's namespace under the snap lock, as current snapd),
//!   [`reuse::inspect`], [`discard::discard_files`], [`host::prepare_host`],
//!   [`bootstrap::create_scratch_dir`], [`bootstrap::populate`] (with
//!   [`privtmp::setup_private_tmp`]), [`apply_profile::load_desired`] (read
//!   before `unshare`) and [`apply_profile::apply_mount_profile`],
//!   [`reuse::write_info`], [`helper::preserve_own_mount_ns`],
//!   [`user_ns::enter_user_namespace`] (the user-fstab read before, by
//!   [`user_ns::prepare`]), [`snapcell_sys::cgroup::tracking::join_tracking_group`]; then the
//!   void directory, [`confinement::read_cookie`], the app's environment
//!   ([`confinement::app_environment`], pure) and
//!   [`confinement::prepare_seccomp`] (finding and checking the profile),
//!   [`confinement::prepare_file_confinement`] (reading the AppArmor
//!   profile or snapd's state, opening the Landlock rules' paths in the
//!   app's namespace).
//! * **the drop**: [`confinement::drop_and_confine`] sets all three uids and
//!   gids to the caller's for good. A strict snap on a kernel without
//!   AppArmor ([`snapcell_sys::apparmor::detect`], read before the namespace is
//!   entered) gets `no_new_privs` and keeps no capability; otherwise
//!   (classic, AppArmor) only `CAP_SYS_ADMIN` is kept.
//! * **the caller's uid, `no_new_privs` or `CAP_SYS_ADMIN` only**: creating
//!   `SNAP_USER_DATA` (as the user, so it is the user's), setting
//!   `no_new_privs`, the terminal-injection filter, the Landlock domain and
//!   the profile's seccomp filters (loading them needs one of the two);
//!   then `CAP_SYS_ADMIN`, if kept, is released.
//! * **the caller's uid, no capabilities**: restoring the umask and working
//!   directory ([`snapcell_sys::hygiene::cwd`]), sealing inherited
//!   descriptors, `execve` of snap-exec.
//!
//! Nothing after the drop opens a file as root, and nothing before it runs
//! code or reads files chosen by the caller except through the checked
//! paths above (the request is validated first; every directory is walked
//! with [`snapcell_sys::safefs`]).
#![forbid(unsafe_code)]

pub mod apply_profile;
pub mod base;
pub mod bootstrap;
pub mod confinement;
pub mod discard;
pub mod error;
pub mod helper;
pub mod host;
pub mod launch;
pub mod mounts;
pub mod privtmp;
pub mod request;
pub mod reuse;
pub mod user_ns;

pub use error::{Error, Result};
pub use launch::main;
