//! The device cgroup of an app (research/confinement.md §3.3), as
//! snap-confine and snap-device-helper use it:
//!
//! * **v1**: the directory `/sys/fs/cgroup/devices/snap.NAME.APP` (created
//!   0755 root:root); a fresh setup writes `a` to `devices.deny`, then one
//!   `c MAJ:MIN rwm` line per device to `devices.allow`, then the process's
//!   pid to `cgroup.procs`.
//! * **v2**: a hash map pinned at `/sys/fs/bpf/snap/snap_NAME_APP` (the
//!   BPF file system is mounted there first if it is not; `snap/` is 0700
//!   root:root) holding the allowed devices, emptied on a fresh setup, and
//!   a device program that consults it, attached (flags 0) to the
//!   process's own cgroup, which must be a `snap.*.scope` or
//!   `snap.*.service` (snap-confine never locks down a shared group).
//!
//! [`DeviceCgroup::open_existing`] is snap-device-helper's: it changes the
//! set of a running app and creates nothing (no cgroup or map: nothing to
//! do).

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

use rustix::fs::{AtFlags, CWD, Mode, OFlags, openat};
use rustix::io::Errno;
use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
use snapcell_core::devices::program::{LICENSE, device_program};
use snapcell_core::devices::udev::udev_tag;
use snapcell_core::devices::{
    Device, DeviceCgroupMode, DeviceFile, MAP_MAX_ENTRIES, NVIDIA_MAX_MINOR, OPTIONAL_DEVICE_NODES,
    bpf_object_name, default_devices, nvidia_node,
};
use snapcell_core::dirs::{
    BPF_FS_DIR, BPF_SNAP_DIR, CGROUP_DIR, CGROUP_V1_DEVICES_DIR, DEVICE_CGROUP_INFO_DIR,
    device_cgroup_info_name,
};

use super::bpf::{self, DeviceMap};
use super::{
    CgroupError, CgroupVersion, OrCgroupError, cgroup_version, is_snap_cgroup, own_cgroup_v2,
};
use crate::debug;

/// An app's device cgroup, open for changes.
#[derive(Debug)]
pub enum DeviceCgroup {
    V1(V1DeviceCgroup),
    V2(V2DeviceCgroup),
}

/// The v1 `devices` controller's files of one app.
#[derive(Debug)]
pub struct V1DeviceCgroup {
    allow: OwnedFd,
    deny: OwnedFd,
    procs: OwnedFd,
}

/// The v2 map of one app, and (on a fresh setup) the program to attach.
#[derive(Debug)]
pub struct V2DeviceCgroup {
    map: DeviceMap,
    program: Option<OwnedFd>,
}

impl DeviceCgroup {
    /// A fresh device cgroup for `security_tag` that allows nothing yet
    /// (v1: created if needed, then everything denied; v2: the map created
    /// and pinned, or emptied, and the program loaded).
    pub fn create(security_tag: &str) -> Result<DeviceCgroup, CgroupError> {
        match cgroup_version()? {
            CgroupVersion::V1 => Ok(DeviceCgroup::V1(
                V1DeviceCgroup::open(security_tag, true)?
                    .expect("a fresh v1 device cgroup always opens"),
            )),
            CgroupVersion::V2 => Ok(DeviceCgroup::V2(
                V2DeviceCgroup::open(security_tag, true)?
                    .expect("a fresh v2 device map always opens"),
            )),
        }
    }

    /// The device cgroup of a running app, or `None` if it has none.
    pub fn open_existing(security_tag: &str) -> Result<Option<DeviceCgroup>, CgroupError> {
        Ok(match cgroup_version()? {
            CgroupVersion::V1 => V1DeviceCgroup::open(security_tag, false)?.map(DeviceCgroup::V1),
            CgroupVersion::V2 => V2DeviceCgroup::open(security_tag, false)?.map(DeviceCgroup::V2),
        })
    }

    /// Let the app open `device`.
    pub fn allow(&self, device: Device) -> Result<(), CgroupError> {
        debug!("allowing device {device}");
        match self {
            DeviceCgroup::V1(v1) => write_line(&v1.allow, &device.v1_rule(), "devices.allow"),
            DeviceCgroup::V2(v2) => v2
                .map
                .insert(&device.map_key())
                .or_fail(|| format!("cannot update device map for key {device}")),
        }
    }

    /// Take `device` away (absent already: fine).
    pub fn deny(&self, device: Device) -> Result<(), CgroupError> {
        debug!("denying device {device}");
        match self {
            DeviceCgroup::V1(v1) => write_line(&v1.deny, &device.v1_rule(), "devices.deny"),
            DeviceCgroup::V2(v2) => match v2.map.remove(&device.map_key()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(CgroupError::sys(
                    format!("cannot delete device map entry for key {device}"),
                    e,
                )),
            },
        }
    }

    /// Put the calling process under the cgroup: v1, move it into the
    /// cgroup; v2, attach the program to the process's own cgroup, which
    /// must be a snap's.
    pub fn attach_self(&self) -> Result<(), CgroupError> {
        match self {
            DeviceCgroup::V1(v1) => {
                let pid = rustix::process::getpid().as_raw_nonzero().get();
                write_line(&v1.procs, &format!("{pid}\n"), "cgroup.procs")
            }
            DeviceCgroup::V2(v2) => {
                let Some(program) = &v2.program else {
                    return Err(CgroupError::new("internal error: BPF program not loaded"));
                };
                let own = own_cgroup_v2()?;
                debug!("process in cgroup {own}");
                if !is_snap_cgroup(&own) {
                    return Err(CgroupError::new(format!("{own} is not a snap cgroup")));
                }
                let path = format!("{CGROUP_DIR}{own}");
                let group = rustix::fs::open(
                    path.as_str(),
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .or_fail(|| format!("cannot open own cgroup directory {path}"))?;
                bpf::attach_device_program(group.as_fd(), program.as_fd())
                    .or_fail(|| "cannot attach cgroup program".to_owned())
            }
        }
    }
}

/// One `write` (the kernel takes each write as one rule).
fn write_line(fd: &OwnedFd, line: &str, file: &str) -> Result<(), CgroupError> {
    match rustix::io::write(fd, line.as_bytes()) {
        Ok(n) if n == line.len() => Ok(()),
        Ok(_) => Err(CgroupError::new(format!(
            "cannot write to {file}: short write"
        ))),
        Err(e) => Err(CgroupError::sys(
            format!("cannot write {:?} to {file}", line.trim_end()),
            e,
        )),
    }
}

const DIR_PATH: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// `mkdirat(dir, name, 0)`, then root:root and `mode`: nobody can use the
/// directory before it has its owner and mode. `Ok(false)`: it existed.
pub(super) fn mkdir_root_owned(
    dir: &OwnedFd,
    name: &str,
    mode: u32,
    shown: &str,
) -> Result<bool, CgroupError> {
    match rustix::fs::mkdirat(dir, name, Mode::empty()) {
        Ok(()) => {}
        Err(Errno::EXIST) => return Ok(false),
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot create directory {shown}"),
                e,
            ));
        }
    }
    rustix::fs::chownat(
        dir,
        name,
        Some(rustix::process::Uid::ROOT),
        Some(rustix::process::Gid::ROOT),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .or_fail(|| format!("cannot set root ownership on {shown}"))?;
    match rustix::fs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty()) {
        // The BPF file system of some kernels refuses chmod: 0000 is
        // stricter than asked, so that is fine (as with snapd).
        Ok(()) | Err(Errno::NOTSUP) => Ok(true),
        Err(e) => Err(CgroupError::sys(
            format!("cannot set {mode:04o} permissions on {shown}"),
            e,
        )),
    }
}

impl V1DeviceCgroup {
    fn open(tag: &str, fresh: bool) -> Result<Option<V1DeviceCgroup>, CgroupError> {
        let devices = rustix::fs::open(CGROUP_V1_DEVICES_DIR, DIR_PATH, Mode::empty())
            .or_fail(|| format!("cannot open {CGROUP_V1_DEVICES_DIR}"))?;
        let shown = format!("{CGROUP_V1_DEVICES_DIR}/{tag}");
        if fresh {
            mkdir_root_owned(&devices, tag, 0o755, &shown)?;
        }
        let group = match openat(
            &devices,
            tag,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::NOENT) if !fresh => return Ok(None),
            Err(e) => return Err(CgroupError::sys(format!("cannot open {shown}"), e)),
        };
        let file = |name: &str| {
            openat(
                &group,
                name,
                OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .or_fail(|| format!("cannot open {shown}/{name}"))
        };
        let cgroup = V1DeviceCgroup {
            allow: file("devices.allow")?,
            deny: file("devices.deny")?,
            procs: file("cgroup.procs")?,
        };
        if fresh {
            // Whatever earlier launches allowed goes first.
            write_line(&cgroup.deny, "a", "devices.deny")?;
        }
        Ok(Some(cgroup))
    }
}

/// `BPF_FS_MAGIC` on `/sys/fs/bpf`, mounting the BPF file system there if
/// it is not (systemd normally has; an old userland on a new kernel may
/// not have).
fn ensure_bpffs() -> Result<(), CgroupError> {
    let st = rustix::fs::statfs(BPF_FS_DIR).or_fail(|| format!("cannot statfs {BPF_FS_DIR}"))?;
    if st.f_type == bpf::BPF_FS_MAGIC {
        return Ok(());
    }
    debug!("{BPF_FS_DIR} is not a bpffs mount: mounting one");
    rustix::mount::mount(
        "bpf",
        BPF_FS_DIR,
        "bpf",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .or_fail(|| format!("cannot mount bpf file system at {BPF_FS_DIR}"))
}

/// Raise `RLIMIT_MEMLOCK` to 512 KiB for the map and program (kernels
/// before 5.11 charge BPF objects to it); restored on drop.
struct MemlockGuard(Option<Rlimit>);

impl MemlockGuard {
    const MIN: u64 = 512 * 1024;

    fn raise() -> MemlockGuard {
        let old = getrlimit(Resource::Memlock);
        if old.maximum.is_none_or(|max| max >= Self::MIN) {
            return MemlockGuard(None);
        }
        debug!("adjusting memlock limit to {}", Self::MIN);
        let new = Rlimit {
            current: Some(Self::MIN),
            maximum: Some(Self::MIN),
        };
        match setrlimit(Resource::Memlock, new) {
            Ok(()) => MemlockGuard(Some(old)),
            Err(_) => MemlockGuard(None), // loading will say what went wrong
        }
    }
}

impl Drop for MemlockGuard {
    fn drop(&mut self) {
        if let Some(old) = self.0.take() {
            let _ = setrlimit(Resource::Memlock, old);
        }
    }
}

/// `/sys/fs/bpf/snap/snap_NAME_APP`, the pinned map of `security_tag`.
pub fn map_path(security_tag: &str) -> String {
    format!("{BPF_SNAP_DIR}/{}", udev_tag(security_tag))
}

impl V2DeviceCgroup {
    fn open(tag: &str, fresh: bool) -> Result<Option<V2DeviceCgroup>, CgroupError> {
        let _memlock = MemlockGuard::raise();
        ensure_bpffs()?;
        let bpffs = rustix::fs::open(BPF_FS_DIR, DIR_PATH, Mode::empty())
            .or_fail(|| format!("cannot open {BPF_FS_DIR}"))?;
        mkdir_root_owned(&bpffs, "snap", 0o700, BPF_SNAP_DIR)?;
        drop(bpffs);
        let path = map_path(tag);
        let c_path = CString::new(path.clone())
            .map_err(|_| CgroupError::new("cannot use a path with NUL"))?;
        let name = bpf_object_name(tag);
        let map = match DeviceMap::open_pinned(&c_path) {
            Ok(map) => {
                if fresh {
                    debug!("found existing device map");
                    clear(&map)?;
                }
                map
            }
            Err(Errno::NOENT) if !fresh => {
                debug!("device map not present, not creating one");
                return Ok(None);
            }
            Err(Errno::NOENT) => {
                debug!("device map not present yet");
                let map = DeviceMap::create(&name, MAP_MAX_ENTRIES)
                    .or_fail(|| "cannot create bpf map".to_owned())?;
                map.pin(&c_path)
                    .or_fail(|| format!("cannot pin map to {path}"))?;
                map
            }
            Err(e) => {
                return Err(CgroupError::sys(
                    format!("cannot get existing device map {path}"),
                    e,
                ));
            }
        };
        let program = if fresh {
            let insns = device_program(std::os::fd::AsRawFd::as_raw_fd(&map.as_fd()));
            let license = CString::new(LICENSE).expect("no NUL in the license");
            let fd = bpf::load_device_program(&insns, &license, &name).map_err(|e| {
                CgroupError::sys(format!("cannot load program:\n{}\n", e.log), e.errno)
            })?;
            Some(fd)
        } else {
            None
        };
        Ok(Some(V2DeviceCgroup { map, program }))
    }
}

/// Empty a map left by an earlier launch (there is no call that drops all
/// of a map's entries at once).
fn clear(map: &DeviceMap) -> Result<(), CgroupError> {
    let keys = map
        .keys()
        .or_fail(|| "cannot lookup existing device map keys".to_owned())?;
    debug!("found {} existing entries in devices map", keys.len());
    for key in keys {
        match map.remove(&key) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => {
                let shown = Device::from_map_key(&key)
                    .map_or_else(|| format!("{key:?}"), |d| d.to_string());
                return Err(CgroupError::sys(
                    format!("cannot delete device map entry for {shown}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

/// What [`setup_device_cgroup`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceCgroupSetup {
    /// `self-managed=true` or `non-strict=true` in the snap's `.device` file.
    Skipped(&'static str),
    /// No device is tagged for the app and its base does not require a cgroup.
    NotNeeded,
    /// The process is under the app's device cgroup, which allows these
    /// devices (the defaults, the optional nodes present, the tagged ones).
    Joined(Vec<Device>),
}

/// snap-confine's device cgroup step, as current snapd takes it, as root in
/// the host's mount namespace with the snap lock held:
///
/// 1. `/var/lib/snapd/cgroup/snap.INSTANCE.device`, which snapd 2.62 and
///    later writes for every snap: `self-managed=true` or `non-strict=true`
///    → no device cgroup;
/// 2. the devices udev tagged for the app ([`super::udev`]);
/// 3. none, and the cgroup optional → no device cgroup. It is optional on
///    the bases `core` to `core22`, required on every other (`bare`,
///    `core24`, ...) — when the `.device` file exists. Without the file the
///    host's snapd predates 2.62 (2.57 on Debian 12): its rule applies, the
///    cgroup optional on every base (current snap-confine would wait 120 s
///    for the file and die; a launcher working with the snapd that is
///    there cannot, and on cgroup v2 snapd 2.57's `snap run` does not
///    always start the `snap.*.scope` a required cgroup needs);
/// 4. otherwise a fresh cgroup allowing the default devices, the optional
///    nodes present on the host and the tagged devices, with the process
///    under it (v2: only from a `snap.*.scope`/`.service`, as snapd).
pub fn setup_device_cgroup(
    instance: &str,
    security_tag: &str,
    base: &str,
) -> Result<DeviceCgroupSetup, CgroupError> {
    let info_path = format!(
        "{DEVICE_CGROUP_INFO_DIR}/{}",
        device_cgroup_info_name(instance)
    );
    let (info, mode) = match std::fs::read_to_string(&info_path) {
        Ok(text) => (
            DeviceFile::parse(&text)
                .map_err(|e| CgroupError::new(format!("cannot read {info_path}: {e}")))?,
            DeviceCgroupMode::for_base(base),
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            debug!("no {info_path} (snapd before 2.62): device cgroup only for tagged devices");
            (DeviceFile::default(), DeviceCgroupMode::Optional)
        }
        Err(e) => {
            return Err(CgroupError::sys(
                format!("cannot open {info_path}"),
                Errno::from_io_error(&e).unwrap_or(Errno::IO),
            ));
        }
    };
    if info.self_managed {
        debug!("device cgroup is self-managed by the snap");
        return Ok(DeviceCgroupSetup::Skipped("self-managed"));
    }
    if info.non_strict {
        debug!("device cgroup skipped for a non-strict snap");
        return Ok(DeviceCgroupSetup::Skipped("non-strict"));
    }
    debug!("setting up device cgroup ({mode:?} on base {base})");
    let tag = udev_tag(security_tag);
    let tagged = super::udev::tagged_devices(&tag)?;
    if tagged.is_empty() && mode == DeviceCgroupMode::Optional {
        debug!("no devices tagged with {tag}, skipping device cgroup setup");
        return Ok(DeviceCgroupSetup::NotNeeded);
    }
    let cgroup = DeviceCgroup::create(security_tag)?;
    let mut allowed = default_devices();
    allowed.extend(present_optional_devices());
    allowed.extend(tagged);
    for device in &allowed {
        cgroup.allow(*device)?;
    }
    cgroup.attach_self()?;
    debug!("associated snap application process with device cgroup {security_tag}");
    Ok(DeviceCgroupSetup::Joined(allowed))
}

/// `/dev/nvidia0`… up to the first missing one, then the other optional
/// nodes that exist (character devices only; numbers from `stat`).
fn present_optional_devices() -> Vec<Device> {
    let stat_char = |path: &str| -> Option<Device> {
        let st = rustix::fs::statat(CWD, path, AtFlags::empty()).ok()?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::CharacterDevice
        {
            return None;
        }
        let rdev = st.st_rdev;
        Some(Device::char(
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev),
        ))
    };
    let mut out: Vec<Device> = (0..=NVIDIA_MAX_MINOR)
        .map_while(|n| stat_char(&nvidia_node(n)))
        .collect();
    out.extend(OPTIONAL_DEVICE_NODES.iter().filter_map(|p| stat_char(p)));
    out
}
