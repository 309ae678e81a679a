//! The kernel-flag vocabulary of mount options (spec §1.6): which options of
//! an entry become mount(2) flags, which set propagation, and which are passed
//! to the file system as its data string. `x-snapd.*` options never reach the
//! kernel.

use crate::goquote::quote;

/// Mount flags (`MS_*` values, so the system layer can pass them on as they are).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MountFlags(pub u64);

impl MountFlags {
    pub const RDONLY: MountFlags = MountFlags(1);
    pub const NOSUID: MountFlags = MountFlags(2);
    pub const NODEV: MountFlags = MountFlags(4);
    pub const NOEXEC: MountFlags = MountFlags(8);
    pub const SYNCHRONOUS: MountFlags = MountFlags(16);
    pub const REMOUNT: MountFlags = MountFlags(32);
    pub const MANDLOCK: MountFlags = MountFlags(64);
    pub const DIRSYNC: MountFlags = MountFlags(128);
    pub const NOATIME: MountFlags = MountFlags(1024);
    pub const NODIRATIME: MountFlags = MountFlags(2048);
    pub const BIND: MountFlags = MountFlags(4096);
    pub const MOVE: MountFlags = MountFlags(8192);
    pub const REC: MountFlags = MountFlags(16384);
    pub const SILENT: MountFlags = MountFlags(32768);
    pub const POSIXACL: MountFlags = MountFlags(1 << 16);
    pub const UNBINDABLE: MountFlags = MountFlags(1 << 17);
    pub const PRIVATE: MountFlags = MountFlags(1 << 18);
    pub const SLAVE: MountFlags = MountFlags(1 << 19);
    pub const SHARED: MountFlags = MountFlags(1 << 20);
    pub const RELATIME: MountFlags = MountFlags(1 << 21);
    pub const STRICTATIME: MountFlags = MountFlags(1 << 24);
    /// The propagation bits.
    pub const PROPAGATION: MountFlags = MountFlags((1 << 17) | (1 << 18) | (1 << 19) | (1 << 20));

    pub const fn empty() -> MountFlags {
        MountFlags(0)
    }
    pub const fn contains(self, other: MountFlags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn intersects(self, other: MountFlags) -> bool {
        self.0 & other.0 != 0
    }
    pub const fn union(self, other: MountFlags) -> MountFlags {
        MountFlags(self.0 | other.0)
    }
    pub const fn difference(self, other: MountFlags) -> MountFlags {
        MountFlags(self.0 & !other.0)
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for MountFlags {
    type Output = MountFlags;
    fn bitor(self, rhs: MountFlags) -> MountFlags {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for MountFlags {
    fn bitor_assign(&mut self, rhs: MountFlags) {
        *self = self.union(rhs);
    }
}

/// The flag of one kernel-flag option, if it is one.
pub fn option_flag(opt: &str) -> Option<MountFlags> {
    Some(match opt {
        "rw" => MountFlags::empty(),
        "ro" => MountFlags::RDONLY,
        "nosuid" => MountFlags::NOSUID,
        "nodev" => MountFlags::NODEV,
        "noexec" => MountFlags::NOEXEC,
        "sync" => MountFlags::SYNCHRONOUS,
        "remount" => MountFlags::REMOUNT,
        "mand" => MountFlags::MANDLOCK,
        "dirsync" => MountFlags::DIRSYNC,
        "noatime" => MountFlags::NOATIME,
        "nodiratime" => MountFlags::NODIRATIME,
        "relatime" => MountFlags::RELATIME,
        "strictatime" => MountFlags::STRICTATIME,
        "bind" => MountFlags::BIND,
        "rbind" => MountFlags::BIND | MountFlags::REC,
        "move" => MountFlags::MOVE,
        "silent" => MountFlags::SILENT,
        "acl" => MountFlags::POSIXACL,
        "private" => MountFlags::PRIVATE,
        "rprivate" => MountFlags::PRIVATE | MountFlags::REC,
        "slave" => MountFlags::SLAVE,
        "rslave" => MountFlags::SLAVE | MountFlags::REC,
        "shared" => MountFlags::SHARED,
        "rshared" => MountFlags::SHARED | MountFlags::REC,
        _ => return None,
    })
}

/// An entry's options split the way snap-update-ns performs them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitOptions {
    /// Every kernel flag, propagation and `MS_REC` included.
    pub flags: MountFlags,
    /// Options that are neither kernel flags nor `x-snapd.*`: the data string's parts.
    pub unparsed: Vec<String>,
}

impl SplitOptions {
    /// The propagation bits (shared, slave, private, unbindable).
    pub fn propagation(&self) -> MountFlags {
        MountFlags(self.flags.0 & MountFlags::PROPAGATION.0)
    }
    /// Whether `MS_REC` is set.
    pub fn recursive(&self) -> bool {
        self.flags.contains(MountFlags::REC)
    }
    /// The flags with neither propagation nor `MS_REC`.
    pub fn rest(&self) -> MountFlags {
        self.flags
            .difference(MountFlags::PROPAGATION)
            .difference(MountFlags::REC)
    }
    /// The data string for mount(2): unparsed options joined by `,`.
    pub fn data(&self) -> String {
        self.unparsed.join(",")
    }
}

/// snapd's lenient converter: kernel flags and the rest; `x-snapd.*` dropped.
pub fn split_options(options: &[String]) -> SplitOptions {
    let mut out = SplitOptions::default();
    for opt in options {
        if let Some(flag) = option_flag(opt) {
            out.flags |= flag;
        } else if !opt.starts_with("x-snapd.") {
            out.unparsed.push(opt.clone());
        }
    }
    out
}

/// An option that is neither a kernel flag nor `x-snapd.*` (the strict converter).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unsupported mount option: {}", quote(.0))]
pub struct UnsupportedOption(pub String);

/// snapd's strict converter (`MountOptsToFlags`).
pub fn options_to_flags(options: &[String]) -> Result<MountFlags, UnsupportedOption> {
    let split = split_options(options);
    match split.unparsed.into_iter().next() {
        Some(bad) => Err(UnsupportedOption(bad)),
        None => Ok(split.flags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(s: &str) -> Vec<String> {
        s.split(',').map(str::to_owned).collect()
    }

    #[test]
    fn splits_flags_propagation_and_data() {
        let s = split_options(&opts(
            "rbind,ro,rslave,mode=0755,x-snapd.origin=layout,size=10m",
        ));
        assert!(s.recursive());
        assert_eq!(s.rest(), MountFlags::BIND | MountFlags::RDONLY);
        assert_eq!(s.propagation(), MountFlags::SLAVE);
        assert_eq!(s.data(), "mode=0755,size=10m");
    }

    #[test]
    fn strict_conversion_refuses_unknown_options() {
        assert_eq!(
            options_to_flags(&opts("ro,nodev")),
            Ok(MountFlags::RDONLY | MountFlags::NODEV)
        );
        assert_eq!(
            options_to_flags(&opts("ro,x-snapd.kind=file")),
            Ok(MountFlags::RDONLY)
        );
        assert_eq!(
            options_to_flags(&opts("ro,bogus")).unwrap_err().to_string(),
            "unsupported mount option: \"bogus\""
        );
    }

    #[test]
    fn flag_values_are_the_kernels() {
        assert_eq!(MountFlags::REC.0, 0x4000);
        assert_eq!(MountFlags::BIND.0, 0x1000);
        assert_eq!(MountFlags::SHARED.0, 0x10_0000);
        assert_eq!(MountFlags::STRICTATIME.0, 0x100_0000);
    }
}
