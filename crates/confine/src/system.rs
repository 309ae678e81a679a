//! Facts about the host: which distribution (spec §6.4 step 4, §6.5 step 5
//! and 6) and the configured home directories (`/var/lib/snapd/system-params`).

use snapcell_core::paths::is_clean_absolute;

use crate::error::{Error, Result, SysContext};
use crate::paths::SYSTEM_PARAMS;

/// What kind of system this is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Distro {
    /// Ubuntu Core (`ID=ubuntu-core`).
    pub is_core: bool,
    /// Ubuntu Core 16.
    pub is_core16: bool,
    /// Debian or a derivative (`ID=debian` or `debian` in `ID_LIKE`).
    pub is_debian_like: bool,
}

impl Distro {
    /// Classify from the text of `/etc/os-release`.
    pub fn from_os_release(text: &str) -> Distro {
        let mut id = "";
        let mut like = "";
        let mut version = "";
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').trim_matches('\'');
            match key.trim() {
                "ID" => id = value,
                "ID_LIKE" => like = value,
                "VERSION_ID" => version = value,
                _ => {}
            }
        }
        let is_core = id == "ubuntu-core";
        Distro {
            is_core,
            is_core16: is_core && version == "16",
            is_debian_like: id == "debian" || like.split_whitespace().any(|w| w == "debian"),
        }
    }

    /// Read `/etc/os-release` (absent: an unknown classic system).
    pub fn probe() -> Distro {
        std::fs::read_to_string("/etc/os-release")
            .map(|t| Distro::from_os_release(&t))
            .unwrap_or_default()
    }
}

/// Parse `homedirs=A,B` out of the system parameters. Each must be an
/// absolute, clean path other than `/`.
pub fn parse_homedirs(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(value) = line.strip_prefix("homedirs=") else {
            continue;
        };
        out.clear();
        for dir in value.split(',').filter(|d| !d.is_empty()) {
            if !is_clean_absolute(dir) || dir == "/" {
                return Err(Error::new(format!(
                    "cannot use home directory {dir:?} from {SYSTEM_PARAMS}: not a clean absolute path"
                )));
            }
            out.push(dir.to_owned());
        }
    }
    Ok(out)
}

/// The configured home directories (none when the file is missing).
pub fn read_homedirs() -> Result<Vec<String>> {
    match std::fs::read_to_string(SYSTEM_PARAMS) {
        Ok(text) => parse_homedirs(&text),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(err).or_die(|| format!("cannot read {SYSTEM_PARAMS}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distros() {
        let debian = Distro::from_os_release("ID=debian\nVERSION_ID=\"12\"\n");
        assert!(debian.is_debian_like && !debian.is_core);
        let ubuntu = Distro::from_os_release("ID=ubuntu\nID_LIKE=debian\n");
        assert!(ubuntu.is_debian_like);
        let core = Distro::from_os_release("ID=ubuntu-core\nVERSION_ID=\"16\"\n");
        assert!(core.is_core && core.is_core16 && !core.is_debian_like);
        let fedora = Distro::from_os_release("ID=fedora\n");
        assert_eq!(fedora, Distro::default());
    }

    #[test]
    fn homedirs() {
        assert_eq!(
            parse_homedirs("x=1\nhomedirs=/data/homes,/srv/users\n").unwrap(),
            ["/data/homes", "/srv/users"]
        );
        assert!(parse_homedirs("").unwrap().is_empty());
        assert!(parse_homedirs("homedirs=\n").unwrap().is_empty());
        assert!(parse_homedirs("homedirs=rel\n").is_err());
        assert!(parse_homedirs("homedirs=/a/../b\n").is_err());
        assert!(parse_homedirs("homedirs=/\n").is_err());
    }
}
