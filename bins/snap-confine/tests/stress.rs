//! Many cold starts, and many launches at once.

mod common;

use std::process::{Command, Stdio};

use common::*;
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

/// snapd 2.57 fails about 3 cold starts in 10 inside a nested namespace on
/// 6.18 ("cannot preserve mount namespace ... Invalid argument"): a new
/// namespace can get a smaller id than the one the helper binds from. Every
/// one of ours must succeed. Run in a world (a nested namespace), not pinned
/// to a CPU, discarding in between.
#[test]
fn two_hundred_cold_starts_all_succeed() {
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        let mut retried = 0;
        let mut ids = std::collections::BTreeSet::new();
        for i in 0..200 {
            let out = run_app(&fx.confine, "core", "readlink /proc/self/ns/mnt", true);
            let stdout = expect_success(&out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("constructing a new mount namespace"),
                "run {i}: {stderr}"
            );
            assert_eq!(stdout.trim(), preserved_ns_link(SNAP), "run {i}");
            assert!(
                ids.insert(preserved_ns_id(SNAP)),
                "run {i} reused a namespace"
            );
            if stderr.contains("trying again on another CPU") {
                retried += 1;
            }
            snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
            assert!(!is_preserved(SNAP));
        }
        eprintln!(
            "200 cold starts succeeded; {retried} needed another unshare to get a preservable namespace"
        );
    });
    before.assert_unchanged();
}

/// Eight launches of the same snap at once, from cold: all succeed, all
/// run in the same namespace, exactly one is preserved.
#[test]
fn concurrent_cold_launches_share_one_namespace() {
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        for round in 0..5 {
            let children: Vec<_> = (0..8)
                .map(|_| {
                    Command::new(&fx.confine)
                        .args(["--base", "core", TAG, "/bin/readlink", "/proc/self/ns/mnt"])
                        .env_clear()
                        .envs(snap_env())
                        .current_dir("/")
                        .stdin(Stdio::null())
                        .stdout(Stdio::piped())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let outputs: Vec<_> = children
                .into_iter()
                .map(|c| c.wait_with_output().unwrap())
                .collect();
            let links: Vec<String> = outputs
                .iter()
                .map(|o| expect_success(o).trim().to_owned())
                .collect();
            let expected = preserved_ns_link(SNAP);
            assert!(
                links.iter().all(|l| *l == expected),
                "round {round}: {links:?} vs preserved {expected}"
            );
            let preserved: Vec<String> = ns_dir_listing()
                .into_iter()
                .filter(|n| n.ends_with(".mnt"))
                .collect();
            assert_eq!(preserved, ["hello.mnt"], "round {round}");
            let nsfs = world_mounts()
                .into_iter()
                .filter(|m| m.starts_with("/run/snapd/ns/hello.mnt "))
                .count();
            assert_eq!(
                nsfs, 1,
                "round {round}: the namespace is bound {nsfs} times"
            );
            snapcell_confine::discard::discard_namespace(SNAP, false).unwrap();
        }
    });
    before.assert_unchanged();
}
