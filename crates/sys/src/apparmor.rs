//! AppArmor on the running kernel: whether it enforces, and snapd's
//! contract where it does (the app runs under `snap.NAME.APP`, set with
//! `change_onexec` just before the exec, as snapd's snap-confine does).

use std::io;

/// Where the kernel says whether the AppArmor module is enabled.
pub const ENABLED_PARAM: &str = "/sys/module/apparmor/parameters/enabled";
/// AppArmor's securityfs directory (present where it enforces profiles).
pub const SECURITYFS_DIR: &str = "/sys/kernel/security/apparmor";

/// Whether the running kernel enforces AppArmor profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppArmor {
    /// The module is enabled (`Y`) and its securityfs directory exists.
    Enforcing,
    /// Either is missing, or the module says it is not enabled.
    Absent,
    /// The question could not be answered (an error other than "does not
    /// exist"): callers keep snapd's behaviour where that matters.
    Unknown,
}

/// Ask the kernel (snapd's `aa_is_enabled`), once per launch.
pub fn detect() -> AppArmor {
    let securityfs = std::fs::metadata(SECURITYFS_DIR).map(|_| ());
    let param = std::fs::read(ENABLED_PARAM);
    let verdict = detect_from(&securityfs, &param);
    crate::debug!(
        "AppArmor: {verdict:?} ({SECURITYFS_DIR}: {}, {ENABLED_PARAM}: {})",
        match &securityfs {
            Ok(()) => "present".to_owned(),
            Err(e) => e.to_string(),
        },
        match &param {
            Ok(v) => String::from_utf8_lossy(v).trim().to_owned(),
            Err(e) => e.to_string(),
        }
    );
    verdict
}

/// [`detect`] from what the two files gave.
pub fn detect_from(securityfs: &io::Result<()>, enabled: &io::Result<Vec<u8>>) -> AppArmor {
    let missing = |e: &io::Error| e.kind() == io::ErrorKind::NotFound;
    match (securityfs, enabled) {
        (Err(e), _) if missing(e) => AppArmor::Absent,
        (Err(_), _) => AppArmor::Unknown,
        (Ok(()), Ok(v)) if v.starts_with(b"Y") => AppArmor::Enforcing,
        (Ok(()), Ok(_)) => AppArmor::Absent,
        (Ok(()), Err(e)) if missing(e) => AppArmor::Absent,
        (Ok(()), Err(_)) => AppArmor::Unknown,
    }
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
        fn ok() -> io::Result<()> {
            Ok(())
        }
        fn gone<T>() -> io::Result<T> {
            Err(io::Error::from(io::ErrorKind::NotFound))
        }
        fn denied<T>() -> io::Result<T> {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        }
        let param = |v: &str| Ok(v.as_bytes().to_vec());
        assert_eq!(detect_from(&ok(), &param("Y\n")), AppArmor::Enforcing);
        assert_eq!(detect_from(&ok(), &param("N\n")), AppArmor::Absent);
        assert_eq!(detect_from(&gone(), &param("Y\n")), AppArmor::Absent);
        assert_eq!(detect_from(&ok(), &gone()), AppArmor::Absent);
        assert_eq!(detect_from(&denied(), &param("Y\n")), AppArmor::Unknown);
        assert_eq!(detect_from(&ok(), &denied()), AppArmor::Unknown);
        // This kernel has no AppArmor.
        assert_eq!(detect(), AppArmor::Absent);
    }
}
