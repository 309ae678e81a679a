//! Differential tests against Debian's snapd snap-update-ns (issue 4).
//!
//! The same world and the same preserved namespace set-up (a copy of the
//! world's namespace with `/` read-only, as a base is) are used once per
//! implementation; both apply the same profiles: first layouts that need
//! writable mimics (a directory under /usr/share, a file under /usr/lib, a
//! tmpfs and a symlink under read-only directories, a content-style bind
//! into $SNAP), then an update to another profile (entries removed, added
//! and changed; the mimic of /usr/share no longer needed and torn down, a
//! new one of /var/lib). After each step the normalised mount tables (mount
//! point, parent, fs type, source, root, ro/rw, propagation kind) and the
//! saved current profiles must be equal, up to the tolerated differences
//! listed in [`TOLERATED`].
//!
//! Cross-takeover: a namespace built by one implementation is updated by the
//! other (both ways) and must end exactly as if one implementation had done
//! both steps.
//!
//! Where snapd's snap-update-ns is not installed the tests fail loudly
//! (`apt-get install snapd`; .ci/run installs it).

use std::path::Path;
use std::process::{Command, Output};

use snapcell_test_support::preserve::{
    in_namespace, normalised_mount_table, preserve_namespace, write_file,
};
use snapcell_test_support::{Tree, run_in_world, scratch_dir};

const OURS: &str = env!("CARGO_BIN_EXE_snap-update-ns");
const SNAPD: &str = "/usr/lib/snapd/snap-update-ns";

/// Differences between the two implementations that are accepted, by name.
/// The comparison below removes exactly these and nothing else: mount
/// tables are compared as sorted lists (mount ids and device numbers left
/// out), saved profiles line by line in order.
const TOLERATED: &[(&str, &str)] = &[(
    "snapd-safe-keeping-dirs",
    "snapd's writable mimic binds the original directory to /tmp/.snap/DIR and \
         leaves the (then empty) directories /tmp/.snap/... behind; snapcell keeps the \
         original as a detached tree that no path reaches. /tmp/.snap is ignored.",
)];

fn require_snapd() {
    assert!(
        Path::new(SNAPD).exists(),
        "REFERENCE MISSING: {SNAPD} is not installed (apt-get install snapd); the differential tests cannot run"
    );
}

fn run(bin: &str) -> Output {
    let mut cmd = Command::new(bin);
    cmd.arg("app").env_clear();
    if std::env::var_os("SNAPD_DEBUG").is_some() {
        cmd.env("SNAPD_DEBUG", "1");
    }
    cmd.output().expect("run snap-update-ns")
}

fn ok(who: &str, o: &Output) {
    assert!(
        o.status.success(),
        "{who} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// What the snap sees in the places the profiles touch.
/// The namespace's normalised mount table; mounts below /tmp/.snap left out
/// (tolerated: snapd-safe-keeping-dirs).
fn mount_table() -> Vec<String> {
    normalised_mount_table("app")
        .into_iter()
        .filter(|l| !(l.starts_with("/tmp/.snap ") || l.starts_with("/tmp/.snap/")))
        .collect()
}

fn view() -> String {
    in_namespace(
        "app",
        "for p in /usr/share/app-share /usr/lib/libapp.so /opt/app-tmp /srv/app-link /snap/app/x1/content /var/lib/app-data; do \
           if [ -L $p ]; then echo \"$p -> $(readlink $p)\"; \
           elif [ -d $p ]; then echo \"$p: $(ls -A $p | tr '\\n' ' ')\"; \
           elif [ -f $p ]; then echo \"$p = $(cat $p)\"; else echo \"$p absent\"; fi; done; \
         ls -A /usr/share | wc -l; ls -A /usr/lib | wc -l; ls -A /var/lib | wc -l; ls -A /snap/app/x1 | tr '\\n' ' '",
    )
}

fn saved() -> String {
    std::fs::read_to_string("/run/snapd/ns/snap.app.fstab").unwrap_or_default()
}

/// First profile: layouts needing mimics of /usr/share, /usr/lib, /opt,
/// /srv and (for the content bind) $SNAP.
const P1: &str = "\
/var/snap/app/common/content /snap/app/x1/content none bind,ro 0 0
/snap/app/x1/share /usr/share/app-share none rbind,rw,x-snapd.origin=layout 0 0
/snap/app/x1/lib/libapp.so /usr/lib/libapp.so none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0
tmpfs /opt/app-tmp tmpfs x-snapd.origin=layout,mode=0755 0 0
none /srv/app-link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/x1/share,x-snapd.origin=layout 0 0
";

/// The update: the /usr/share layout removed (its mimic torn down), the
/// file layout kept, the tmpfs changed, the symlink retargeted, a new
/// layout needing a mimic of /var/lib, the content bind kept.
const P2: &str = "\
/var/snap/app/common/content /snap/app/x1/content none bind,ro 0 0
/snap/app/x1/lib/libapp.so /usr/lib/libapp.so none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0
tmpfs /opt/app-tmp tmpfs x-snapd.origin=layout,mode=0700 0 0
none /srv/app-link none x-snapd.kind=symlink,x-snapd.symlink=/snap/app/x1/lib,x-snapd.origin=layout 0 0
/var/snap/app/x1/data /var/lib/app-data none rbind,rw,x-snapd.origin=layout 0 0
";

/// The state after each step.
#[derive(Debug, PartialEq, Eq)]
struct State {
    mounts: Vec<String>,
    view: String,
    profile: String,
}

fn state() -> State {
    State {
        mounts: mount_table(),
        view: view(),
        profile: saved(),
    }
}

/// Run the two steps in a fresh namespace, `first` applying P1 and `second` P2.
fn two_steps(first: &str, second: &str) -> (State, State) {
    let _ = std::fs::remove_file("/run/snapd/ns/snap.app.fstab");
    let mut holder = preserve_namespace("app", "mount -o remount,bind,ro /");
    write_file("/var/lib/snapd/mount/snap.app.fstab", P1);
    ok(first, &run(first));
    let s1 = state();
    write_file("/var/lib/snapd/mount/snap.app.fstab", P2);
    ok(second, &run(second));
    let s2 = state();
    holder.kill().unwrap();
    holder.wait().unwrap();
    let st = Command::new("umount")
        .args(["-l", "/run/snapd/ns/app.mnt"])
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::remove_file("/run/snapd/ns/app.mnt").unwrap();
    let _ = std::fs::remove_dir_all("/tmp/.snap");
    (s1, s2)
}

fn diff(what: &str, a_name: &str, a: &State, b_name: &str, b: &State) -> Vec<String> {
    let mut out = Vec::new();
    if a.mounts != b.mounts {
        let only_a: Vec<_> = a.mounts.iter().filter(|l| !b.mounts.contains(l)).collect();
        let only_b: Vec<_> = b.mounts.iter().filter(|l| !a.mounts.contains(l)).collect();
        out.push(format!("{what}: mount tables differ\n  only {a_name}: {only_a:#?}\n  only {b_name}: {only_b:#?}"));
    }
    if a.view != b.view {
        out.push(format!(
            "{what}: the snap's view differs\n{a_name}:\n{}\n{b_name}:\n{}",
            a.view, b.view
        ));
    }
    if a.profile != b.profile {
        out.push(format!(
            "{what}: saved profiles differ\n{a_name}:\n{}\n{b_name}:\n{}",
            a.profile, b.profile
        ));
    }
    out
}

fn snap_tree(dir: &Path) {
    Tree::new()
        .file("meta/snap.yaml", "name: app\nversion: 1\n", 0o644)
        .file("share/app/readme", "share\n", 0o644)
        .file("lib/libapp.so", "libapp\n", 0o644)
        .file("bin/app", "#!/bin/sh\n", 0o755)
        .write_to(dir)
        .unwrap();
}

fn prepare_world(w: &mut snapcell_test_support::World, tree: &Path) {
    w.mount_snap("app", "x1", tree).unwrap();
    std::fs::create_dir_all("/var/snap/app/common/content").unwrap();
    std::fs::write("/var/snap/app/common/content/c", "content\n").unwrap();
    std::fs::create_dir_all("/var/snap/app/x1/data").unwrap();
    std::fs::write("/var/snap/app/x1/data/d", "data\n").unwrap();
}

#[test]
fn same_profiles_same_namespaces_as_snapd() {
    require_snapd();
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("app");
    snap_tree(&tree);
    for (name, why) in TOLERATED {
        eprintln!("tolerated difference {name}: {why}");
    }
    run_in_world(|w| {
        prepare_world(w, &tree);
        let (ref1, ref2) = two_steps(SNAPD, SNAPD);
        let (our1, our2) = two_steps(OURS, OURS);
        // The scenario does what it says.
        assert!(
            ref1.mounts
                .iter()
                .any(|l| l.starts_with("/usr/share on=") && l.contains(" tmpfs ")),
            "{ref1:#?}"
        );
        assert!(
            !ref2.mounts.iter().any(|l| l.starts_with("/usr/share ")),
            "{ref2:#?}"
        );
        assert!(
            ref2.mounts
                .iter()
                .any(|l| l.starts_with("/var/lib on=") && l.contains(" tmpfs ")),
            "{ref2:#?}"
        );
        let mut bad = diff("after the first profile", "snapd", &ref1, "snapcell", &our1);
        bad.extend(diff("after the update", "snapd", &ref2, "snapcell", &our2));
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    });
}

#[test]
fn each_takes_over_a_namespace_the_other_built() {
    require_snapd();
    let scratch = scratch_dir().unwrap();
    let tree = scratch.path().join("app");
    snap_tree(&tree);
    run_in_world(|w| {
        prepare_world(w, &tree);
        let (_, ref2) = two_steps(SNAPD, SNAPD);
        let (_, our2) = two_steps(OURS, OURS);
        let (ours_then_snapd1, ours_then_snapd2) = two_steps(OURS, SNAPD);
        let (snapd_then_ours1, snapd_then_ours2) = two_steps(SNAPD, OURS);
        assert!(ours_then_snapd1.profile.contains("/usr/share/app-share"));
        assert!(snapd_then_ours1.profile.contains("/usr/share/app-share"));
        let mut bad = diff(
            "snapcell built, snapd updated",
            "snapd alone",
            &ref2,
            "takeover",
            &ours_then_snapd2,
        );
        bad.extend(diff(
            "snapd built, snapcell updated",
            "snapcell alone",
            &our2,
            "takeover",
            &snapd_then_ours2,
        ));
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    });
}
