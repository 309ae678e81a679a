//! Worlds: isolation from the host, failure reporting.

use std::fs;
use std::path::Path;

use snapcell_test_support::world::{WORLD_MIMIC_DIRS, WORLD_TMPFS_DIRS};
use snapcell_test_support::{
    MachineSnapshot, WorldError, run_in_world, scratch_dir, try_run_in_world,
};

const TMPFS_MAGIC: i64 = 0x0102_1994;
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

fn listing(dir: &str) -> Option<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .ok()?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Some(names)
}

#[test]
fn world_dirs_are_fresh_tmpfs_and_the_host_is_untouched() {
    let before = MachineSnapshot::take();
    // The host's /tmp is left out: parallel tests make temporary dirs there.
    let host_dirs: Vec<&str> = WORLD_TMPFS_DIRS
        .iter()
        .copied()
        .filter(|d| *d != "/tmp")
        .collect();
    let host_listings: Vec<_> = host_dirs.iter().map(|d| listing(d)).collect();
    let marker = format!("snapcell-world-marker-{}", std::process::id());

    run_in_world(|_world| {
        for dir in WORLD_TMPFS_DIRS {
            let fs_type = rustix::fs::statfs(*dir).unwrap().f_type as i64;
            assert_eq!(fs_type, TMPFS_MAGIC, "{dir} is not a tmpfs in the world");
            assert_eq!(
                listing(dir).unwrap(),
                Vec::<String>::new(),
                "{dir} is not empty in the world"
            );
            fs::write(Path::new(dir).join(&marker), "x").unwrap();
        }
        let mode = fs::metadata("/tmp").unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o7777,
            0o1777
        );
    });

    let host_after: Vec<_> = host_dirs.iter().map(|d| listing(d)).collect();
    assert_eq!(host_listings, host_after, "the host's directories changed");
    for dir in WORLD_TMPFS_DIRS {
        assert!(!Path::new(dir).join(&marker).exists());
    }
    before.assert_unchanged();
}

#[test]
fn the_body_is_pid_2_under_a_fresh_proc() {
    run_in_world(|_world| {
        assert_eq!(rustix::process::getpid().as_raw_nonzero().get(), 2);
        assert_eq!(
            rustix::process::getppid().map(|p| p.as_raw_nonzero().get()),
            Some(1)
        );
        assert_eq!(
            rustix::fs::statfs("/proc").unwrap().f_type as i64,
            PROC_SUPER_MAGIC
        );
        // Only the world's init and the body are in the PID namespace.
        let mut pids: Vec<u32> = fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
            .collect();
        pids.sort();
        assert_eq!(pids, [1, 2]);
        // / is private in the world: no mount has a shared peer group.
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mountinfo.contains(" shared:"), "{mountinfo}");
    });
}

#[test]
fn missing_dirs_live_in_a_writable_mimic_of_their_parent() {
    // /run/snapd is missing on the development machine; whatever the case,
    // every entry of the host's parent directories must still be there.
    let parents: Vec<&Path> = WORLD_TMPFS_DIRS
        .iter()
        .filter_map(|d| Path::new(d).parent())
        .collect();
    // The parents that the world has to mimic: those missing one of the world's dirs.
    let mut mimicked: Vec<&Path> = WORLD_TMPFS_DIRS
        .iter()
        .map(Path::new)
        .filter(|d| !d.exists())
        .filter_map(Path::parent)
        .chain(WORLD_MIMIC_DIRS.iter().map(Path::new))
        .collect();
    mimicked.sort();
    mimicked.dedup();
    let host: Vec<_> = parents
        .iter()
        .map(|p| listing(p.to_str().unwrap()).unwrap())
        .collect();
    run_in_world(|_world| {
        for (parent, host_names) in parents.iter().zip(&host) {
            let names = listing(parent.to_str().unwrap()).unwrap();
            for name in host_names {
                assert!(
                    names.contains(name),
                    "{}/{name} is missing in the world",
                    parent.display()
                );
            }
        }
        for dir in WORLD_TMPFS_DIRS {
            assert!(Path::new(dir).is_dir());
        }
        // A mimic is writable, and writing into it does not touch the host.
        for parent in &mimicked {
            fs::write(parent.join("snapcell-world-probe"), "x").unwrap();
        }
    });
    if mimicked.is_empty() {
        eprintln!("every world directory exists on this host: no mimic to write into");
    }
    for parent in &mimicked {
        assert!(
            !parent.join("snapcell-world-probe").exists(),
            "the probe reached the host's {}",
            parent.display()
        );
    }
}

#[test]
fn a_panicking_body_fails_with_its_message() {
    let before = MachineSnapshot::take();
    let err = try_run_in_world(|_world| {
        let answer = 41 + 1;
        assert_ne!(answer, 42, "the answer was {answer}");
    })
    .unwrap_err();
    match &err {
        WorldError::Body(msg) => {
            assert!(msg.contains("the answer was 42"), "{msg}");
            assert!(msg.contains("tests/world.rs"), "no location in {msg}");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.to_string().contains("the answer was 42"));
    before.assert_unchanged();
}

#[test]
#[should_panic(expected = "marker 7781 in the world")]
fn run_in_world_fails_the_calling_test_with_the_body_message() {
    run_in_world(|_world| {
        assert_eq!(1 + 1, 3, "marker 7781 in the world");
    });
}

#[test]
fn a_body_returning_an_error_fails() {
    let err = try_run_in_world(|_world| -> std::io::Result<()> {
        fs::read("/snap/does/not/exist")?;
        Ok(())
    })
    .unwrap_err();
    assert!(
        matches!(&err, WorldError::Body(msg) if msg.contains("No such file")),
        "{err}"
    );
    let ok = try_run_in_world(|_world| -> Result<(), String> { Ok(()) });
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_body_killed_by_a_signal_is_reported() {
    let err = try_run_in_world(|_world| {
        // The body is not pid 1, so it can kill itself.
        rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL)
            .unwrap();
    })
    .unwrap_err();
    assert!(
        matches!(&err, WorldError::Died(msg) if msg.contains("signal 9")),
        "{err}"
    );
}

#[test]
fn a_file_written_to_tmp_in_the_world_is_not_on_the_host() {
    let before = MachineSnapshot::take();
    let name = format!("/tmp/snapcell-world-tmp-{}", std::process::id());
    run_in_world(|_world| {
        fs::write(&name, "from the world").unwrap();
        assert_eq!(fs::read_to_string(&name).unwrap(), "from the world");
    });
    assert!(!Path::new(&name).exists(), "{name} leaked to the host");
    before.assert_unchanged();
}

#[test]
fn host_tmp_is_hidden_but_scratch_dirs_are_shared() {
    let host_tmp = tempfile::tempdir().unwrap();
    fs::write(host_tmp.path().join("f"), "host").unwrap();
    let scratch = scratch_dir().unwrap();
    fs::write(scratch.path().join("f"), "host").unwrap();
    run_in_world(|_world| {
        assert!(!host_tmp.path().exists());
        assert_eq!(
            fs::read_to_string(scratch.path().join("f")).unwrap(),
            "host"
        );
        fs::write(scratch.path().join("g"), "world").unwrap();
    });
    // Captured values are not dropped in the world: both dirs are still here.
    assert!(host_tmp.path().join("f").exists());
    assert_eq!(
        fs::read_to_string(scratch.path().join("g")).unwrap(),
        "world"
    );
}

#[test]
fn worlds_can_run_from_several_threads() {
    // What plain `cargo test` does: forks from a multi-threaded process.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                run_in_world(|_world| {
                    fs::write(format!("/snap/{i}"), "x").unwrap();
                    assert_eq!(listing("/snap").unwrap(), [i.to_string()]);
                })
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn the_world_sees_only_the_unified_cgroup_hierarchy() {
    run_in_world(|_world| {
        let st = rustix::fs::statfs("/sys/fs/cgroup").unwrap();
        assert_eq!(
            st.f_type, 0x6367_7270,
            "/sys/fs/cgroup is not cgroup2 in the world"
        );
        // A v1 hierarchy made here would be the host's: it must not be reachable.
        assert!(!Path::new("/sys/fs/cgroup/freezer/tasks").exists());
    });
}
