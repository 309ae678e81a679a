//! Process tracking on the kernel, both versions, in throwaway cgroups
//! (removed by a guard, also on failure) inside a world: v1 on the host's
//! hybrid layout (the freezer group `snap.NAME` of a unique name), v2 in
//! the world's view of the unified hierarchy (a scope `snap.NAME.app-UUID.scope`
//! under a test parent). A sleeping process of the snap makes it in use;
//! freezing stops it until the thaw.

use std::fs;
use std::time::Duration;

use rustix::process::Pid;
use snapcell_sys::cgroup::tracking::{freeze_snap_processes, join_freezer_v1, snap_in_use};
use snapcell_test_support::cgroup::{
    CgroupGuard, V2Scope, joined_child, reap, show_cgroup_v1, unique_snap_name, v1_freezer,
};
use snapcell_test_support::run_in_world;

/// A child that joins its group with `join`, then sleeps.
fn sleeper(join: impl FnOnce()) -> Pid {
    joined_child(join, || std::thread::sleep(Duration::from_secs(1)))
}

/// The scheduler state letter of `pid` (`S`, `R`, `D`, ...).
fn state(pid: Pid) -> String {
    let status = fs::read_to_string(format!("/proc/{}/status", pid.as_raw_nonzero())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .unwrap()
        .trim()
        .to_owned()
}

#[test]
fn v1_freezer_group_tracks_and_freezes() {
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let dir = v1_freezer(&name, &mut guard);
    run_in_world(|_world| {
        show_cgroup_v1();
        assert!(!snap_in_use(&name).unwrap());
        // Nothing to freeze: fine.
        freeze_snap_processes(&name).unwrap().thaw().unwrap();
        let n = name.clone();
        let pid = sleeper(move || join_freezer_v1(&n).unwrap());
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert_eq!(procs.trim(), pid.as_raw_nonzero().to_string());
        assert!(snap_in_use(&name).unwrap());

        let frozen = freeze_snap_processes(&name).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join("freezer.state"))
                .unwrap()
                .trim(),
            "FROZEN"
        );
        drop(frozen);
        assert_eq!(
            fs::read_to_string(dir.join("freezer.state"))
                .unwrap()
                .trim(),
            "THAWED"
        );
        reap(pid);
        assert!(!snap_in_use(&name).unwrap());
    });
    drop(guard);
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn v2_scopes_track_and_freeze() {
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let scope = V2Scope::new(&name, &mut guard);
    run_in_world(|_world| {
        let dir = scope.in_world();
        fs::create_dir_all(scope.parent_in_world()).unwrap();
        assert!(!snap_in_use(&name).unwrap());
        fs::create_dir(&dir).unwrap();
        // An empty scope of the snap counts (snapd's walk finds the name).
        assert!(snap_in_use(&name).unwrap());
        let procs = dir.join("cgroup.procs");
        let pid = sleeper(move || fs::write(&procs, "0\n").unwrap());

        let frozen = freeze_snap_processes(&name).unwrap();
        // Really frozen when it returns.
        let events = fs::read_to_string(dir.join("cgroup.events")).unwrap();
        assert!(events.lines().any(|l| l == "frozen 1"), "{events}");
        drop(frozen);
        let events = fs::read_to_string(dir.join("cgroup.events")).unwrap();
        assert!(events.lines().any(|l| l == "frozen 0"), "{events}");
        assert_ne!(state(pid), "T (stopped)");
        reap(pid);
    });
    drop(guard);
    let left = scope.host_parent();
    assert!(!left.exists(), "{} is left", left.display());
}
