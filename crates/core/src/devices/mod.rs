//! The device cgroup as snapd sets it up (research/confinement.md §3), the
//! pure half: which devices an app may open, how the v1 `devices`
//! controller and the v2 BPF map spell them, when snap-confine sets the
//! cgroup up at all, and how udev's records and snap-device-helper's
//! command lines are read. `snapcell_sys::cgroup` does the writing.
//!
//! * [`Device`]: a character or block device, one minor or all of a major;
//! * [`COMMON_DEVICES`], [`PTY_SLAVE_MAJORS`], [`OPTIONAL_DEVICE_NODES`]:
//!   what every confined app may open;
//! * [`DeviceCgroupMode`], [`DeviceFile`]: whether a launch sets the cgroup
//!   up (current snapd's rules);
//! * [`udev`]: udev tags, udev's database, snap-device-helper's command
//!   lines;
//! * [`program`]: the BPF device program of cgroup v2.

pub mod program;
pub mod udev;

use std::fmt;

/// `BPF_MAP_TYPE_HASH` entries of the v2 device map: current snapd's size
/// (1000 since 2.75; 500 up to 2.74, 2.57 included).
pub const MAP_MAX_ENTRIES: u32 = 1000;

/// The minor number that stands for every minor of a major (`c 136:*`);
/// in the v2 map the minor field holds it as is.
pub const MINOR_ANY: u32 = u32::MAX;

/// Size of a key of the v2 device map: packed `{u8 type; u32 major; u32
/// minor}`, native byte order.
pub const MAP_KEY_SIZE: usize = 9;

/// Size of a value of the v2 device map (a `u8`, always 1: the map is a set).
pub const MAP_VALUE_SIZE: usize = 1;

/// Character or block device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceKind {
    Char,
    Block,
}

impl DeviceKind {
    /// `c` or `b`: the letter of the v1 rules and of the v2 map's keys.
    pub fn letter(self) -> char {
        match self {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        }
    }

    /// The kind of a device of udev's `SUBSYSTEM` (`block` or anything else).
    pub fn of_subsystem(subsystem: &str) -> DeviceKind {
        if subsystem == "block" {
            DeviceKind::Block
        } else {
            DeviceKind::Char
        }
    }
}

/// A device, or all minors of a major ([`MINOR_ANY`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Device {
    pub kind: DeviceKind,
    pub major: u32,
    pub minor: u32,
}

impl Device {
    pub const fn char(major: u32, minor: u32) -> Device {
        Device {
            kind: DeviceKind::Char,
            major,
            minor,
        }
    }

    pub const fn block(major: u32, minor: u32) -> Device {
        Device {
            kind: DeviceKind::Block,
            major,
            minor,
        }
    }

    /// The line written to `devices.allow` or `devices.deny` (cgroup v1):
    /// `c 1:3 rwm`, `c 136:* rwm`. Access is always `rwm`, as with snapd.
    pub fn v1_rule(&self) -> String {
        format!("{self} rwm\n")
    }

    /// The key of this device in the v2 map.
    pub fn map_key(&self) -> [u8; MAP_KEY_SIZE] {
        let mut key = [0u8; MAP_KEY_SIZE];
        key[0] = self.kind.letter() as u8;
        key[1..5].copy_from_slice(&self.major.to_ne_bytes());
        key[5..9].copy_from_slice(&self.minor.to_ne_bytes());
        key
    }

    /// The device a key of the v2 map stands for (`None`: not a key snapd
    /// writes).
    pub fn from_map_key(key: &[u8; MAP_KEY_SIZE]) -> Option<Device> {
        let kind = match key[0] {
            b'c' => DeviceKind::Char,
            b'b' => DeviceKind::Block,
            _ => return None,
        };
        let major = u32::from_ne_bytes(key[1..5].try_into().ok()?);
        let minor = u32::from_ne_bytes(key[5..9].try_into().ok()?);
        Some(Device { kind, major, minor })
    }
}

impl fmt::Display for Device {
    /// `c 1:3`, `c 136:*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.minor == MINOR_ANY {
            write!(f, "{} {}:*", self.kind.letter(), self.major)
        } else {
            write!(f, "{} {}:{}", self.kind.letter(), self.major, self.minor)
        }
    }
}

/// Devices every confined app may open (static numbers): null, zero, full,
/// random, urandom, tty, console, ptmx.
pub const COMMON_DEVICES: &[Device] = &[
    Device::char(1, 3),
    Device::char(1, 5),
    Device::char(1, 7),
    Device::char(1, 8),
    Device::char(1, 9),
    Device::char(5, 0),
    Device::char(5, 1),
    Device::char(5, 2),
];

/// Unix98 pty slave majors, all minors allowed (the app's devpts is a new
/// instance, so only its own ptys are there).
pub const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u32> = 136..=143;

/// How many `/dev/nvidiaN` nodes are looked at (`nvidia0` to `nvidia254`,
/// stopping at the first missing one).
pub const NVIDIA_MAX_MINOR: u32 = 254;

/// Device nodes allowed when they exist (their numbers come from `stat`):
/// the NVIDIA control nodes, `/dev/uhid` and `/dev/net/tun`, which udev
/// cannot tag. `/dev/nvidiaN` are in [`optional_device_nodes`].
pub const OPTIONAL_DEVICE_NODES: &[&str] = &[
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-modeset",
    "/dev/uhid",
    "/dev/net/tun",
];

/// The devices every app gets before its tagged ones, in snapd's order:
/// [`COMMON_DEVICES`], then the pty slaves.
pub fn default_devices() -> Vec<Device> {
    let mut out = COMMON_DEVICES.to_vec();
    out.extend(PTY_SLAVE_MAJORS.map(|major| Device::char(major, MINOR_ANY)));
    out
}

/// `/dev/nvidiaN`, for N from 0: look at each in turn and stop at the
/// first missing one; then [`OPTIONAL_DEVICE_NODES`].
pub fn nvidia_node(n: u32) -> String {
    format!("/dev/nvidia{n}")
}

/// Whether a launch sets up the device cgroup when no device is tagged for
/// the app (current snapd's `sc_device_cgroup_mode`; snapd before 2.62
/// knows only [`DeviceCgroupMode::Optional`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceCgroupMode {
    /// Always: every base but the ones below (`bare`, `core24` and later).
    Required,
    /// Only when at least one device is tagged for the app (what snapd
    /// 2.57 does for every base).
    Optional,
}

/// Bases that keep the legacy behaviour (no cgroup without tagged devices).
pub const OPTIONAL_CGROUP_BASES: &[&str] = &["core", "core16", "core18", "core20", "core22"];

impl DeviceCgroupMode {
    /// The mode of a snap on `base` (the base's snap name, as given to
    /// snap-confine with `--base`).
    pub fn for_base(base: &str) -> DeviceCgroupMode {
        if OPTIONAL_CGROUP_BASES.contains(&base) {
            DeviceCgroupMode::Optional
        } else {
            DeviceCgroupMode::Required
        }
    }
}

/// `/var/lib/snapd/cgroup/snap.INSTANCE.device` (snapd 2.62 and later): a
/// `key=value` file with `#` comments.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceFile {
    /// `self-managed=true`: an interface (docker-support, lxd-support, ...)
    /// lets the snap manage its own device cgroup; snap-confine sets none up.
    pub self_managed: bool,
    /// `non-strict=true`: devmode or classic; snap-confine sets none up.
    pub non_strict: bool,
}

impl DeviceFile {
    /// Parse the file. Unknown keys are ignored; a line without `=` is an
    /// error (snapd's infofile reader refuses it too).
    pub fn parse(text: &str) -> Result<DeviceFile, String> {
        let mut out = DeviceFile::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {} is not a key=value pair", n + 1));
            };
            match key {
                "self-managed" => out.self_managed = value == "true",
                "non-strict" => out.non_strict = value == "true",
                _ => {}
            }
        }
        Ok(out)
    }

    /// Whether snap-confine leaves the device cgroup alone.
    pub fn skips_cgroup(&self) -> bool {
        self.self_managed || self.non_strict
    }
}

/// The name of the device cgroup, the pinned map and the program of the
/// app `security_tag` as the kernel shows them (`BPF_OBJ_NAME_LEN`, 16 with
/// the NUL): `s_` and the udev tag after `snap_`, `-` and `+` made `_`,
/// cut to 15 bytes.
pub fn bpf_object_name(security_tag: &str) -> String {
    let tag = udev::udev_tag(security_tag);
    let rest = tag.strip_prefix("snap_").unwrap_or(&tag);
    let mut name: String = format!("s_{rest}")
        .chars()
        .map(|c| if c == '-' || c == '+' { '_' } else { c })
        .collect();
    name.truncate(15);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_as_snapd_writes_them() {
        assert_eq!(Device::char(1, 3).v1_rule(), "c 1:3 rwm\n");
        assert_eq!(Device::char(136, MINOR_ANY).v1_rule(), "c 136:* rwm\n");
        assert_eq!(Device::block(7, 0).v1_rule(), "b 7:0 rwm\n");
    }

    #[test]
    fn default_list() {
        let all = default_devices();
        assert_eq!(all.len(), 8 + 8);
        assert_eq!(all[0], Device::char(1, 3));
        assert!(all.contains(&Device::char(5, 1)), "console");
        assert_eq!(all[8], Device::char(136, MINOR_ANY));
        assert_eq!(all[15], Device::char(143, MINOR_ANY));
    }

    #[test]
    fn map_keys_round_trip() {
        let d = Device::block(259, 0x01020304);
        let key = d.map_key();
        assert_eq!(key[0], b'b');
        assert_eq!(&key[1..5], &259u32.to_ne_bytes());
        assert_eq!(Device::from_map_key(&key), Some(d));
        let any = Device::char(136, MINOR_ANY).map_key();
        assert_eq!(&any[5..9], &[0xff; 4]);
        assert_eq!(Device::from_map_key(&[b'x'; 9]), None);
    }

    #[test]
    fn mode_follows_the_base() {
        for base in OPTIONAL_CGROUP_BASES {
            assert_eq!(DeviceCgroupMode::for_base(base), DeviceCgroupMode::Optional);
        }
        for base in ["bare", "core24", "core26", "my-base"] {
            assert_eq!(DeviceCgroupMode::for_base(base), DeviceCgroupMode::Required);
        }
    }

    #[test]
    fn device_file() {
        let f = DeviceFile::parse("# This file is automatically generated.\nself-managed=true\n")
            .unwrap();
        assert!(f.self_managed && !f.non_strict && f.skips_cgroup());
        let f = DeviceFile::parse("non-strict=true\nother=1\n").unwrap();
        assert!(f.non_strict && f.skips_cgroup());
        let f = DeviceFile::parse("self-managed=false\n").unwrap();
        assert!(!f.skips_cgroup());
        assert!(DeviceFile::parse("garbage\n").is_err());
    }

    #[test]
    fn object_names() {
        assert_eq!(bpf_object_name("snap.hello.hello"), "s_hello_hello");
        assert_eq!(bpf_object_name("snap.foo-bar.app"), "s_foo_bar_app");
        assert_eq!(bpf_object_name("snap.averylongname.app"), "s_averylongname");
        assert_eq!(bpf_object_name("snap.averylongname.app").len(), 15);
    }
}
