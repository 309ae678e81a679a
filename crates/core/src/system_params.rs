//! `/var/lib/snapd/system-params`: the configured home directories.

use crate::dirs::SYSTEM_PARAMS;
use crate::paths::is_clean_absolute;

/// A `homedirs=` value that is not a clean absolute path other than `/`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot use home directory {dir:?} from {SYSTEM_PARAMS}: not a clean absolute path")]
pub struct BadHomedir {
    pub dir: String,
}

/// Parse `homedirs=A,B` out of the system parameters (the last such line
/// counts). Each must be an absolute, clean path other than `/`.
pub fn parse_homedirs(text: &str) -> Result<Vec<String>, BadHomedir> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(value) = line.strip_prefix("homedirs=") else {
            continue;
        };
        out.clear();
        for dir in value.split(',').filter(|d| !d.is_empty()) {
            if !is_clean_absolute(dir) || dir == "/" {
                return Err(BadHomedir {
                    dir: dir.to_owned(),
                });
            }
            out.push(dir.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            parse_homedirs("homedirs=/\n").unwrap_err().to_string(),
            "cannot use home directory \"/\" from /var/lib/snapd/system-params: not a clean absolute path"
        );
    }
}
