//! snapd's own policy text, read at test time out of the installed snapd
//! (2.57 on Debian 12, GPL-3.0): nothing of it is committed here.
//!
//! snapd keeps its templates and interface snippets as Go string
//! constants; in the binary they lie in the read-only data, one after the
//! other, with nothing between them. [`SnapdBinary::text`] cuts one out by
//! its first and last lines. The seccomp template
//! ([`crate::seccomp_probe::snapd_257_profile`]) and the AppArmor pieces
//! ([`AppArmor257`]) are read this way.

use std::path::Path;

/// The installed snapd daemon, whose string data holds the texts.
pub const SNAPD: &str = "/usr/lib/snapd/snapd";

/// The bytes of the installed [`SNAPD`].
pub struct SnapdBinary {
    data: Vec<u8>,
}

impl SnapdBinary {
    /// The installed snapd, `None` when it is not installed. A snapd that
    /// is there but cannot be read is a failure (panics): only a missing
    /// one may make a test skip.
    pub fn installed() -> Option<SnapdBinary> {
        if !Path::new(SNAPD).exists() {
            return None;
        }
        let data = std::fs::read(SNAPD).unwrap_or_else(|e| panic!("cannot read {SNAPD}: {e}"));
        Some(SnapdBinary { data })
    }

    /// The text that starts with `start` (which must occur once) and ends
    /// with the first `end` after it, both included; only printable ASCII,
    /// tabs and newlines in between (else it is not one piece of text).
    pub fn text(&self, start: &str, end: &str) -> Result<String, String> {
        assert!(!start.is_empty() && !end.is_empty());
        let i = find(&self.data, start.as_bytes())
            .ok_or_else(|| format!("{SNAPD}: no text starts with {start:?}"))?;
        let after = i + start.len();
        if find(&self.data[after..], start.as_bytes()).is_some() {
            return Err(format!("{SNAPD}: more than one text starts with {start:?}"));
        }
        let j = find(&self.data[after..], end.as_bytes())
            .map(|j| after + j + end.len())
            .ok_or_else(|| format!("{SNAPD}: no {end:?} after {start:?}"))?;
        let bytes = &self.data[i..j];
        if let Some(k) = bytes
            .iter()
            .position(|&b| !(b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b)))
        {
            return Err(format!(
                "{SNAPD}: the text from {start:?} to {end:?} is not text at byte {k}"
            ));
        }
        Ok(String::from_utf8(bytes.to_vec()).expect("ASCII"))
    }
}

/// The pieces snapd 2.57 assembles into an app's AppArmor profile, as its
/// `interfaces/apparmor` backend has them: the template and the plug-side
/// snippets of the interfaces the tests connect.
#[derive(Clone, Debug)]
pub struct AppArmor257 {
    /// `templateCommon`, with `###VAR###`, `###PROFILEATTACH###` and
    /// `###DEVMODE_SNAP_CONFINE###` to fill in and no closing brace.
    pub template_common: String,
    /// `defaultOtherBaseTemplateRules`: for bases other than `core`.
    pub other_base_rules: String,
    /// `(interface, plug-side snippet)` for home (with `###HOME_IX###`),
    /// network, network-bind and removable-media.
    pub snippets: Vec<(&'static str, String)>,
}

/// Each piece: its name, its first and its last line.
const APPARMOR_257_PIECES: &[(&str, &str, &str)] = &[
    (
        "template-common",
        "\n# vim:syntax=apparmor\n\n#include <tunables/global>\n\n# snapd supports",
        "  ###DEVMODE_SNAP_CONFINE###\n",
    ),
    (
        "other-base-rules",
        "  # Default rules for non-core base runtimes\n",
        "  /var/lib/extrausers[^/]** mrklix,\n",
    ),
    (
        "home",
        "# Description: Can access non-hidden files in user's $HOME.",
        "audit deny @{HOME}/bin/{,**} wl,\n",
    ),
    (
        "network",
        "# Description: Can access the network as a client.\n#include <abstractions/nameservice>\n",
        "/{,usr/}bin/nc{,.openbsd} ixr,",
    ),
    (
        "network-bind",
        "# Description: Can access the network as a server.\n#include <abstractions/nameservice>\n",
        "#deny network netlink dgram,\n",
    ),
    (
        "removable-media",
        "# Description: Can access removable storage filesystems\n",
        "/mnt/** mrwklix,\n",
    ),
];

impl AppArmor257 {
    /// Read every piece out of `snapd`; an error names the piece missing.
    pub fn read(snapd: &SnapdBinary) -> Result<AppArmor257, String> {
        let mut template_common = String::new();
        let mut other_base_rules = String::new();
        let mut snippets = Vec::new();
        for (name, start, end) in APPARMOR_257_PIECES {
            let text = snapd
                .text(start, end)
                .map_err(|e| format!("snapd 2.57's AppArmor {name}: {e}"))?;
            match *name {
                "template-common" => template_common = text,
                "other-base-rules" => other_base_rules = text,
                _ => snippets.push((*name, text)),
            }
        }
        Ok(AppArmor257 {
            template_common,
            other_base_rules,
            snippets,
        })
    }

    /// The plug-side snippet of `interface`; panics for one not read.
    pub fn snippet(&self, interface: &str) -> &str {
        self.snippets
            .iter()
            .find(|(name, _)| *name == interface)
            .map(|(_, text)| text.as_str())
            .unwrap_or_else(|| panic!("no snapd 2.57 AppArmor snippet for {interface:?}"))
    }
}

/// Where `needle` (not empty) first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == needle[0]) {
        let at = from + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_one_text_by_its_first_and_last_lines() {
        let snapd = SnapdBinary {
            data: b"\x00\x01abc\nfirst\nmiddle\nlast\nfirst-of-next\n\x02tail".to_vec(),
        };
        assert_eq!(
            snapd.text("first\n", "last\n").unwrap(),
            "first\nmiddle\nlast\n"
        );
        assert!(snapd.text("nowhere", "last\n").is_err());
        assert!(snapd.text("middle", "nowhere").is_err());
        // Two starts: ambiguous.
        assert!(snapd.text("first", "last\n").is_err());
        // Across non-text bytes: not one text.
        assert!(snapd.text("abc", "tail").is_err());
    }

    /// With snapd installed (CI installs it), every piece is found.
    #[test]
    fn every_apparmor_257_piece_is_in_the_installed_snapd() {
        let Some(snapd) = SnapdBinary::installed() else {
            eprintln!("SKIPPED: {SNAPD} is not installed (apt-get install snapd)");
            return;
        };
        let pieces = AppArmor257::read(&snapd).unwrap();
        assert!(pieces.template_common.contains("###PROFILEATTACH###"));
        assert!(pieces.other_base_rules.ends_with("mrklix,\n"));
        assert!(pieces.snippet("home").contains("###HOME_IX###"));
        assert_eq!(pieces.snippets.len(), 4);
    }
}
