//! snap-update-ns's system update freezes the snap's processes while it
//! changes their namespace and thaws them afterwards, also when the update
//! fails (snapd's `Lock`/`FreezeSnapProcesses`). The update procedure runs
//! with the system context snap-update-ns uses, wrapped so that it can look
//! at the snap's process in the middle of the update; in a world, on the
//! host's v1 layout (a throwaway freezer group) and on v2 (a throwaway
//! scope), each removed by a guard.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustix::process::Pid;
use snapcell_core::profile::Profile;
use snapcell_exec::{
    Assumptions, MountProfileUpdateContext, ProfileUpdateError, SystemProfileUpdateContext,
    execute_mount_profile_update,
};
use snapcell_sys::cgroup::tracking::{Frozen, join_freezer_v1};
use snapcell_sys::live::LiveSystem;
use snapcell_sys::snaplock::Lock;
use snapcell_sys::system::System;
use snapcell_test_support::cgroup::{
    CgroupGuard, V2Scope, frozen_line, joined_child, reap, show_cgroup_v1, unique_snap_name,
    v1_freezer,
};
use snapcell_test_support::preserve::preserve_namespace;
use snapcell_test_support::run_in_world;

/// snap-update-ns's context for `instance` (lock and freeze its own), the
/// rest stubbed: `probe` is called where the profiles are loaded, and the
/// current profile fails to load when `fail`.
struct Probe<'a> {
    inner: SystemProfileUpdateContext,
    probe: &'a mut dyn FnMut() -> String,
    seen: Vec<String>,
    fail: bool,
}

impl MountProfileUpdateContext for Probe<'_> {
    fn instance_name(&self) -> &str {
        self.inner.instance_name()
    }
    fn lock(&mut self) -> Result<Option<Lock>, String> {
        self.inner.lock()
    }
    fn freeze(&mut self) -> Result<Option<Frozen>, String> {
        self.inner.freeze()
    }
    fn enter_namespace(&mut self) -> Result<bool, String> {
        Ok(true)
    }
    fn assumptions(&mut self, _sys: &mut dyn System) -> Assumptions {
        Assumptions::for_system(self.inner.instance_name())
    }
    fn load_desired_profile(&mut self) -> Result<Profile, String> {
        let s = (self.probe)();
        self.seen.push(s);
        Ok(Profile::default())
    }
    fn load_current_profile(&mut self) -> Result<Profile, String> {
        if self.fail {
            return Err("cannot load the current profile (injected)".to_owned());
        }
        Ok(Profile::default())
    }
    fn save_current_profile(&mut self, _profile: &Profile) -> Result<(), String> {
        Ok(())
    }
}

/// Run one update of `instance`; what `probe` said during it.
fn update(instance: &str, fail: bool, probe: &mut dyn FnMut() -> String) -> (bool, Vec<String>) {
    let mut ctx = Probe {
        inner: SystemProfileUpdateContext::new(instance, false, true),
        probe,
        seen: Vec::new(),
        fail,
    };
    let result = execute_mount_profile_update(&mut ctx, LiveSystem::new);
    if fail {
        assert!(
            matches!(result, Err(ProfileUpdateError::Context(_))),
            "{result:?}"
        );
    } else {
        assert!(result.is_ok(), "{result:?}");
    }
    (result.is_ok(), ctx.seen)
}

/// A child that joins its group with `join`, then counts in `counter`.
fn counter(join: impl FnOnce(), counter: PathBuf) -> Pid {
    let file = counter.clone();
    let mut n = 0u64;
    joined_child(
        move || {
            join();
            let _ = fs::write(&file, "0");
        },
        move || {
            n += 1;
            let _ = fs::write(&counter, n.to_string());
            std::thread::sleep(Duration::from_millis(5));
        },
    )
}

fn count(path: &Path) -> u64 {
    fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Whether the child's count stands still for a while (frozen) or not.
fn stands_still(path: &Path) -> bool {
    let a = count(path);
    std::thread::sleep(Duration::from_millis(100));
    a == count(path)
}

#[test]
fn v1_the_snap_is_frozen_during_an_update_and_thawed_after_also_after_a_failure() {
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let dir = v1_freezer(&name, &mut guard);
    run_in_world(|_world| {
        show_cgroup_v1();
        let file = PathBuf::from(format!("/tmp/{name}.count"));
        let n = name.clone();
        let pid = counter(move || join_freezer_v1(&n).unwrap(), file.clone());
        let state = dir.join("freezer.state");
        for fail in [false, true] {
            let (_, seen) = update(&name, fail, &mut || {
                format!(
                    "{} {}",
                    fs::read_to_string(&state).unwrap().trim(),
                    stands_still(&file)
                )
            });
            assert_eq!(seen, vec!["FROZEN true".to_owned()], "fail: {fail}");
            assert_eq!(fs::read_to_string(&state).unwrap().trim(), "THAWED");
            assert!(!stands_still(&file), "not running again (fail: {fail})");
        }
        reap(pid);
    });
    drop(guard);
    assert!(!dir.exists(), "{} is left", dir.display());
}

#[test]
fn v2_the_snap_is_frozen_during_an_update_and_thawed_after_also_after_a_failure() {
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let scope = V2Scope::new(&name, &mut guard);
    run_in_world(|_world| {
        let dir = scope.in_world();
        fs::create_dir_all(&dir).unwrap();
        let file = PathBuf::from(format!("/tmp/{name}.count"));
        let procs = dir.join("cgroup.procs");
        let pid = counter(move || fs::write(&procs, "0\n").unwrap(), file.clone());
        let events = dir.join("cgroup.events");
        let frozen = |events: &Path| frozen_line(events);
        for fail in [false, true] {
            let (_, seen) = update(&name, fail, &mut || {
                format!("{} {}", frozen(&events), stands_still(&file))
            });
            assert_eq!(seen, vec!["frozen 1 true".to_owned()], "fail: {fail}");
            assert_eq!(frozen(&events), "frozen 0");
            assert!(!stands_still(&file), "not running again (fail: {fail})");
        }
        reap(pid);
    });
    drop(guard);
    let left = scope.host_parent();
    assert!(!left.exists(), "{} is left", left.display());
}

/// The binary: a failed update (a desired profile that does not parse)
/// and a good one, each with the snap frozen in between (said under
/// `SNAPD_DEBUG`) and running again after.
#[test]
fn v1_snap_update_ns_thaws_the_snap_after_a_failed_update_too() {
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let dir = v1_freezer(&name, &mut guard);
    run_in_world(|_world| {
        show_cgroup_v1();
        let file = PathBuf::from(format!("/tmp/{name}.count"));
        let n = name.clone();
        let pid = counter(move || join_freezer_v1(&n).unwrap(), file.clone());
        let mut holder = preserve_namespace(&name, "");
        fs::create_dir_all("/var/lib/snapd/mount").unwrap();
        let desired = format!("/var/lib/snapd/mount/snap.{name}.fstab");
        for (profile, ok) in [("garbage\n", false), ("", true)] {
            fs::write(&desired, profile).unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_snap-update-ns"))
                .arg(&name)
                .env_clear()
                .env("SNAPD_DEBUG", "1")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.success(), ok, "{err}");
            assert!(
                err.contains(&format!("froze the processes of snap {name} (FROZEN)")),
                "{err}"
            );
            assert_eq!(
                fs::read_to_string(dir.join("freezer.state"))
                    .unwrap()
                    .trim(),
                "THAWED"
            );
            assert!(!stands_still(&file), "not running again (ok: {ok})");
        }
        let _ = holder.kill();
        let _ = holder.wait();
        reap(pid);
    });
    drop(guard);
    assert!(!dir.exists(), "{} is left", dir.display());
}
