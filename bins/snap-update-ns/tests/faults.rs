//! Fault injection on the real binary (issue 4): for a multi-step update
//! (layouts kept, removed, changed and added; mimics kept, torn down and
//! made; a symlink, a tmpfs and a file bind), make the k-th mutating system
//! call fail with EIO, for every k, each in a fresh namespace. After each
//! failed run the namespace's mount table, the files touched and the saved
//! current profile must be exactly as before the run.
//!
//! The fault point exists only in builds with the `fault-injection` feature
//! (snapcell-exec's `FaultySystem`, reading `SNAPCELL_FAULT_AT`). When this
//! test is not itself built with the feature, it builds such a binary with
//! cargo into `target/fault-injection` first, so that the binary the other
//! tests use never has it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use snapcell_test_support::preserve::{
    in_namespace, normalised_mount_table, preserve_namespace, write_file,
};
use snapcell_test_support::{Tree, run_in_world, scratch_dir};

/// A snap-update-ns that honours `SNAPCELL_FAULT_AT`.
fn faulty_binary() -> PathBuf {
    if cfg!(feature = "fault-injection") {
        return PathBuf::from(env!("CARGO_BIN_EXE_snap-update-ns"));
    }
    snapcell_test_support::feature_build::build_with_fault_injection(
        env!("CARGO_MANIFEST_DIR"),
        env!("CARGO"),
        "snap-update-ns",
    )
}

fn run(bin: &Path, fault_at: Option<u64>) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("app").env_clear();
    if let Some(k) = fault_at {
        cmd.env("SNAPCELL_FAULT_AT", k.to_string());
    }
    cmd.output().expect("run snap-update-ns")
}

/// `(calls, failed)` from the wrapper's report line.
fn report(o: &Output) -> (u64, Option<u64>) {
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("snapcell-fault-injection: "))
        .unwrap_or_else(|| panic!("no fault-injection report (is the feature on?): {err}"));
    let mut calls = None;
    let mut failed = None;
    for part in line.split_whitespace() {
        if let Some(n) = part.strip_prefix("calls=") {
            calls = n.parse().ok();
        } else if let Some(k) = part.strip_prefix("failed=") {
            failed = k.parse().ok();
        }
    }
    (calls.expect("calls="), failed)
}

/// End the process holding the namespace and drop the preserved copy (in
/// the world's namespace).
fn discard(mut holder: std::process::Child) {
    holder.kill().unwrap();
    holder.wait().unwrap();
    let st = Command::new("umount")
        .args(["-l", "/run/snapd/ns/app.mnt"])
        .status()
        .unwrap();
    assert!(st.success(), "cannot unmount the namespace file");
    std::fs::remove_file("/run/snapd/ns/app.mnt").unwrap();
}

/// What else an update may touch: the directories it creates mount points in.
fn files(instance: &str) -> String {
    in_namespace(
        instance,
        "for d in /usr/local/share /opt /srv /media /var/snap/app/common /snap/app/x1; do \
         echo \"$d:\"; ls -lnA --time-style=+ $d 2>&1 | grep -v '^total'; done",
    )
}

const CURRENT: &str = "\
/snap/app/x1/data /usr/local/share/app-data none rbind,rw,x-snapd.origin=layout 0 0
/snap/app/x1/lib /opt/app-lib none rbind,rw,x-snapd.origin=layout 0 0
/var/snap/app/common/conf /snap/app/x1/conf none rbind,rw,x-snapd.origin=layout 0 0
";

/// The first layout kept, the second removed (its mimic of /opt torn
/// down), the third changed (now read-only), and new ones: a symlink and a
/// tmpfs needing new mimics (/media, /srv), a file bind in the kept mimic of
/// /usr/local/share.
const DESIRED: &str = "\
/snap/app/x1/data /usr/local/share/app-data none rbind,rw,x-snapd.origin=layout 0 0
/var/snap/app/common/conf /snap/app/x1/conf none rbind,ro,x-snapd.origin=layout 0 0
none /media/app.conf none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/x1/conf/app.conf,x-snapd.origin=layout 0 0
tmpfs /srv/app-cache tmpfs x-snapd.origin=layout,mode=0700 0 0
/snap/app/x1/bin/tool /usr/local/share/app-tool none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0
";

#[test]
fn every_failed_mutating_call_leaves_the_namespace_and_the_profile_as_they_were() {
    let bin = faulty_binary();
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("app");
    Tree::new()
        .file("meta/snap.yaml", "name: app\nversion: 1\n", 0o644)
        .file("data/hello", "hello\n", 0o644)
        .file("lib/libapp.so", "lib\n", 0o644)
        .file("bin/tool", "#!/bin/sh\n", 0o755)
        .write_to(&tree)
        .unwrap();
    run_in_world(|w| {
        w.mount_snap("app", "x1", &tree).unwrap();
        std::fs::create_dir_all("/var/snap/app/common/conf").unwrap();
        std::fs::write("/var/snap/app/common/conf/app.conf", "conf\n").unwrap();
        let mut k = 1u64;
        let mut failures = Vec::new();
        let mut tolerated = Vec::new();
        loop {
            // A fresh namespace with the current profile applied (no fault).
            let _ = std::fs::remove_file("/run/snapd/ns/snap.app.fstab");
            let holder = preserve_namespace("app", "mount -o remount,bind,ro /");
            write_file("/var/lib/snapd/mount/snap.app.fstab", CURRENT);
            let o = run(&bin, None);
            assert!(
                o.status.success(),
                "applying the current profile: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let before = (
                normalised_mount_table("app"),
                files("app"),
                std::fs::read_to_string("/run/snapd/ns/snap.app.fstab").unwrap(),
            );

            write_file("/var/lib/snapd/mount/snap.app.fstab", DESIRED);
            let o = run(&bin, Some(k));
            let (calls, failed) = report(&o);
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let after = (
                normalised_mount_table("app"),
                files("app"),
                std::fs::read_to_string("/run/snapd/ns/snap.app.fstab").unwrap(),
            );
            discard(holder);
            if failed.is_none() {
                // k went past the last call: the plain run, which must succeed.
                assert!(
                    o.status.success(),
                    "the update without a fault failed: {stderr}"
                );
                assert!(calls >= 10, "suspiciously few mutating calls: {calls}");
                assert!(
                    after.2.contains("/srv/app-cache") && !after.2.contains("/opt"),
                    "{}",
                    after.2
                );
                eprintln!(
                    "{} mutating calls; each failed in turn: {} rolled back, {} tolerated ({tolerated:?})",
                    calls,
                    k - 1 - tolerated.len() as u64,
                    tolerated.len()
                );
                break;
            }
            if o.status.success() {
                // A failure the update may survive (cleaning up a mount
                // point): the result must then be the full desired state.
                assert!(
                    after.2.contains("/srv/app-cache") && after.2.contains("/media/app.conf"),
                    "k={k}: {}",
                    after.2
                );
                tolerated.push(k);
            } else {
                if !stderr.contains("input/output error") {
                    failures.push(format!(
                        "k={k}: the error does not name the fault: {stderr}"
                    ));
                }
                if stderr.contains("cannot roll back") {
                    failures.push(format!("k={k}: rollback failed: {stderr}"));
                }
                if after.0 != before.0 {
                    let gone: Vec<_> = before.0.iter().filter(|l| !after.0.contains(l)).collect();
                    let new: Vec<_> = after.0.iter().filter(|l| !before.0.contains(l)).collect();
                    failures.push(format!(
                        "k={k}: mount table differs: gone {gone:#?} new {new:#?} ({stderr})"
                    ));
                }
                if after.1 != before.1 {
                    failures.push(format!(
                        "k={k}: files differ:\n{}\nvs\n{}",
                        before.1, after.1
                    ));
                }
                if after.2 != before.2 {
                    failures.push(format!("k={k}: saved profile changed:\n{}", after.2));
                }
            }
            k += 1;
            assert!(k < 2000, "no end to the mutating calls");
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    });
}
