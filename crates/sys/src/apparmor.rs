//! AppArmor on the running kernel: whether it enforces, and snapd's
//! contract where it does (the app runs under `snap.NAME.APP`, set with
//! `change_onexec` just before the exec, as snapd's snap-confine does).

use std::io;

/// Where the kernel says whether the AppArmor module is enabled.
pub const ENABLED_PARAM: &str = "/sys/module/apparmor/parameters/enabled";
/// AppArmor's securityfs directory (present where it enforces profiles).
pub const SECURITYFS_DIR: &str = "/sys/kernel/security/apparmor";

/// Whether AppArmor enforces profiles: the module is enabled (`Y`) and its
/// securityfs directory exists. Either missing means no AppArmor.
pub fn is_enforcing() -> bool {
    enforcing_from(
        std::fs::read_to_string(ENABLED_PARAM).ok().as_deref(),
        std::path::Path::new(SECURITYFS_DIR).is_dir(),
    )
}

/// [`is_enforcing`] from the parameter's text and the directory's presence.
pub fn enforcing_from(enabled: Option<&str>, securityfs: bool) -> bool {
    matches!(enabled.map(str::trim), Some("Y")) && securityfs
}

/// `aa_change_onexec(label)`: the next exec runs under `label`.
pub fn change_onexec(label: &str) -> io::Result<()> {
    let cmd = format!("exec {label}");
    // The LSM-specific file first (stacked LSMs), then the shared one.
    for path in ["/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"] {
        match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(mut f) => {
                use std::io::Write;
                return f.write_all(cmd.as_bytes());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from(io::ErrorKind::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert!(enforcing_from(Some("Y\n"), true));
        assert!(!enforcing_from(Some("N\n"), true));
        assert!(!enforcing_from(Some("Y\n"), false));
        assert!(!enforcing_from(None, true));
        // This kernel has no AppArmor.
        assert!(!is_enforcing());
    }
}
