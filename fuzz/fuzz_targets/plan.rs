//! The change planner (snapd's NeededChanges), driven with current and
//! desired profiles and a file system built from the fuzz bytes, checked
//! against a model that applies the plan to a list of mounts:
//!
//! * every current entry is kept or undone exactly once, in reverse log
//!   order, before any mount;
//! * an undone entry's dependants (entries mounted after it, at or below its
//!   directory) are undone, never kept, and undone before it (checked on
//!   profiles without overname entries: see below);
//! * nothing is mounted twice: no directory gets two mounts, and no mount
//!   lands on a directory whose entry is kept;
//! * applying the plan to the current profile yields the desired one.
//!
//! The profiles are shaped like the ones snap-update-ns meets: the current
//! profile is a log of what a previous plan applied (one entry per
//! directory), the desired one holds no synthetic or `rootfs` entries.
//! Entries of those two kinds in the current profile are kept by rule and so
//! are left out of the last comparison.
#![no_main]
use std::collections::{BTreeSet, HashSet};

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use snapcell_core::entry::MountEntry;
use snapcell_core::paths;
use snapcell_core::plan::{Action, MemFs, needed_changes, unchanged_update};
use snapcell_core::profile::Profile;

const DIRS: &[&str] = &[
    "/",
    "/a",
    "/a/",
    "/a/b",
    "/a/b/c",
    "/a//b/d",
    "/a/c",
    "/ab",
    "/b",
    "/b/a",
    "/b/../a/x",
    "/snap/s",
    "/snap/s/1",
    "/usr/share",
    "/usr/share/f",
];
const TYPES: &[&str] = &["tmpfs", "none", "squashfs", "ext4"];
const OPTS: &[&str] = &[
    "bind",
    "rbind",
    "ro",
    "rw",
    "x-snapd.origin=layout",
    "x-snapd.origin=overname",
    "x-snapd.kind=file",
    "x-snapd.kind=symlink",
    "x-snapd.kind=ensure-dir",
    "x-snapd.detach",
    "x-snapd.id=i1",
    "x-snapd.mode=0755",
];
/// Only in the current profile: what the executor itself logs.
const CURRENT_OPTS: &[&str] = &[
    "x-snapd.origin=rootfs",
    "x-snapd.synthetic",
    "x-snapd.needed-by=/a/b",
    "x-snapd.needed-by=i1",
];
const DETACH: &str = "x-snapd.detach";

fn entry(u: &mut Unstructured, current: bool) -> Result<MountEntry> {
    let mut options = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let o = if current && u.ratio(1, 4)? {
            u.choose(CURRENT_OPTS)?
        } else {
            u.choose(OPTS)?
        };
        options.push((*o).to_owned());
    }
    Ok(MountEntry {
        name: format!("src{}", u.int_in_range(0..=2)?),
        dir: (*u.choose(DIRS)?).to_owned(),
        fs_type: (*u.choose(TYPES)?).to_owned(),
        options,
        ..MountEntry::default()
    })
}

/// Up to 8 entries; with `unique`, one per (cleaned) directory.
fn profile(u: &mut Unstructured, current: bool, unique: bool) -> Result<Vec<MountEntry>> {
    let mut out: Vec<MountEntry> = Vec::new();
    let mut seen = HashSet::new();
    for _ in 0..u.int_in_range(0..=8)? {
        let e = entry(u, current)?;
        if !unique || seen.insert(paths::clean(&e.dir)) {
            out.push(e);
        }
    }
    Ok(out)
}

fn cleaned(e: &MountEntry) -> MountEntry {
    MountEntry {
        dir: paths::clean(&e.dir),
        ..e.clone()
    }
}

fn without_detach(e: &MountEntry) -> MountEntry {
    let mut e = e.clone();
    e.options.retain(|o| o != DETACH);
    e
}

/// `inner` is `outer` or below it.
fn at_or_below(inner: &str, outer: &str) -> bool {
    inner == outer
        || outer == "/"
        || inner
            .strip_prefix(outer)
            .is_some_and(|r| r.starts_with('/'))
}

fn kept_by_rule(e: &MountEntry) -> bool {
    e.is_synthetic() || e.option_value("x-snapd.origin") == Some("rootfs")
}

fn check(u: &mut Unstructured) -> Result<()> {
    // Shaped profiles most of the time, anything (repeated directories,
    // synthetic entries wanted) otherwise: then only the structural checks.
    let shaped = !u.ratio(1, 8)?;
    let current = profile(u, true, shaped)?;
    let desired = profile(u, !shaped, shaped)?;
    let pick = |u: &mut Unstructured| -> Result<Vec<&str>> {
        let mut v = Vec::new();
        for d in DIRS {
            if u.ratio(1, 3)? {
                v.push(*d);
            }
        }
        Ok(v)
    };
    let (d, f, s) = (pick(u)?, pick(u)?, pick(u)?);
    let fs = MemFs::new(d, f, s);

    let plan = needed_changes(&current, &desired, &fs);

    // snap-update-ns's no-op path reads the two profiles' text in place:
    // where it answers, every current entry is kept, nothing is mounted,
    // and it saves what the planner's keeps save.
    let (ct, dt) = (
        Profile::from(current.clone()).to_string(),
        Profile::from(desired.clone()).to_string(),
    );
    if let Some(u) = unchanged_update(&ct, &dt) {
        let c = Profile::parse(&ct)
            .expect("a profile we wrote parses")
            .entries;
        let d = Profile::parse(&dt)
            .expect("a profile we wrote parses")
            .entries;
        let got = needed_changes(&c, &d, &fs);
        assert!(
            got.iter().all(|ch| ch.action == Action::Keep),
            "{ct}\n--\n{dt}\n{got:?}"
        );
        assert_eq!(got.len(), c.len());
        assert_eq!(u.kept, c.len());
        let saved = Profile::from(got.into_iter().map(|ch| ch.entry).collect::<Vec<_>>());
        assert_eq!(u.text, saved.to_string());
    }

    // Every current entry is kept or undone once, in reverse log order,
    // before any mount.
    assert!(plan.len() >= current.len());
    let (undo, mounts) = plan.split_at(current.len());
    for (ch, orig) in undo.iter().zip(current.iter().rev()) {
        match ch.action {
            Action::Keep => assert_eq!(ch.entry, cleaned(orig)),
            Action::Unmount => {
                assert_eq!(without_detach(&ch.entry), without_detach(&cleaned(orig)))
            }
            Action::Mount => panic!("a mount among the current entries: {ch}"),
        }
    }
    assert!(mounts.iter().all(|ch| ch.action == Action::Mount));

    // Nothing is mounted twice.
    let mut mounted = BTreeSet::new();
    for ch in mounts {
        assert!(
            mounted.insert(ch.entry.dir.as_str()),
            "{} is mounted twice",
            ch.entry.dir
        );
    }
    if !shaped {
        return Ok(());
    }

    // The model: the list of mounts, in log order, with the plan applied.
    let log: Vec<MountEntry> = current.iter().map(cleaned).collect();
    let n = log.len();
    // Not with overname entries: snapd's reuse pass sorts them first, so a
    // changed entry's descendants are not contiguous with it and those of
    // the other group are reused (pinned by the planner's tests
    // `overname_entries_below_a_changed_entry_are_kept_as_snapd_does` and
    // `entries_below_a_changed_overname_entry_are_kept_as_snapd_does`).
    let overname = log
        .iter()
        .any(|e| e.option_value("x-snapd.origin") == Some("overname"));
    for (k, ch) in undo.iter().enumerate() {
        let i = n - 1 - k; // index in the log
        if ch.action != Action::Unmount || overname {
            continue;
        }
        // An undone entry's dependants are undone before it (and so not kept).
        for (j, later) in log.iter().enumerate().skip(i + 1) {
            if at_or_below(&later.dir, &log[i].dir) {
                let their = &undo[n - 1 - j];
                assert_eq!(
                    their.action,
                    Action::Unmount,
                    "{} is undone but {} mounted after it below it is kept",
                    log[i],
                    later
                );
            }
        }
    }
    let mut table: Vec<MountEntry> = undo
        .iter()
        .rev()
        .filter(|ch| ch.action == Action::Keep)
        .map(|ch| ch.entry.clone())
        .collect();
    // Entries kept by rule (a mimic, the root file system) may be mounted
    // over; the others are desired entries, unique per directory.
    let kept_dirs: HashSet<String> = table
        .iter()
        .filter(|e| !kept_by_rule(e))
        .map(|e| e.dir.clone())
        .collect();
    for ch in mounts {
        assert!(
            !kept_dirs.contains(&ch.entry.dir),
            "{} is mounted over a kept entry",
            ch.entry
        );
        table.push(ch.entry.clone());
    }

    // Applying the plan yields the desired profile (as a set of entries),
    // apart from what is kept by rule. Reuse is keyed by directory and
    // type, so a desired entry of the same directory and type as an entry
    // kept by rule counts as in place already (snapd's rule).
    let by_rule: HashSet<(String, String)> = table
        .iter()
        .filter(|e| kept_by_rule(e))
        .map(|e| (e.dir.clone(), e.fs_type.clone()))
        .collect();
    let got: BTreeSet<String> = table
        .iter()
        .filter(|e| !kept_by_rule(e))
        .map(|e| e.to_string())
        .collect();
    let want: BTreeSet<String> = desired
        .iter()
        .map(cleaned)
        .filter(|e| !by_rule.contains(&(e.dir.clone(), e.fs_type.clone())))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        got, want,
        "the plan does not yield the desired profile:\n{plan:#?}"
    );
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = check(&mut Unstructured::new(data));
});
