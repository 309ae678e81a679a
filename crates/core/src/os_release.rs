//! `/etc/os-release`: which kind of system this is (spec §6.4 step 4, §6.5
//! steps 5 and 6).

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
    /// Classify from the text of `/etc/os-release` (an empty text: an
    /// unknown classic system).
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
}
