//! Process tracking and per-user mount namespaces, in worlds.
//!
//! * On this machine's v1 layout, snap-confine puts the app in the snap's
//!   freezer group (a unique snap name; a guard removes the group, also on
//!   failure), and a preserved namespace that should be discarded (the
//!   base was refreshed) is kept while an app of the snap still runs, then
//!   rebuilt once it has exited; a launch while snap-update-ns updates the
//!   snap (the snap lock held, the snap frozen) waits for the update.
//! * A caller other than root gets the user-fstab applied in a per-user
//!   namespace, ephemeral by default, preserved as `INSTANCE.UID.mnt` with
//!   snapd 2.57's `per-user-mount-namespace` feature (and entered again),
//!   and removed by snap-discard-ns.

mod common;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::*;
use snapcell_test_support::cgroup::{CgroupGuard, show_cgroup_v1, unique_snap_name, v1_freezer};
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

fn command(fx: &Fixture, name: &str, script: &str) -> Command {
    let tag = format!("snap.{name}.hello");
    let mut cmd = Command::new(&fx.confine);
    cmd.args(["--base", "core", &tag, "/bin/sh", "-c", script])
        .env_clear()
        .envs(snap_env_of(name))
        .env("SNAPD_DEBUG", "1")
        .current_dir("/")
        .stdin(Stdio::null());
    cmd
}

/// Launch `script`; its stdout and stderr.
fn launch(fx: &Fixture, name: &str, script: &str) -> (String, String) {
    let out: Output = command(fx, name, script).output().unwrap();
    let stdout = expect_success(&out);
    (stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Run `body` in a world on the host's v1 layout where the base `core` and
/// the app snap, as a snap of a unique name, are installed; then check the
/// snap's freezer group is gone and nothing is left on the machine.
fn tracked_snap(mut body: impl FnMut(&Fixture, &str, &Path, &mut World)) {
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let name = unique_snap_name();
    let mut guard = CgroupGuard::new();
    let freezer = v1_freezer(&name, &mut guard);
    run_in_world(|world: &mut World| {
        show_cgroup_v1();
        world.mount_snap("core", "x1", &fx.base_image).unwrap();
        world.mount_snap(&name, "x1", &fx.app_image).unwrap();
        write_unrestricted_seccomp(&format!("snap.{name}.hello"));
        body(&fx, &name, &freezer, world);
    });
    drop(guard);
    assert!(!freezer.exists(), "{} is left", freezer.display());
    before.assert_unchanged();
}

#[test]
fn a_stale_namespace_is_kept_while_the_snap_runs() {
    tracked_snap(|fx, name, freezer, world| {
        let script = "readlink /proc/self/ns/mnt; cat /proc/self/cgroup";

        let (out, err) = launch(fx, name, script);
        assert!(err.contains("constructing a new mount namespace"), "{err}");
        assert!(
            out.contains(&format!(":freezer:/snap.{name}\n")),
            "not tracked:\n{out}"
        );
        let first = out.lines().next().unwrap().to_owned();
        let first_id = preserved_ns_id(name);

        // An app of the snap keeps running.
        let mut running = command(fx, name, "echo started; exec sleep 60")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(running.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "started\n");
        let procs = fs::read_to_string(freezer.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|l| l == running.id().to_string()),
            "{procs}"
        );

        // The base is refreshed: the namespace should be discarded, but is
        // in use: kept.
        world.mount_snap("core", "x2", &fx.base_image).unwrap();
        let (out, err) = launch(fx, name, script);
        assert!(err.contains("the snap is in use"), "{err}");
        assert_eq!(out.lines().next().unwrap(), first, "not kept");
        assert_eq!(preserved_ns_id(name), first_id);

        // Once it has exited: rebuilt.
        running.kill().unwrap();
        running.wait().unwrap();
        let (out, err) = launch(fx, name, script);
        assert!(err.contains("is no longer mounted in it"), "{err}");
        assert_eq!(out.lines().next().unwrap(), preserved_ns_link(name));
        assert_ne!(preserved_ns_id(name), first_id, "not rebuilt");
    });
}

/// A launch while snap-update-ns updates the snap waits for the update:
/// snap-update-ns's system update holds the snap lock and keeps the snap's
/// processes frozen (`snapcell_sys::snaplock::lock_snap`, then
/// `freeze_snap_processes`, as `SystemProfileUpdateContext` does); the
/// launch, which joins the freezer group under that lock, starts only once
/// the update has thawed the snap and let go of the lock.
#[test]
fn a_launch_during_an_update_waits_for_the_update_and_its_freeze() {
    use snapcell_sys::cgroup::tracking::freeze_snap_processes;
    use snapcell_sys::snaplock::lock_snap;
    use std::time::{Duration, Instant};

    tracked_snap(|fx, name, freezer, _world| {
        launch(fx, name, "true");
        let state = || {
            fs::read_to_string(freezer.join("freezer.state"))
                .unwrap()
                .trim()
                .to_owned()
        };

        // The update: the lock, then the freeze.
        let lock = lock_snap(name).unwrap();
        let frozen = freeze_snap_processes(name).unwrap();
        assert_eq!(state(), "FROZEN");
        let mut waiting = command(fx, name, "echo launched; cat /proc/self/cgroup")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert!(
            waiting.try_wait().unwrap().is_none(),
            "the launch did not wait for the update"
        );
        assert_eq!(state(), "FROZEN");
        // It waits outside the group (it joins under the lock): a launcher
        // that joined now would be frozen mid-launch.
        let procs = fs::read_to_string(freezer.join("cgroup.procs")).unwrap();
        assert!(
            !procs.lines().any(|l| l == waiting.id().to_string()),
            "the launcher joined the frozen group: {procs}"
        );
        // The update ends: thawed, then unlocked.
        frozen.thaw().unwrap();
        let released = Instant::now();
        drop(lock);
        let out = waiting.wait_with_output().unwrap();
        let waited_after = released.elapsed();
        let stdout = expect_success(&out);
        assert!(stdout.starts_with("launched\n"), "{stdout}");
        assert!(
            stdout.contains(&format!(":freezer:/snap.{name}\n")),
            "not tracked:\n{stdout}"
        );
        assert_eq!(state(), "THAWED");
        assert!(waited_after < Duration::from_secs(10), "{waited_after:?}");
    });
}

#[test]
fn a_user_gets_the_user_fstab_in_a_per_user_namespace() {
    const NOBODY: u32 = 65534;
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let setuid = fx.setuid_copy();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        // The world's /run is its own: the portal's directories there.
        let by_app = format!("/run/user/{NOBODY}/doc/by-app/snap.{SNAP}");
        fs::create_dir_all(&by_app).unwrap();
        fs::write(format!("{by_app}/f"), "from the portal\n").unwrap();
        fs::create_dir_all("/var/lib/snapd/mount").unwrap();
        fs::write(
            format!("/var/lib/snapd/mount/snap.{SNAP}.user-fstab"),
            format!(
                "$XDG_RUNTIME_DIR/doc/by-app/snap.{SNAP} $XDG_RUNTIME_DIR/doc none bind,rw,x-snapd.ignore-missing 0 0\n"
            ),
        )
        .unwrap();
        let run = || {
            let mut env = snap_env();
            env.push(("SNAPD_DEBUG".into(), "1".into()));
            let out = Command::new(&setuid)
                .args([
                    "--base",
                    "core",
                    TAG,
                    "/bin/sh",
                    "-c",
                    &format!("readlink /proc/self/ns/mnt; cat /run/user/{NOBODY}/doc/f"),
                ])
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir("/")
                .uid(NOBODY)
                .gid(NOBODY)
                .output()
                .unwrap();
            let stdout = expect_success(&out);
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            let mut lines = stdout.lines();
            let ns = lines.next().unwrap().to_owned();
            assert_eq!(lines.next(), Some("from the portal"), "{stderr}");
            (ns, stderr)
        };
        let user_ns = format!("/run/snapd/ns/{SNAP}.{NOBODY}.mnt");

        // Ephemeral (current snapd, and 2.57 without the feature).
        let (ns1, err) = run();
        assert!(err.contains("making a per-user mount namespace"), "{err}");
        assert_ne!(ns1, preserved_ns_link(SNAP), "not a namespace of its own");
        run();
        assert!(
            !Path::new(&user_ns).exists(),
            "an ephemeral namespace was kept"
        );
        // The bind is only in the user's namespace.
        assert!(!Path::new(&format!("/run/user/{NOBODY}/doc/f")).exists());

        // 2.57's feature: preserved, then entered again.
        fs::create_dir_all("/var/lib/snapd/features").unwrap();
        fs::write("/var/lib/snapd/features/per-user-mount-namespace", "").unwrap();
        let (ns3, _) = run();
        assert!(is_preserved(&format!("{SNAP}.{NOBODY}")), "not preserved");
        let (ns4, err) = run();
        assert!(
            err.contains("joining the preserved per-user mount namespace"),
            "{err}"
        );
        assert_eq!(ns3, ns4);

        // snap-discard-ns removes it with the snap's.
        snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
        assert!(!Path::new(&user_ns).exists());
        assert!(!is_preserved(SNAP));
    });
    before.assert_unchanged();
}
