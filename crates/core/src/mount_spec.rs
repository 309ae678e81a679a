//! Assembly of a snap's mount profile from its sources (spec §5.2, §5.3):
//! the parallel-instance "overname" entries, the layout entries and the
//! general (interface) entries, de-clashed by mount point.

use std::collections::HashMap;

use crate::entry::{MountEntry, OPT_ORIGIN};
use crate::naming::split_instance_name;

/// The overname entries of a parallel instance `NAME_KEY` (spec §5.2):
/// `/snap/NAME_KEY` on `/snap/NAME` and `/var/snap/NAME_KEY` on
/// `/var/snap/NAME`, so that the instance sees its own files at the snap
/// name's paths. Nothing for an instance name without a key.
pub fn overname_entries(instance_name: &str) -> Vec<MountEntry> {
    let (snap_name, key) = split_instance_name(instance_name);
    if key.is_empty() {
        return Vec::new();
    }
    let entry = |from: String, to: String| MountEntry {
        name: from,
        dir: to,
        options: vec!["rbind".to_owned(), format!("{OPT_ORIGIN}=overname")],
        ..MountEntry::default()
    };
    vec![
        entry(
            format!("/snap/{instance_name}"),
            format!("/snap/{snap_name}"),
        ),
        entry(
            format!("/var/snap/{instance_name}"),
            format!("/var/snap/{snap_name}"),
        ),
    ]
}

/// The final system profile (spec §5.3): overname entries first, then layout
/// entries, then general entries, de-clashed by mount point (see
/// [`unclash`]).
pub fn mount_entries(
    overname: &[MountEntry],
    layout: &[MountEntry],
    general: &[MountEntry],
) -> Vec<MountEntry> {
    unclash(overname.iter().chain(layout).chain(general).cloned())
}

/// The final user profile: the user entries, de-clashed the same way.
pub fn user_mount_entries(user: &[MountEntry]) -> Vec<MountEntry> {
    unclash(user.iter().cloned())
}

fn has_origin(e: &MountEntry) -> bool {
    e.option_value(OPT_ORIGIN).is_some_and(|o| !o.is_empty())
}

/// Make mount points unique, keeping the order (spec §5.3).
///
/// The first entry for a mount point is kept. A later entry for the same
/// mount point is merged into it when both have the same source and type
/// and neither has an `x-snapd.origin`; otherwise it is kept with its mount
/// point renamed to `DIR-2`, `DIR-3`, ... (counted per original mount
/// point). `ensure-dir` entries take no part in this and are appended at the
/// end, unchanged.
pub fn unclash(entries: impl IntoIterator<Item = MountEntry>) -> Vec<MountEntry> {
    let mut result: Vec<MountEntry> = Vec::new();
    let mut ensure_dirs = Vec::new();
    // mount point -> (index of its first entry in `result`, entries seen)
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    for mut e in entries {
        if e.kind_str() == "ensure-dir" {
            ensure_dirs.push(e);
            continue;
        }
        let Some((first_idx, count)) = seen.get_mut(&e.dir) else {
            seen.insert(e.dir.clone(), (result.len(), 1));
            result.push(e);
            continue;
        };
        let first = &mut result[*first_idx];
        if first.name == e.name
            && first.fs_type == e.fs_type
            && !has_origin(first)
            && !has_origin(&e)
        {
            first.options = merge_options(&first.options, &e.options);
        } else {
            *count += 1;
            e.dir = format!("{}-{}", e.dir, count);
            result.push(e);
        }
    }
    result.extend(ensure_dirs);
    result
}

/// Merge the options of two entries for the same mount point (spec §5.3):
/// `rw` and `async` are dropped; other options are kept once, in the order
/// first seen, except `ro`, `bind` and `rbind`, which are decided last: `ro`
/// only if both had it; if the first had `bind` or `rbind`, then `rbind` if
/// either had `rbind`, else `bind`. Merging pairwise in entry order gives
/// the same result as merging all entries at once.
pub fn merge_options(first: &[String], second: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(first.len() + second.len());
    for o in first.iter().chain(second) {
        if matches!(o.as_str(), "rw" | "async" | "ro" | "bind" | "rbind") {
            continue;
        }
        if !out.contains(o) {
            out.push(o.clone());
        }
    }
    let has = |opts: &[String], o: &str| opts.iter().any(|x| x == o);
    if has(first, "ro") && has(second, "ro") {
        out.push("ro".to_owned());
    }
    if has(first, "bind") || has(first, "rbind") {
        if has(first, "rbind") || has(second, "rbind") {
            out.push("rbind".to_owned());
        } else {
            out.push("bind".to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(line: &str) -> MountEntry {
        MountEntry::parse(line).unwrap()
    }

    fn lines(entries: &[MountEntry]) -> Vec<String> {
        entries.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn overname_only_for_instances() {
        assert!(overname_entries("foo").is_empty());
        assert_eq!(
            lines(&overname_entries("foo_bar")),
            [
                "/snap/foo_bar /snap/foo none rbind,x-snapd.origin=overname 0 0",
                "/var/snap/foo_bar /var/snap/foo none rbind,x-snapd.origin=overname 0 0",
            ]
        );
    }

    #[test]
    fn order_is_overname_layout_general() {
        let got = mount_entries(
            &[e("o /o none rbind,x-snapd.origin=overname")],
            &[e("l /l none rbind,x-snapd.origin=layout")],
            &[e("g /g none bind")],
        );
        let dirs: Vec<&str> = got.iter().map(|e| e.dir.as_str()).collect();
        assert_eq!(dirs, ["/o", "/l", "/g"]);
    }

    #[test]
    fn clashes_are_renamed_per_mount_point() {
        let got = mount_entries(
            &[],
            &[e("tmpfs /a tmpfs x-snapd.origin=layout")],
            &[
                e("tmpfs /a tmpfs defaults"),
                e("x /b none bind"),
                e("y /a none bind"),
                e("y /b none bind"),
            ],
        );
        assert_eq!(
            lines(&got),
            [
                "tmpfs /a tmpfs x-snapd.origin=layout 0 0",
                "tmpfs /a-2 tmpfs defaults 0 0",
                "x /b none bind 0 0",
                "y /a-3 none bind 0 0",
                "y /b-2 none bind 0 0",
            ]
        );
    }

    #[test]
    fn identical_interface_entries_are_merged() {
        // Two interfaces binding /boot ro and rw merge into one rw mount.
        let got = mount_entries(
            &[],
            &[],
            &[e("/boot /boot none bind,ro"), e("/boot /boot none bind,rw")],
        );
        assert_eq!(lines(&got), ["/boot /boot none bind 0 0"]);
        let got = mount_entries(
            &[],
            &[],
            &[
                e("/s /d none bind,ro,nodev"),
                e("/s /d none rbind,ro,async"),
                e("/s /d none ro,nosuid"),
            ],
        );
        assert_eq!(lines(&got), ["/s /d none nodev,nosuid,ro,rbind 0 0"]);
    }

    #[test]
    fn ensure_dir_entries_go_last_untouched() {
        let ensure = e("none /a none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=/ 0 0");
        let got = user_mount_entries(&[ensure.clone(), e("x /a none bind"), ensure.clone()]);
        assert_eq!(got, [e("x /a none bind"), ensure.clone(), ensure]);
    }

    #[test]
    fn merge_rules() {
        let v = |s: &str| -> Vec<String> { s.split(',').map(str::to_owned).collect() };
        assert_eq!(merge_options(&v("noatime,ro"), &v("ro")), v("noatime,ro"));
        assert_eq!(merge_options(&v("bind,rw"), &v("rbind,ro")), v("rbind"));
        assert_eq!(
            merge_options(&v("bind,noatime"), &v("bind,noexec")),
            v("noatime,noexec,bind")
        );
        assert_eq!(merge_options(&v("noatime"), &v("rbind")), v("noatime"));
    }

    fn arb_entry() -> impl Strategy<Value = MountEntry> {
        (
            "[ab]",
            "/[xyz]",
            "(none|tmpfs)",
            proptest::collection::vec(
                "(rw|ro|bind|rbind|async|noexec|nodev|x-snapd.origin=layout|x-snapd.kind=ensure-dir)",
                0..4,
            ),
        )
            .prop_map(|(name, dir, fs_type, options)| MountEntry {
                name,
                dir,
                fs_type,
                options,
                ..MountEntry::default()
            })
    }

    proptest! {
        #[test]
        fn unclashed_mount_points_are_unique(entries in proptest::collection::vec(arb_entry(), 0..12)) {
            let got = unclash(entries.clone());
            let mut dirs: Vec<&str> = got
                .iter()
                .filter(|e| e.kind_str() != "ensure-dir")
                .map(|e| e.dir.as_str())
                .collect();
            let n = dirs.len();
            dirs.sort_unstable();
            dirs.dedup();
            prop_assert_eq!(dirs.len(), n);
            prop_assert!(got.len() <= entries.len());
            // Unclashing again changes nothing.
            prop_assert_eq!(unclash(got.clone()), got);
        }
    }
}
