//! snap-exec runs on any base: it is linked statically, so a base with no C
//! library at all (busybox-static and nothing else) runs it; and where an
//! app needs a loader the base does not have, it says which one.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use snapcell_test_support::{Tree, run_in_world, scratch_dir};

const SNAP_YAML: &str = "name: echo
version: '1.0'
apps:
  show:
    command: bin/show
  dynamic:
    command: bin/dynamic
  python:
    command: bin/python-script
";

/// A base with busybox-static, the directories snap-exec needs, and our
/// snap-exec in `/usr/lib/snapd`: no `/lib`, no `/lib64`, no loader.
fn base_tree() -> Tree {
    let busybox = fs::read("/bin/busybox").expect("busybox-static must be installed");
    let snap_exec = fs::read(env!("CARGO_BIN_EXE_snap-exec")).unwrap();
    let mut tree = Tree::new();
    for dir in ["bin", "snap", "usr/lib/snapd", "tmp", "var", "etc"] {
        tree = tree.dir(dir, 0o755);
    }
    tree =
        tree.file("bin/busybox", busybox, 0o755)
            .file("usr/lib/snapd/snap-exec", snap_exec, 0o755);
    for applet in ["sh", "echo", "cat"] {
        tree = tree.symlink(format!("bin/{applet}"), "busybox");
    }
    tree
}

fn app_tree() -> Tree {
    // A dynamically linked program of the host's (it names the host's loader).
    let dynamic = fs::read("/bin/true").unwrap();
    Tree::new()
        .dir("meta", 0o755)
        .file("meta/snap.yaml", SNAP_YAML, 0o644)
        .dir("bin", 0o755)
        .file("bin/show", "#!/bin/sh\necho \"$0: $*\"\n", 0o755)
        .file("bin/dynamic", dynamic, 0o755)
        .file("bin/python-script", "#!/usr/bin/python3\nprint(1)\n", 0o755)
}

/// The host's loader, as `/bin/true` names it.
fn host_loader() -> String {
    let out = Command::new("readelf")
        .args(["--program-headers", "/bin/true"])
        .output();
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(at) = text.find("Requesting program interpreter: ") {
            let rest = &text[at + "Requesting program interpreter: ".len()..];
            return rest[..rest.find(']').unwrap()].to_owned();
        }
    }
    "/lib64/ld-linux-x86-64.so.2".to_owned()
}

/// Run the base's snap-exec chrooted into the base, as snap-confine would
/// after its pivot.
fn snap_exec_in(base: &Path, args: &[&str]) -> Output {
    Command::new("/bin/busybox")
        .arg("chroot")
        .arg(base)
        .arg("/usr/lib/snapd/snap-exec")
        .args(args)
        .env_clear()
        .env("PATH", "/bin")
        .env("SNAP_REVISION", "7")
        .output()
        .unwrap()
}

#[test]
fn snap_exec_runs_in_a_base_without_a_c_library() {
    let dir = scratch_dir().unwrap();
    let base_src = dir.path().join("base");
    base_tree().write_to(&base_src).unwrap();
    let app_src = dir.path().join("echo");
    app_tree().write_to(&app_src).unwrap();
    let loader = host_loader();
    run_in_world(|world| {
        // The base stays a directory of the test's own (packing the debug
        // snap-exec would take long); the world's mount namespace keeps the
        // bind mount below from the machine.
        let base = base_src.clone();
        world.mount_snap("echo", 7, &app_src).unwrap();
        assert!(!base.join("lib").exists() && !base.join("lib64").exists());
        assert!(!base.join(loader.trim_start_matches('/')).exists());
        // The snaps appear in the base's /snap, as in a snap's namespace.
        let status = Command::new("mount")
            .arg("--rbind")
            .arg("/snap")
            .arg(base.join("snap"))
            .status()
            .unwrap();
        assert!(status.success());

        let out = snap_exec_in(&base, &["echo.show", "a", "b"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "/snap/echo/7/bin/show: a b\n"
        );

        for (app, msg) in [
            (
                "echo.dynamic",
                format!(
                    r#"cannot snap-exec: cannot exec "/snap/echo/7/bin/dynamic": its ELF interpreter {loader} is missing in this base"#
                ),
            ),
            (
                "echo.python",
                r#"cannot snap-exec: cannot exec "/snap/echo/7/bin/python-script": its interpreter /usr/bin/python3 (its #! line) is missing in this base"#.to_owned(),
            ),
        ] {
            let out = snap_exec_in(&base, &[app]);
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), msg);
        }
    });
}
