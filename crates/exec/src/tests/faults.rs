//! Fault injection: every mutating call of an update, failed in turn.
//!
//! For layouts, a failure aborts the update and rolls it back: the fake's
//! mount table and tree must be exactly as before the update (and the
//! caller keeps the old current profile, which is all `Err` allows). For
//! content entries, snapd's policy holds: a failure is a warning, the update
//! goes on and the new current profile omits the failed entry.

use snapcell_sys::system::Errno;

use super::*;

/// Three layouts, two of them needing mimics (/usr/share, read-only base;
/// /etc, the host's).
fn current_desired() -> Profile {
    profile(&[
        "/snap/app/1/data /usr/share/app-data none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/lib /etc/app-lib none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/conf /var/snap/app/common/conf none rbind,rw,x-snapd.origin=layout 0 0",
    ])
}

/// Five layouts: the first kept, the second (and its mimic of /etc)
/// removed, the third changed, and three new ones of which two need new
/// mimics (/rofs and /var/lib, read-only) and one goes into the kept mimic of
/// /usr/share.
fn next_desired() -> Profile {
    profile(&[
        "/snap/app/1/data /usr/share/app-data none rbind,rw,x-snapd.origin=layout 0 0",
        "/snap/app/1/conf /var/snap/app/common/conf none rbind,ro,x-snapd.origin=layout 0 0",
        "none /rofs/app.conf none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/1/conf/app.conf,x-snapd.origin=layout 0 0",
        "tmpfs /var/lib/app-cache tmpfs x-snapd.origin=layout 0 0",
        "/snap/app/1/bin/tool /usr/share/app-tool none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0",
    ])
}

/// The world with the current layouts applied, and its current profile.
fn setup() -> (FakeSystem, Profile) {
    let mut fs = world();
    let out = ok(&mut fs, &Profile::default(), &current_desired());
    fs.clear_log();
    (fs, out.profile)
}

#[test]
fn the_plan_under_test_has_the_intended_shape() {
    let (mut fs, current) = setup();
    let mimics = |p: &Profile| -> Vec<String> {
        p.entries
            .iter()
            .filter(|e| e.is_synthetic() && e.fs_type == "tmpfs")
            .map(|e| e.dir.clone())
            .collect()
    };
    assert_eq!(mimics(&current), vec!["/etc", "/usr/share"]);
    let out = ok(&mut fs, &current, &next_desired());
    assert_eq!(
        mimics(&out.profile),
        vec!["/usr/share", "/rofs", "/var/lib"]
    );
    let non_synthetic = out
        .profile
        .entries
        .iter()
        .filter(|e| !e.is_synthetic())
        .count();
    assert_eq!(non_synthetic, 5);
    assert!(out.warnings.is_empty());
    assert!(fs.mounts().iter().all(|m| !m.target.starts_with("/etc")));
    assert_eq!(
        fs.peek_link("/rofs/app.conf").as_deref(),
        Some("/snap/app/1/conf/app.conf")
    );
    assert!(
        fs.mounts()
            .iter()
            .any(|m| m.target == "/var/snap/app/common/conf" && m.read_only)
    );
}

#[test]
fn every_failed_mutation_of_a_layout_update_is_rolled_back() {
    let (mut fs, current) = setup();
    let start = fs.mutation_count();
    ok(&mut fs, &current, &next_desired());
    let n = fs.mutation_count() - start;
    assert!(n > 40, "the update makes {n} mutating calls");
    for k in 1..=n {
        for errno in [Errno::IO, Errno::PERM] {
            let (mut fs, current) = setup();
            let before = fs.state();
            fs.fail_nth_mutation(k, errno);
            let e = match apply(&mut fs, &current, &next_desired(), ctx()) {
                Err(e) => e,
                Ok(o) => panic!(
                    "mutation {k} of {n} failed but the update succeeded: {:#?}",
                    o.warnings
                ),
            };
            assert!(e.to_string().starts_with("cannot "), "{e}");
            assert!(e.rolled_back(), "mutation {k}: {e}\n{:#?}", fs.calls());
            assert_eq!(
                fs.state(),
                before,
                "mutation {k} of {n} ({e})\n{:#?}",
                fs.calls()
            );
            // And the namespace still works with the old current profile.
            fs.clear_faults();
            let again = ok(&mut fs, &current, &current_desired());
            assert!(
                again
                    .changes
                    .iter()
                    .all(|c| c.action == snapcell_core::plan::Action::Keep),
                "mutation {k}"
            );
        }
    }
}

#[test]
fn a_failed_content_entry_is_a_warning_and_left_out() {
    let desired = profile(&[
        "/snap/app/1/data /var/snap/app/common/a none rbind,rw 0 0",
        "/snap/app/1/lib /var/snap/app/common/b none rbind,rw 0 0",
        "/snap/app/1/share /var/snap/app/common/c none rbind,rw 0 0",
    ]);
    let mut probe = world();
    ok(&mut probe, &Profile::default(), &desired);
    let n = probe.mutation_count();
    for k in 1..=n {
        let mut fs = world();
        fs.fail_nth_mutation(k, Errno::IO);
        let out = ok(&mut fs, &Profile::default(), &desired);
        assert_eq!(out.warnings.len(), 1, "mutation {k}: {:?}", out.warnings);
        assert_eq!(out.profile.entries.len(), 2, "mutation {k}");
        // The failed entry is the one named in the warning, and not mounted.
        let failed = desired
            .entries
            .iter()
            .find(|e| !out.profile.entries.contains(e))
            .expect("one entry left out");
        assert!(
            out.warnings[0].contains(&failed.to_string()),
            "{}",
            out.warnings[0]
        );
        assert!(
            fs.mounts().iter().all(|m| m.target != failed.dir),
            "mutation {k}"
        );
        for e in &out.profile.entries {
            assert!(
                fs.mounts().iter().any(|m| m.target == e.dir),
                "{} is mounted",
                e.dir
            );
        }
    }
}

#[test]
fn a_failed_unmount_of_a_content_entry_drops_it_from_the_profile() {
    // snapd: the failed change is not "made", so the entry leaves the
    // profile even though it may still be mounted.
    let current_lines = ["/snap/app/1/data /var/snap/app/common/a none rbind,rw 0 0"];
    let mut fs = world();
    let current = ok(&mut fs, &Profile::default(), &profile(&current_lines)).profile;
    fs.fail_on(
        crate::fake::Op::Unmount,
        "/var/snap/app/common/a",
        Errno::BUSY,
    );
    let out = ok(&mut fs, &current, &Profile::default());
    assert!(out.profile.entries.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0]
            .ends_with("cannot unmount \"/var/snap/app/common/a\": device or resource busy")
    );
}
