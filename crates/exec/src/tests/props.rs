//! Properties over random small layout profiles on the fixed world.

use proptest::prelude::*;
use snapcell_core::entry::MountEntry;

use super::*;

/// Targets of valid layouts (none below another, none in off-limits
/// areas): in the read-only base (some needing a mimic inside another
/// mimic), in the host's /etc, and in two levels of read-only /rofs.
const TARGETS: &[&str] = &[
    "/usr/share/p1",
    "/usr/share/p2/deep",
    "/usr/share/fonts/p3",
    "/etc/p4",
    "/var/lib/p5",
    "/rofs/p6",
    "/rofs/dir/p7",
    "/usr/lib/p8",
];

const SOURCES: &[&str] = &["/snap/app/1/data", "/snap/app/1/lib", "/snap/app/1/share"];

fn layout(target: &str, variant: usize, source: &str) -> MountEntry {
    let line = match variant {
        0 => format!("{source} {target} none rbind,rw,x-snapd.origin=layout 0 0"),
        1 => format!("{source} {target} none bind,ro,x-snapd.origin=layout 0 0"),
        2 => format!("tmpfs {target} tmpfs x-snapd.origin=layout 0 0"),
        3 => format!(
            "none {target} none x-snapd.kind=symlink,x-snapd.symlink={source},x-snapd.origin=layout 0 0"
        ),
        _ => format!(
            "/snap/app/1/bin/tool {target} none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0"
        ),
    };
    entry(&line)
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    prop::collection::vec(
        (
            prop::sample::select(TARGETS),
            0..5usize,
            prop::sample::select(SOURCES),
        ),
        0..5,
    )
    .prop_map(|items| {
        let mut seen = std::collections::HashSet::new();
        let entries = items
            .into_iter()
            .filter(|(t, _, _)| seen.insert(*t))
            .map(|(t, v, s)| layout(t, v, s))
            .collect();
        Profile { entries }
    })
}

/// The visible mounts that are not parts of writable mimics (their tmpfs,
/// and the binds of the original's entries, whose source is their target),
/// as a sorted list. Where a mimic was built over earlier mounts, those are
/// hidden and their copies (carried over by the mimic) are the visible ones.
fn mounts_modulo_mimics(fs: &FakeSystem, p: &Profile) -> Vec<String> {
    let mimic_dirs: Vec<&str> = p
        .entries
        .iter()
        .filter(|e| e.is_synthetic() && e.fs_type == "tmpfs")
        .map(|e| e.dir.as_str())
        .collect();
    let mut out: Vec<String> = fs
        .mounts()
        .into_iter()
        .filter(|m| m.visible && m.source != m.target)
        .filter(|m| !(m.fs_type == "tmpfs" && mimic_dirs.contains(&m.target.as_str())))
        .map(|m| format!("{} {} {} ro={}", m.target, m.fs_type, m.source, m.read_only))
        .collect();
    out.sort();
    out
}

/// snapd never removes the directories it made on the way to a mount point,
/// so after an update an entry can find a leftover directory in its way
/// where applying from scratch would not.
fn leftover_in_the_way(e: &crate::UpdateError) -> bool {
    let m = e.error.to_string();
    m.ends_with("existing file in the way")
        || m.ends_with("not a regular file")
        || m.ends_with("not a directory")
}

/// `tree` without the empty directories that `other` does not have: the
/// mount points' parents that snapd leaves behind.
fn without_leftovers(mut tree: Vec<String>, other: &[String]) -> Vec<String> {
    let path = |l: &str| l.split(' ').next().unwrap_or_default().to_owned();
    let known: std::collections::HashSet<String> = other.iter().map(|l| path(l)).collect();
    loop {
        let paths: Vec<String> = tree.iter().map(|l| path(l)).collect();
        let leftover = tree.iter().position(|l| {
            let p = path(l);
            l.split(' ').nth(1) == Some("dir")
                && !known.contains(&p)
                && !paths.iter().any(|q| q.starts_with(&format!("{p}/")))
        });
        match leftover {
            Some(i) => {
                tree.remove(i);
            }
            None => return tree,
        }
    }
}

fn non_synthetic(p: &Profile) -> Vec<String> {
    let mut v: Vec<String> = p
        .entries
        .iter()
        .filter(|e| !e.is_synthetic())
        .map(ToString::to_string)
        .collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn updating_ends_where_applying_from_scratch_ends(p1 in arb_profile(), p2 in arb_profile()) {
        let mut a = world();
        let s0 = a.state();
        let first = match apply(&mut a, &Profile::default(), &p1, ctx()) {
            Ok(o) => o,
            Err(_) => {
                prop_assert_eq!(a.state(), s0);
                return Ok(());
            }
        };
        let s1 = a.state();
        let second = apply(&mut a, &first.profile, &p2, ctx());
        let mut b = world();
        let scratch = apply(&mut b, &Profile::default(), &p2, ctx());
        match (second, scratch) {
            (Ok(o2), Ok(o3)) => {
                prop_assert_eq!(non_synthetic(&o2.profile), non_synthetic(&o3.profile));
                prop_assert_eq!(mounts_modulo_mimics(&a, &o2.profile), mounts_modulo_mimics(&b, &o3.profile));
                prop_assert_eq!(without_leftovers(a.tree(), &b.tree()), b.tree());
                prop_assert_eq!(a.asides_held(), 0);
            }
            (Err(e), Ok(_)) => {
                prop_assert!(e.rolled_back(), "{}", e);
                prop_assert_eq!(a.state(), s1.clone());
                prop_assert!(leftover_in_the_way(&e), "the update failed but applying from scratch worked: {}", e);
            }
            (Err(e), Err(_)) => {
                prop_assert!(e.rolled_back(), "{}", e);
                prop_assert_eq!(a.state(), s1);
            }
            (Ok(o2), Err(e)) => {
                prop_assert!(false, "applying from scratch failed but the update worked: {}\n{:#?}", e, lines(&o2.profile));
            }
        }
    }

    #[test]
    fn a_failed_update_leaves_no_trace(p1 in arb_profile(), p2 in arb_profile(), k in 0..1000usize) {
        let mut a = world();
        let Ok(first) = apply(&mut a, &Profile::default(), &p1, ctx()) else {
            return Ok(());
        };
        // Count the mutations of the update without faults.
        let mut probe = a.clone();
        let start = probe.mutation_count();
        if apply(&mut probe, &first.profile, &p2, ctx()).is_err() {
            return Ok(());
        }
        let n = probe.mutation_count() - start;
        if n == 0 {
            return Ok(());
        }
        let before = a.state();
        a.fail_nth_mutation(1 + k % n, snapcell_sys::system::Errno::IO);
        match apply(&mut a, &first.profile, &p2, ctx()) {
            Ok(o) => {
                // Only entries of no layout may fail quietly; here all are layouts.
                prop_assert!(false, "a failed mutation went unnoticed: {:?}", o.warnings);
            }
            Err(e) => {
                prop_assert!(e.rolled_back(), "{}", e);
                prop_assert_eq!(a.state(), before);
                prop_assert_eq!(a.asides_held(), 0);
            }
        }
    }
}
