//! Implicit hooks: snapd's `snap.ReadInfo` adds a hook for every file in
//! the snap's `meta/hooks` whose name is a supported hook type, when
//! `snap.yaml` does not declare it (`addImplicitHooks`); a declared hook is
//! never replaced, and a file whose name is not a hook type is ignored.
//! The listing itself is the caller's (snap-exec, snapcell): this module
//! only decides.

use super::model::{HookInfo, SnapInfo};

/// The hook names snapd supports (its `supportedHooks`: fixed names and
/// the interface hook patterns `(un)prepare-plug-NAME`,
/// `(dis)connect-slot-NAME`, ...).
pub fn is_supported_hook(name: &str) -> bool {
    const FIXED: &[&str] = &[
        "prepare-device",
        "prepare-gadget",
        "configure",
        "default-configure",
        "install",
        "install-device",
        "pre-refresh",
        "post-refresh",
        "remove",
        "check-health",
        "fde-setup",
        "gate-auto-refresh",
    ];
    if FIXED.contains(&name) {
        return true;
    }
    // ^(prepare|unprepare|connect|disconnect)-(plug|slot)-[-a-z0-9]+$
    for verb in ["prepare-", "unprepare-", "connect-", "disconnect-"] {
        let Some(rest) = name.strip_prefix(verb) else {
            continue;
        };
        for side in ["plug-", "slot-"] {
            if let Some(plug) = rest.strip_prefix(side) {
                return !plug.is_empty()
                    && plug
                        .bytes()
                        .all(|b| b == b'-' || b.is_ascii_lowercase() || b.is_ascii_digit());
            }
        }
    }
    false
}

impl SnapInfo {
    /// Add the hooks `meta/hooks` holds (`names`: its entries) that
    /// `snap.yaml` does not declare, as snapd's `addImplicitHooks` does;
    /// returns the names added.
    pub fn add_implicit_hooks<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<String> {
        let mut added = Vec::new();
        for name in names {
            if is_supported_hook(name) && !self.hooks.contains_key(name) {
                self.hooks.insert(name.to_owned(), HookInfo::default());
                added.push(name.to_owned());
            }
        }
        added
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_names_are_snapds() {
        for ok in [
            "install",
            "configure",
            "post-refresh",
            "pre-refresh",
            "remove",
            "default-configure",
            "check-health",
            "gate-auto-refresh",
            "prepare-plug-home",
            "unprepare-slot-x-1",
            "connect-plug-content",
            "disconnect-slot-a",
        ] {
            assert!(is_supported_hook(ok), "{ok}");
        }
        for bad in [
            "",
            "upgrade",
            "install.sh",
            "Install",
            "connect-plug-",
            "connect-plug-Home",
            "connect-home",
            "prepare-plug-a_b",
            ".configure",
        ] {
            assert!(!is_supported_hook(bad), "{bad}");
        }
    }

    #[test]
    fn declared_hooks_stay_and_unknown_files_are_ignored() {
        let mut info = SnapInfo::parse(
            "name: aa\nversion: 1\nhooks:\n  configure:\n    command-chain: [bin/c]\n",
        )
        .unwrap();
        let added = info.add_implicit_hooks(["configure", "install", "README", "post-refresh"]);
        assert_eq!(added, ["install", "post-refresh"]);
        assert_eq!(info.hooks["configure"].command_chain, ["bin/c"]);
        assert_eq!(info.hooks["install"], HookInfo::default());
        assert_eq!(
            info.hooks.keys().collect::<Vec<_>>(),
            ["configure", "install", "post-refresh"]
        );
        info.validate().unwrap();
    }
}
