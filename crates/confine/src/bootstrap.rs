//! Building a snap's mount namespace (spec §6.5, normal mode), in the
//! namespace the caller has just unshared.
//!
//! The root is a tmpfs into which the base snap's top-level entries are
//! bound (so `/` itself is writable and layouts can add top-level entries);
//! host directories are bound over it from one ordered table, [`HOST_DIRS`],
//! each with its propagation; a few `/etc` entries are taken back from the
//! base; the old root stays reachable at `/var/lib/snapd/hostfs`; then
//! `pivot_root`, a private `/tmp` and a private devpts instance.
//!
//! Every step is one mount operation checked on its own (see
//! [`crate::mounts`]); any failure ends the construction with a message
//! naming the operation. Nothing here publishes the namespace: the caller
//! preserves it only once everything, the mount profile included, is done.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, fchmod, fchown, mkdirat, openat, statat};
use rustix::io::Errno;
use rustix::process::{Gid, Uid};
use snapcell_core::entry::MountEntry;
use snapcell_core::profile::Profile;
use snapcell_sys::debug;
use snapcell_sys::safefs::{DIR_FLAGS, mkdir_all, mkdir_open, open_dir};

use crate::base::Base;
use crate::error::{Error, Result, SysContext};
use crate::mounts::{Propagation, bind, make, mount_fs, rbind, remount_read_only, umount};
use crate::privtmp;
use snapcell_core::dirs::{Dirs, HOSTFS_DIR, PRIVATE_TMP_DIR};
use snapcell_core::os_release::Distro;

/// How a host directory is connected to the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPropagation {
    /// `mount --rbind` then `--make-rslave`: the namespace sees the host's
    /// mount events there, the host never sees the namespace's.
    Slave,
    /// `mount --rbind`, left shared: events go both ways. The host
    /// directory is created (0755) if missing.
    Shared,
}

/// A host directory bound into the namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostDir {
    pub path: &'static str,
    pub propagation: HostPropagation,
    /// Skipped when the host directory or the mount point in the base is missing.
    pub optional: bool,
}

const fn slave(path: &'static str) -> HostDir {
    HostDir {
        path,
        propagation: HostPropagation::Slave,
        optional: false,
    }
}

const fn optional_slave(path: &'static str) -> HostDir {
    HostDir {
        path,
        propagation: HostPropagation::Slave,
        optional: true,
    }
}

const fn shared(path: &'static str) -> HostDir {
    HostDir {
        path,
        propagation: HostPropagation::Shared,
        optional: false,
    }
}

/// The host directories, in mount order (spec §6.5). Order matters: a
/// directory must come after the directories containing it (`/run/netns`
/// after `/run`), or binding the container would cover it. The configured
/// home directories follow, as rslave.
pub const HOST_DIRS: &[HostDir] = &[
    slave("/dev"),
    slave("/etc"), // parts are taken back from the base, see BASE_ETC_ENTRIES
    slave("/home"),
    slave("/root"),
    slave("/proc"),
    slave("/sys"),
    slave("/tmp"), // covered by the private /tmp later
    slave("/var/snap"),
    slave("/var/lib/snapd"),
    slave("/var/tmp"),
    slave("/run"),
    optional_slave("/lib/modules"),
    optional_slave("/lib/firmware"),
    slave("/usr/src"),
    slave("/var/log"),
    shared("/media"),
    shared("/run/netns"),
    optional_slave("/mnt"),
    optional_slave("/var/lib/extrausers"),
];

/// Entries of `/etc` taken from the base instead of the host, when both
/// have them as the same kind of file (spec §6.5 step 5).
pub const BASE_ETC_ENTRIES: &[&str] = &[
    "/etc/alternatives",
    "/etc/nsswitch.conf",
    "/etc/apparmor",
    "/etc/apparmor.d",
    "/etc/ssl",
];

/// The current mount profile of a freshly built namespace, before the
/// snap's own profile is applied.
pub const ROOTFS_PROFILE_LINE: &str = "tmpfs / tmpfs x-snapd.origin=rootfs 0 0";

/// Options of the private devpts instance.
pub const DEVPTS_OPTIONS: &str = "newinstance,ptmxmode=0666,mode=0620,gid=5";

/// Everything the construction needs to know.
#[derive(Clone, Debug)]
pub struct Config<'a> {
    pub instance: &'a str,
    pub base: &'a Base,
    /// `/snap` (or `/var/lib/snapd/snap`).
    pub snap_mount_dir: &'a str,
    /// Configured home directories (bound rslave after [`HOST_DIRS`]).
    pub homedirs: &'a [String],
    pub distro: &'a Distro,
    /// The directory holding the running snap-confine, bound read-only onto
    /// `/usr/lib/snapd` when the base does not ship snapd's tools.
    pub snapd_tools_dir: Option<&'a str>,
}

/// The scratch directory the new root is assembled in, made on the host
/// before `unshare` in the root-only `/tmp/snap-private-tmp`, under a name
/// no instance name can produce (`snap.rootfs.XXXXXXXXXXXX`: instance names
/// have no `.`), so it can never be taken for a snap's private `/tmp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scratch {
    /// Its name in [`PRIVATE_TMP_DIR`].
    pub name: String,
    /// `/tmp/snap-private-tmp/NAME`.
    pub path: String,
}

/// Make the scratch directory (0700 root:root).
pub fn create_scratch_dir() -> Result<Scratch> {
    let tmp = open_dir("/tmp")?;
    let parent = privtmp::open_private_tmp_base(&tmp)?;
    for _ in 0..100 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        let name = format!("snap.rootfs.{:012x}", h.finish() & 0xffff_ffff_ffff);
        match mkdirat(&parent, name.as_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                let fd = openat(&parent, name.as_str(), DIR_FLAGS, Mode::empty())
                    .or_die(|| format!("cannot open {PRIVATE_TMP_DIR}/{name}"))?;
                fchown(&fd, Some(Uid::ROOT), Some(Gid::ROOT))
                    .or_die(|| format!("cannot chown {PRIVATE_TMP_DIR}/{name}"))?;
                let path = format!("{PRIVATE_TMP_DIR}/{name}");
                debug!("scratch directory for constructing namespace: {path}");
                return Ok(Scratch { name, path });
            }
            Err(Errno::EXIST) => continue,
            Err(e) => {
                return Err(Error::sys(
                    format!("cannot create a scratch directory in {PRIVATE_TMP_DIR}"),
                    e,
                ));
            }
        }
    }
    Err(Error::new(format!(
        "cannot create a scratch directory in {PRIVATE_TMP_DIR}: all names taken"
    )))
}

/// Remove the scratch directory from the host namespace after a failed
/// construction (best effort: it is root-only and harmless if it stays).
pub fn remove_scratch_dir(scratch: &Scratch) {
    let Ok(parent) = open_dir(PRIVATE_TMP_DIR) else {
        return;
    };
    // On a host where /tmp is shared the scratch self-bind propagated here.
    let _ = rustix::mount::unmount(
        scratch.path.as_str(),
        rustix::mount::UnmountFlags::DETACH | rustix::mount::UnmountFlags::NOFOLLOW,
    );
    let _ = rustix::fs::unlinkat(&parent, scratch.name.as_str(), AtFlags::REMOVEDIR);
}

/// Whether `path` exists (without following a final symlink).
fn exists(path: &str) -> bool {
    rustix::fs::lstat(path).is_ok()
}

/// The top-level names the base's own entries must not be bound at: the
/// host provides them (or `/snap`).
fn host_provided_top_level(homedirs: &[String]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = HOST_DIRS
        .iter()
        .map(|d| d.path)
        .chain(homedirs.iter().map(String::as_str))
        .filter_map(|p| {
            let rest = p.strip_prefix('/')?;
            (!rest.contains('/')).then(|| rest.to_owned())
        })
        .collect();
    out.insert("snap".to_owned());
    out
}

/// Steps 2–4: propagation, the scratch self-bind and the tmpfs root with
/// the base's top-level entries.
fn replicate_base(cfg: &Config<'_>, s: &str) -> Result<()> {
    make("/", Propagation::Shared, true)?;
    bind(s, s)?;
    make(s, Propagation::Unbindable, false)?;
    write_rootfs_profile(cfg.instance)?;
    mount_fs("tmpfs", s, "tmpfs", "")?;
    let root = open_dir(s)?;
    fchmod(&root, Mode::from_raw_mode(0o755)).or_die(|| format!("cannot chmod {s}"))?;
    fchown(&root, Some(Uid::ROOT), Some(Gid::ROOT)).or_die(|| format!("cannot chown {s}"))?;

    let base_fd = open_dir(&cfg.base.dir)?;
    let mut names = Vec::new();
    let dir = rustix::fs::Dir::read_from(&base_fd)
        .or_die(|| format!("cannot read directory {}", cfg.base.dir))?;
    for entry in dir {
        let entry = entry.or_die(|| format!("cannot read directory {}", cfg.base.dir))?;
        let name = entry.file_name().to_str().map(str::to_owned).map_err(|_| {
            Error::new(format!(
                "cannot replicate base {}: an entry's name is not valid UTF-8",
                cfg.base.dir
            ))
        })?;
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    names.sort();
    let skip = host_provided_top_level(cfg.homedirs);
    for name in &names {
        let src = format!("{}/{name}", cfg.base.dir);
        let dst = format!("{s}/{name}");
        let st = statat(&base_fd, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)
            .or_die(|| format!("cannot inspect {src}"))?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if skip.contains(name) && kind != FileType::Directory {
            // A symbolic link there would take the host's directory
            // (bound next, with the host's / shared) anywhere: onto a host
            // path, or an attacker's tree (research §8.20).
            return Err(Error::new(format!(
                "cannot replicate base: {src} is a {kind:?}, but the host's /{name} goes there"
            )));
        }
        match kind {
            FileType::Directory => {
                mkdirat(&root, name.as_str(), Mode::from_raw_mode(0o755))
                    .or_die(|| format!("cannot create directory {dst}"))?;
                if skip.contains(name) {
                    debug!("leaving {dst} empty: the host or the snap mount directory goes there");
                } else {
                    rbind(&src, &dst)?;
                }
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&base_fd, name.as_str(), Vec::new())
                    .or_die(|| format!("cannot read symbolic link {src}"))?;
                rustix::fs::symlinkat(target.as_c_str(), &root, name.as_str())
                    .or_die(|| format!("cannot create symbolic link {dst}"))?;
            }
            FileType::RegularFile => {
                drop(
                    openat(
                        &root,
                        name.as_str(),
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::NOFOLLOW
                            | OFlags::WRONLY
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o644),
                    )
                    .or_die(|| format!("cannot create file {dst}"))?,
                );
                bind(&src, &dst)?;
            }
            other => {
                return Err(Error::new(format!(
                    "cannot replicate base: {src} is a {other:?}, which cannot be replicated"
                )));
            }
        }
    }
    make(s, Propagation::Slave, true)
}

/// The current profile of a namespace just built: only the rootfs line.
pub fn rootfs_profile() -> Result<Profile> {
    let entry = MountEntry::parse(ROOTFS_PROFILE_LINE)
        .map_err(|e| Error::new(format!("cannot parse the rootfs profile line: {e}")))?;
    Ok(Profile::from(vec![entry]))
}

/// Write `/run/snapd/ns/snap.INSTANCE.fstab` holding only the rootfs line.
fn write_rootfs_profile(instance: &str) -> Result<()> {
    let profile = rootfs_profile()?;
    snapcell_sys::profile_io::save_profile(
        std::path::Path::new(&Dirs::HOST.current_profile(instance)),
        &profile,
    )
    .map_err(Error::from)
}

/// Step 4: the host directories, in table order, then the home directories.
fn bind_host_dirs(cfg: &Config<'_>, s: &str) -> Result<()> {
    let table = HOST_DIRS
        .iter()
        .map(|d| (d.path, d.propagation, d.optional, false));
    let homes = cfg
        .homedirs
        .iter()
        .map(|h| (h.as_str(), HostPropagation::Slave, false, true));
    for (path, propagation, optional, is_home) in table.chain(homes) {
        if is_home {
            make_mount_point(s, path)?;
        }
        if propagation == HostPropagation::Shared {
            drop(mkdir_all(path, 0o755)?);
        }
        let dst = match in_new_root(s, path)? {
            Some(dst) if !optional || exists(path) => dst,
            None if !optional => format!("{s}{path}"),
            _ => {
                debug!("skipping optional host directory {path}");
                continue;
            }
        };
        rbind(path, &dst)?;
        if propagation == HostPropagation::Slave {
            make(&dst, Propagation::Slave, true)?;
        }
    }
    Ok(())
}

/// Where `S/PATH` is, its symbolic links resolved as they will be in the
/// sandbox (`RESOLVE_IN_ROOT` from the new root `s`: an absolute link or
/// `..` of the base can never lead out to the host's directories), as a
/// path with no symbolic link left. `None` when it does not exist.
fn in_new_root(s: &str, path: &str) -> Result<Option<String>> {
    use rustix::fs::{ResolveFlags, openat2};
    let root = open_dir(s)?;
    let rel = path.trim_start_matches('/');
    let fd = match openat2(
        &root,
        rel,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(Error::sys(format!("cannot open {s}{path}"), e)),
    };
    let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
    let real = std::fs::read_link(&link)
        .or_die(|| format!("cannot resolve {s}{path}"))?
        .into_os_string()
        .into_string()
        .map_err(|_| Error::new(format!("cannot resolve {s}{path}: not valid UTF-8")))?;
    if real != s && !real.starts_with(&format!("{s}/")) {
        return Err(Error::new(format!(
            "cannot use {s}{path}: it resolves to {real}, outside the new root"
        )));
    }
    Ok(Some(real))
}

/// The host's cgroup file systems in the new root made read-only (each
/// mount at or below `S/sys/fs/cgroup` of type `cgroup` or `cgroup2`,
/// keeping its other flags): the app must not move itself out of its
/// device cgroup into one its user may write to (research §8.22; snapd
/// leaves this to AppArmor). snap-confine joins the snap's tracking group
/// through a descriptor opened on the host.
fn read_only_cgroups(s: &str) -> Result<()> {
    use rustix::mount::{MountFlags, mount_remount};
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .or_die(|| "cannot read /proc/self/mountinfo".to_owned())?;
    let top = format!("{s}/sys/fs/cgroup");
    let lines: String = text
        .lines()
        .filter(|l| l.contains(top.as_str()))
        .map(|l| format!("{l}\n"))
        .collect();
    let table = snapcell_core::mountinfo::parse_mountinfo(&lines)
        .map_err(|e| Error::new(format!("cannot parse /proc/self/mountinfo: {e}")))?;
    for e in &table {
        let below = e.mount_dir == top || e.mount_dir.starts_with(&format!("{top}/"));
        if !below || !matches!(e.fs_type.as_str(), "cgroup" | "cgroup2") {
            continue;
        }
        let mut flags = MountFlags::BIND | MountFlags::RDONLY;
        for (opt, flag) in [
            ("nosuid", MountFlags::NOSUID),
            ("nodev", MountFlags::NODEV),
            ("noexec", MountFlags::NOEXEC),
        ] {
            if e.mount_options.contains_key(opt) {
                flags |= flag;
            }
        }
        let dst = e.mount_dir.as_str();
        // A mount hidden under another (the v1 ones under a cgroup2 at
        // /sys/fs/cgroup) cannot be reached: nothing to do.
        let reachable = rustix::fs::statx(
            rustix::fs::CWD,
            dst,
            AtFlags::SYMLINK_NOFOLLOW,
            rustix::fs::StatxFlags::MNT_ID,
        )
        .is_ok_and(|st| st.stx_mnt_id == e.mount_id as u64);
        if !reachable {
            continue;
        }
        debug!("performing operation: mount -o remount,bind,ro {dst}");
        mount_remount(dst, flags, c"")
            .or_die(|| format!("cannot perform operation: mount -o remount,bind,ro {dst}"))?;
    }
    Ok(())
}

/// `mkdir -p S/PATH` (0755, root) for a home directory's mount point.
fn make_mount_point(s: &str, path: &str) -> Result<()> {
    let mut fd = open_dir(s)?;
    let mut so_far = s.to_owned();
    for part in snapcell_core::paths::components(path)? {
        so_far.push('/');
        so_far.push_str(part);
        fd = mkdir_open(fd.as_fd(), part, 0o755, 0, 0)
            .or_die(|| format!("cannot create mount point {so_far}"))?
            .0;
    }
    Ok(())
}

/// Step 5: `/etc` entries from the base.
fn bind_base_etc_entries(cfg: &Config<'_>, s: &str) -> Result<()> {
    for path in BASE_ETC_ENTRIES {
        if *path == "/etc/ssl"
            && !cfg.distro.is_core
            && cfg.distro.is_debian_like
            && cfg.base.name.starts_with("core")
        {
            debug!(
                "keeping the host's /etc/ssl (Debian-like host, base {})",
                cfg.base.name
            );
            continue;
        }
        let host = format!("{s}{path}");
        let base = format!("{}{path}", cfg.base.dir);
        let kind = |p: &str| {
            rustix::fs::lstat(p)
                .ok()
                .map(|st| FileType::from_raw_mode(st.st_mode))
        };
        match (kind(&host), kind(&base)) {
            (Some(a), Some(b))
                if a == b && matches!(a, FileType::RegularFile | FileType::Directory) =>
            {
                bind(&base, &host)?;
                make(&host, Propagation::Slave, false)?;
            }
            _ => debug!("not replacing {path} with the base's"),
        }
    }
    Ok(())
}

/// Steps 6–8: snapd's tools, the snap mount directory, hostfs.
fn bind_snapd_dirs(cfg: &Config<'_>, s: &str) -> Result<()> {
    if let Some(tools) = cfg.snapd_tools_dir {
        let dst = in_new_root(s, "/usr/lib/snapd")?.unwrap_or_else(|| format!("{s}/usr/lib/snapd"));
        bind(tools, &dst)?;
        // snapd passes MS_RDONLY with MS_BIND, which the kernel ignores on a
        // first bind; we remount to make it really read-only.
        remount_read_only(&dst)?;
        make(&dst, Propagation::Slave, false)?;
    }
    let dst = in_new_root(s, "/snap")?.unwrap_or_else(|| format!("{s}/snap"));
    rbind(cfg.snap_mount_dir, &dst)?;
    make(&dst, Propagation::Slave, true)?;

    ensure_host_hostfs_dir()?;
    let dst = in_new_root(s, HOSTFS_DIR)?.unwrap_or_else(|| format!("{s}{HOSTFS_DIR}"));
    bind(&dst, &dst)?;
    make(&dst, Propagation::Private, false)
}

/// `/var/lib/snapd/hostfs` on the host: made 0000, chowned to root, then
/// 0755; an existing one must be owned by root.
fn ensure_host_hostfs_dir() -> Result<()> {
    let parent = open_dir("/var/lib/snapd")?;
    match mkdirat(&parent, "hostfs", Mode::empty()) {
        Ok(()) => {
            let fd = openat(&parent, "hostfs", DIR_FLAGS, Mode::empty())
                .or_die(|| format!("cannot open {HOSTFS_DIR}"))?;
            fchown(&fd, Some(Uid::ROOT), Some(Gid::ROOT))
                .or_die(|| format!("cannot chown {HOSTFS_DIR}"))?;
            fchmod(&fd, Mode::from_raw_mode(0o755))
                .or_die(|| format!("cannot chmod {HOSTFS_DIR}"))?;
        }
        Err(Errno::EXIST) => {
            let fd = openat(&parent, "hostfs", DIR_FLAGS, Mode::empty())
                .or_die(|| format!("cannot open {HOSTFS_DIR}"))?;
            let st = rustix::fs::fstat(&fd).or_die(|| format!("cannot inspect {HOSTFS_DIR}"))?;
            if st.st_uid != 0 || st.st_gid != 0 {
                return Err(Error::new(format!(
                    "{HOSTFS_DIR} is not owned by root (owner {}:{})",
                    st.st_uid, st.st_gid
                )));
            }
        }
        Err(e) => return Err(Error::sys(format!("cannot create {HOSTFS_DIR}"), e)),
    }
    Ok(())
}

/// Steps 10: `pivot_root`, then tidy the old root.
fn pivot(cfg: &Config<'_>, scratch: &Scratch) -> Result<()> {
    let s = &scratch.path;
    let put_old = format!("{s}{HOSTFS_DIR}");
    debug!("performing operation: pivot_root {s} {put_old}");
    rustix::process::pivot_root(s.as_str(), put_old.as_str())
        .or_die(|| format!("cannot perform operation pivot_root {s} {put_old}"))?;
    rustix::process::chdir("/").or_die(|| "cannot move to /".to_owned())?;
    // The scratch self-bind, left under the old root.
    let old_scratch = format!("{HOSTFS_DIR}{s}");
    umount(&old_scratch, false)?;
    let parent = open_dir(&format!("{HOSTFS_DIR}{PRIVATE_TMP_DIR}"))?;
    rustix::fs::unlinkat(&parent, scratch.name.as_str(), AtFlags::REMOVEDIR)
        .or_die(|| format!("cannot remove {old_scratch}"))?;
    make(HOSTFS_DIR, Propagation::Slave, true)?;
    for dir in ["/sys", "/dev", "/proc"] {
        umount(&format!("{HOSTFS_DIR}{dir}"), true)?;
    }
    if cfg.distro.is_core {
        let writable = format!("{HOSTFS_DIR}/writable");
        if exists(&writable) {
            make(&writable, Propagation::Private, true)?;
            umount(&writable, true)?;
        }
    }
    Ok(())
}

/// Step 12: a new devpts instance on `/dev/pts` and `/dev/ptmx` bound from it.
pub fn setup_private_devpts() -> Result<()> {
    for path in ["/dev/pts/ptmx", "/dev/ptmx"] {
        if !exists(path) {
            return Err(Error::new(format!(
                "cannot set up a private devpts instance: {path} does not exist"
            )));
        }
    }
    mount_fs("devpts", "/dev/pts", "devpts", DEVPTS_OPTIONS)?;
    bind("/dev/pts/ptmx", "/dev/ptmx")
}

/// Build the namespace (the caller has unshared it): spec §6.5 steps 1–12.
/// The snap's mount profile is applied by the caller afterwards.
pub fn populate(cfg: &Config<'_>, scratch: &Scratch) -> Result<()> {
    let s = scratch.path.as_str();
    replicate_base(cfg, s)?;
    snapcell_sys::log::stage("replicate base");
    bind_host_dirs(cfg, s)?;
    read_only_cgroups(s)?;
    bind_base_etc_entries(cfg, s)?;
    bind_snapd_dirs(cfg, s)?;
    snapcell_sys::log::stage("host directories");
    pivot(cfg, scratch)?;
    snapcell_sys::log::stage("pivot_root");
    crate::privtmp::setup_private_tmp(cfg.instance)?;
    setup_private_devpts()?;
    snapcell_sys::log::stage("private /tmp and devpts");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_come_before_what_they_contain() {
        for (i, d) in HOST_DIRS.iter().enumerate() {
            for later in &HOST_DIRS[i + 1..] {
                assert!(
                    !d.path.starts_with(&format!("{}/", later.path)),
                    "{} must come after {}",
                    d.path,
                    later.path
                );
            }
        }
    }

    #[test]
    fn only_media_and_netns_are_shared() {
        let shared: Vec<&str> = HOST_DIRS
            .iter()
            .filter(|d| d.propagation == HostPropagation::Shared)
            .map(|d| d.path)
            .collect();
        assert_eq!(shared, ["/media", "/run/netns"]);
    }

    #[test]
    fn the_base_is_not_bound_where_the_host_goes() {
        let skip = host_provided_top_level(&["/data".to_owned(), "/srv/homes".to_owned()]);
        let want: BTreeSet<String> = [
            "dev", "etc", "home", "root", "proc", "sys", "tmp", "run", "media", "mnt", "snap",
            "data",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(skip, want);
    }

    #[test]
    fn the_rootfs_line_is_snapds() {
        let e = MountEntry::parse(ROOTFS_PROFILE_LINE).unwrap();
        assert_eq!(format!("{e}"), ROOTFS_PROFILE_LINE);
    }
}
