//! The standalone file confinement and connections, end to end in
//! throwaway worlds: a snap installed by snapcell gets the profile
//! snap-confine translates into its Landlock domain (its data writable,
//! `/etc` not, `/root` unreadable, no listing of `/`), `connect` and
//! `disconnect` of home change what the next launch may write, content
//! sharing appears in a running app's namespace at `connect` and is gone at
//! `disconnect`, and `snapcell run` refuses a strict snap where Landlock
//! is made unavailable (a seccomp filter answering ENOSYS).
//!
//! snapcell finds its helpers next to itself: build the workspace first
//! (`cargo nextest run --workspace` does).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, HELPERS, base_snap_yaml, built_snapcell, busybox_base, expect_error};
use snapcell_test_support::tree::TEST_BASE_DIRS as BASE_DIRS;
use snapcell_test_support::{MachineSnapshot, Tree, build_static_c, run_in_world};

const BASE: &str = "ifc-base";

const APPLETS: &[&str] = &[
    "sh", "cat", "ls", "echo", "touch", "sleep", "id", "env", "rm",
];

fn base_tree() -> Tree {
    busybox_base(&base_snap_yaml(BASE), BASE_DIRS.iter().copied(), APPLETS)
}

/// `NAME=ok|no` per action; `d` tells a refusal (its message contains
/// the pattern) from another failure (`NAME=error: ...`).
const PROBE: &str = r#"#!/bin/sh
d() { n=$1; p=$2; shift 2; if o=$("$@" 2>&1); then echo "$n=ok"; else case "$o" in *"$p"*) echo "$n=no";; *) echo "$n=error: $o";; esac; fi; }
d write_data "denied" touch $SNAP_DATA/f
d write_common "denied" touch $SNAP_COMMON/f
d write_user_data "denied" touch $SNAP_USER_DATA/f
d write_etc "denied" sh -c ": >> /etc/hostname"
d write_private "denied" sh -c "echo x > /var/lib/snapd/ifc-written"
d read_root "denied" ls /root
d list_root_dir "denied" ls /
d list_snap "denied" ls $SNAP
d write_home "denied" sh -c "echo new > $SNAP_REAL_HOME/Documents/new"
d read_home "denied" cat $SNAP_REAL_HOME/Documents/doc.txt
d write_layout "denied" touch /var/lib/ifc-app/f
"#;

fn app_tree() -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            format!(
                "name: ifc-app\nversion: '1'\nbase: {BASE}\n\
                 apps:\n  probe:\n    command: bin/probe\n    plugs: [home]\n\
                 layout:\n  /var/lib/ifc-app:\n    bind: $SNAP_DATA/lib\n"
            ),
            0o644,
        )
        .file("bin/probe", PROBE, 0o755)
}

fn producer_tree(version: &str) -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            format!(
                "name: ifc-producer\nversion: '{version}'\nbase: {BASE}\n\
                 slots:\n  things:\n    interface: content\n    read: [$SNAP/shared]\n"
            ),
            0o644,
        )
        .file(
            "shared/hello.txt",
            format!("shared by the producer {version}\n"),
            0o644,
        )
}

fn consumer_tree() -> Tree {
    Tree::new()
        .file(
            "meta/snap.yaml",
            format!(
                "name: ifc-consumer\nversion: '1'\nbase: {BASE}\n\
                 plugs:\n  things:\n    interface: content\n    target: $SNAP/content\n\
                 apps:\n  sleeper:\n    command: bin/sleeper\n"
            ),
            0o644,
        )
        .dir("content", 0o755)
        .file(
            "bin/sleeper",
            "#!/bin/sh\necho started > $SNAP_DATA/started\nexec sleep 1000\n",
            0o755,
        )
}

/// The fixture with snap-update-ns too (connect updates a running app's
/// namespace), a home with a document, and the base.
fn fixture() -> Fixture {
    let helpers: Vec<&str> = HELPERS.iter().copied().chain(["snap-update-ns"]).collect();
    let fx = Fixture::with(Path::new(env!("CARGO_BIN_EXE_snapcell")), &helpers);
    fs::create_dir_all(fx.home.join("Documents")).unwrap();
    fs::write(fx.home.join("Documents/doc.txt"), "doc\n").unwrap();
    fx.image("base", &base_tree());
    fx
}

fn results(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn check(out: &str, expected: &[(&str, &str)]) {
    let got = results(out);
    for (name, want) in expected {
        let v = got.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(v, Some(*want), "{name}:\n{out}");
    }
}

const PROFILE: &str = "/var/lib/snapd/apparmor/profiles/snap.ifc-app.probe";

#[test]
fn an_installed_snap_is_file_confined_and_home_follows_its_connection() {
    let fx = fixture();
    fx.image("app", &app_tree());
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.install("base");
        fx.install("app");
        fs::create_dir_all("/var/snap/ifc-app/x1/lib").unwrap();
        // The profile snap-confine translates: our header, our grants,
        // home (connected at install, as snapd does on classic) and the
        // layout.
        let profile = fs::read_to_string(PROFILE).unwrap();
        assert!(
            profile.contains("profile \"snap.ifc-app.probe\" flags="),
            "{profile}"
        );
        assert!(profile.contains("@{SNAP_REVISION}=\"x1\""), "{profile}");
        assert!(profile.contains("owner @{HOME}/[^s.]** rwl,"), "{profile}");
        assert!(
            profile.contains("\"/var/lib/ifc-app/**\" rwlix,"),
            "{profile}"
        );
        assert_eq!(
            fx.ok(&["connections", "ifc-app"]),
            "Interface  Plug          Slot   Notes\nhome       ifc-app:home  :home  -\n"
        );
        // Outside the sandbox all of it works (we are root).
        fs::read_dir("/root").unwrap();

        let always: &[(&str, &str)] = &[
            ("write_data", "ok"),
            ("write_common", "ok"),
            ("write_user_data", "ok"),
            ("write_etc", "no"),
            ("write_private", "no"),
            ("read_root", "no"),
            ("list_root_dir", "no"),
            ("list_snap", "ok"),
            ("write_layout", "ok"),
        ];
        let out = fx.ok(&["run", "ifc-app.probe"]);
        check(&out, always);
        check(&out, &[("write_home", "ok"), ("read_home", "ok")]);

        // Disconnected: the next launch cannot reach the home.
        fx.ok(&["disconnect", "ifc-app:home"]);
        let profile = fs::read_to_string(PROFILE).unwrap();
        assert!(!profile.contains("@{HOME}/[^s.]**"), "{profile}");
        assert_eq!(
            fx.ok(&["connections", "ifc-app"]),
            "Interface  Plug          Slot  Notes\nhome       ifc-app:home  -     -\n"
        );
        expect_error(
            &fx.snapcell(&["disconnect", "ifc-app:home"]),
            "ifc-app:home: it is not connected",
        );
        let out = fx.ok(&["run", "ifc-app.probe"]);
        check(&out, always);
        check(&out, &[("write_home", "no"), ("read_home", "no")]);

        // Connected again: the next launch can write ~.
        fx.ok(&["connect", "ifc-app:home"]);
        assert_eq!(
            fx.ok(&["connections"]),
            "Interface  Plug          Slot   Notes\nhome       ifc-app:home  :home  manual\n"
        );
        let out = fx.ok(&["run", "ifc-app.probe"]);
        check(&out, always);
        check(&out, &[("write_home", "ok"), ("read_home", "ok")]);
        assert!(fx.home.join("Documents/new").is_file());
        let json: serde_json::Value =
            serde_json::from_str(&fx.ok(&["connections", "--json"])).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{"interface": "home", "plug": "ifc-app:home",
                                "slot": ":home", "notes": "manual"}])
        );

        // What connect refuses.
        expect_error(
            &fx.snapcell(&["connect", "ifc-app:camera"]),
            "snap \"ifc-app\" has no plug named \"camera\"",
        );
        expect_error(
            &fx.snapcell(&["connect", "ifc-app:home", ":camera"]),
            "snap \"system\" has no slot named \"camera\"",
        );
        expect_error(
            &fx.snapcell(&["connect", "nosuch:home"]),
            "snap \"nosuch\" is not installed",
        );
        expect_error(&fx.snapcell(&["connect", "ifc-app"]), "SNAP:PLUG");

        // remove takes the profiles with it.
        fx.ok(&["remove", "ifc-app"]);
        assert!(!Path::new(PROFILE).exists());
        assert_eq!(fx.ok(&["connections"]), "");
        fx.ok(&["remove", BASE]);
    });
    before.assert_unchanged();
}

/// A process of the world's, killed and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn content_appears_in_a_running_app_at_connect_and_goes_at_disconnect() {
    let fx = fixture();
    fx.image("producer", &producer_tree("1"));
    fx.image("producer2", &producer_tree("2"));
    fx.image("consumer", &consumer_tree());
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.install("base");
        fx.install("consumer");
        fx.install("producer");
        // No default provider: nothing connected by itself.
        assert_eq!(
            fx.ok(&["connections", "ifc-consumer"]),
            "Interface  Plug                 Slot  Notes\ncontent    ifc-consumer:things  -     -\n"
        );
        let app = Running(
            fx.command(&fx.snapcell, &["run", "ifc-consumer.sleeper"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for("the consumer did not start", || {
            Path::new("/var/snap/ifc-consumer/x1/started").exists()
        });
        // snapcell, snap-confine, snap-exec, sh and sleep are one process.
        let root = PathBuf::from(format!("/proc/{}/root", app.0.id()));
        let shared = root.join("snap/ifc-consumer/x1/content/hello.txt");
        assert!(root.join("snap/ifc-consumer/x1/content").is_dir());
        assert!(!shared.exists());

        expect_error(
            &fx.snapcell(&["connect", "ifc-consumer:things", "ifc-producer:nope"]),
            "snap \"ifc-producer\" has no slot named \"nope\"",
        );
        fx.ok(&["connect", "ifc-consumer:things", "ifc-producer"]);
        assert_eq!(
            fs::read_to_string(&shared).unwrap(),
            "shared by the producer 1\n"
        );
        let fstab = fs::read_to_string("/var/lib/snapd/mount/snap.ifc-consumer.fstab").unwrap();
        assert!(
            fstab.contains(
                "/snap/ifc-producer/x1/shared /snap/ifc-consumer/x1/content none bind,ro 0 0"
            ),
            "{fstab}"
        );
        assert_eq!(
            fx.ok(&["connections", "ifc-producer"]),
            "Interface  Plug                 Slot                 Notes\n\
             content    ifc-consumer:things  ifc-producer:things  manual\n"
        );

        // A refresh of the provider: the running consumer follows it.
        fx.install("producer2");
        let fstab = fs::read_to_string("/var/lib/snapd/mount/snap.ifc-consumer.fstab").unwrap();
        assert!(
            fstab.contains(
                "/snap/ifc-producer/x2/shared /snap/ifc-consumer/x1/content none bind,ro 0 0"
            ),
            "{fstab}"
        );
        assert_eq!(
            fs::read_to_string(&shared).unwrap(),
            "shared by the producer 2\n"
        );

        fx.ok(&["disconnect", "ifc-consumer:things"]);
        assert!(!shared.exists());
        assert!(root.join("snap/ifc-consumer/x1/content").is_dir());
        drop(app);

        // Connected again, then the provider removed: the consumer's
        // profile loses the entry (and the connection is gone).
        fx.ok(&["connect", "ifc-consumer:things", "ifc-producer:things"]);
        fx.ok(&["remove", "ifc-producer"]);
        let fstab =
            fs::read_to_string("/var/lib/snapd/mount/snap.ifc-consumer.fstab").unwrap_or_default();
        assert!(!fstab.contains("ifc-producer"), "{fstab}");
        assert_eq!(
            fx.ok(&["connections", "ifc-consumer"]),
            "Interface  Plug                 Slot  Notes\ncontent    ifc-consumer:things  -     -\n"
        );
        for snap in ["ifc-consumer", BASE] {
            fx.ok(&["remove", snap]);
        }
    });
    before.assert_unchanged();
}

/// A hook that records its name in the snap's `$SNAP_COMMON/hooks`, and
/// fails where `$SNAP_COMMON/fail-HOOK` exists.
const RECORDING_HOOK: &str = "#!/bin/sh\nh=${0##*/}\necho $h >> $SNAP_COMMON/hooks\nif [ -e $SNAP_COMMON/fail-$h ]; then exit 1; fi\n";

/// A content consumer waiting for its default provider, and the provider,
/// both with interface hooks.
fn waiting_pair() -> (Tree, Tree) {
    let mut consumer = Tree::new().file(
        "meta/snap.yaml",
        format!(
            "name: ifc-waiter\nversion: '1'\nbase: {BASE}\n\
             plugs:\n  things:\n    interface: content\n    target: $SNAP/content\n    \
             default-provider: ifc-giver\n"
        ),
        0o644,
    );
    consumer = consumer.dir("content", 0o755);
    for hook in [
        "prepare-plug-things",
        "connect-plug-things",
        "disconnect-plug-things",
    ] {
        consumer = consumer.file(format!("meta/hooks/{hook}"), RECORDING_HOOK, 0o755);
    }
    let mut provider = producer_tree("1").file(
        "meta/snap.yaml",
        format!(
            "name: ifc-giver\nversion: '1'\nbase: {BASE}\n\
             slots:\n  things:\n    interface: content\n    read: [$SNAP/shared]\n"
        ),
        0o644,
    );
    for hook in [
        "prepare-slot-things",
        "connect-slot-things",
        "disconnect-slot-things",
    ] {
        provider = provider.file(format!("meta/hooks/{hook}"), RECORDING_HOOK, 0o755);
    }
    (consumer, provider)
}

/// A provider installed after its consumer connects the plug waiting for
/// it (and the consumer's profile follows); `disconnect` and `connect` run
/// the interface hooks on both sides, and a failing hook undoes the
/// connection.
#[test]
fn a_later_provider_connects_the_waiting_plug_and_connect_runs_the_interface_hooks() {
    let fx = fixture();
    let (consumer, provider) = waiting_pair();
    fx.image("waiter", &consumer);
    fx.image("giver", &provider);
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.install("base");
        fx.install("waiter");
        let fstab = "/var/lib/snapd/mount/snap.ifc-waiter.fstab";
        let entry = "/snap/ifc-giver/x1/shared /snap/ifc-waiter/x1/content none bind,ro 0 0";
        assert!(!fs::read_to_string(fstab).unwrap().contains(entry));
        fx.install("giver");
        assert_eq!(
            fx.ok(&["connections", "ifc-waiter"]),
            "Interface  Plug               Slot              Notes\n\
             content    ifc-waiter:things  ifc-giver:things  -\n"
        );
        assert!(fs::read_to_string(fstab).unwrap().contains(entry));
        let hooks = |snap: &str| {
            fs::read_to_string(format!("/var/snap/{snap}/common/hooks")).unwrap_or_default()
        };
        fx.ok(&["disconnect", "ifc-waiter:things"]);
        assert!(!fs::read_to_string(fstab).unwrap().contains(entry));
        assert_eq!(hooks("ifc-giver"), "disconnect-slot-things\n");
        assert_eq!(hooks("ifc-waiter"), "disconnect-plug-things\n");
        fx.ok(&["connect", "ifc-waiter:things"]);
        assert!(fs::read_to_string(fstab).unwrap().contains(entry));
        assert_eq!(
            hooks("ifc-giver"),
            "disconnect-slot-things\nprepare-slot-things\nconnect-slot-things\n"
        );
        assert_eq!(
            hooks("ifc-waiter"),
            "disconnect-plug-things\nprepare-plug-things\nconnect-plug-things\n"
        );
        // A failing disconnect hook keeps the connection; a failing
        // connect hook undoes it.
        fs::write(
            "/var/snap/ifc-waiter/common/fail-disconnect-plug-things",
            "",
        )
        .unwrap();
        expect_error(
            &fx.snapcell(&["disconnect", "ifc-waiter:things"]),
            "disconnect-plug-things",
        );
        assert!(fs::read_to_string(fstab).unwrap().contains(entry));
        fs::remove_file("/var/snap/ifc-waiter/common/fail-disconnect-plug-things").unwrap();
        fx.ok(&["disconnect", "ifc-waiter:things"]);
        fs::write("/var/snap/ifc-waiter/common/fail-connect-plug-things", "").unwrap();
        expect_error(
            &fx.snapcell(&["connect", "ifc-waiter:things"]),
            "connect-plug-things",
        );
        assert!(!fs::read_to_string(fstab).unwrap().contains(entry));
        assert_eq!(
            fx.ok(&["connections", "ifc-waiter"]),
            "Interface  Plug               Slot  Notes\ncontent    ifc-waiter:things  -     -\n"
        );
        for snap in ["ifc-waiter", "ifc-giver", BASE] {
            fx.ok(&["remove", snap]);
        }
    });
    before.assert_unchanged();
}

/// Runs its arguments with a seccomp filter that answers ENOSYS to
/// landlock_create_ruleset (x86_64): Landlock unavailable for real.
const NO_LANDLOCK_C: &str = r#"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

int main(int argc, char **argv) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 444, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof f / sizeof f[0], f };
    if (argc < 2) return 2;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("cannot load the filter");
        return 125;
    }
    execv(argv[1], argv + 1);
    perror("cannot execute");
    return 126;
}
"#;

#[test]
fn run_refuses_a_strict_snap_where_landlock_is_unavailable() {
    if std::env::consts::ARCH != "x86_64" {
        eprintln!("SKIPPED: the filter is written for x86_64");
        return;
    }
    let fx = fixture();
    fx.image("app", &app_tree());
    let wrapper = build_static_c(NO_LANDLOCK_C, fx.dir.path(), "no-landlock")
        .expect("gcc -static (apt-get install gcc libc6-dev)");
    let before = MachineSnapshot::take();
    run_in_world(|_w| {
        fx.install("base");
        fx.install("app");
        let snapcell = fx.snapcell.to_str().unwrap();
        let out = fx
            .command(&wrapper, &[snapcell, "run", "ifc-app.probe"])
            .output()
            .unwrap();
        let stderr = expect_error(&out, "the kernel enforces neither AppArmor nor Landlock");
        assert!(stderr.contains("--without-file-confinement"), "{stderr}");
        assert!(out.stdout.is_empty());
        // Asked for: it runs, with nothing but the namespace and seccomp,
        // and snap-confine says so under SNAPD_DEBUG.
        let out = fx
            .command(
                &wrapper,
                &[
                    snapcell,
                    "run",
                    "--without-file-confinement",
                    "ifc-app.probe",
                ],
            )
            .env("SNAPD_DEBUG", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("Landlock is not available on this kernel"),
            "{stderr}"
        );
        check(
            &String::from_utf8_lossy(&out.stdout),
            &[("read_root", "ok"), ("write_data", "ok")],
        );
        // Without the filter: confined as usual.
        check(&fx.ok(&["run", "ifc-app.probe"]), &[("read_root", "no")]);
        fx.ok(&["remove", "ifc-app"]);
        fx.ok(&["remove", BASE]);
    });
    before.assert_unchanged();
}

#[test]
fn connect_disconnect_and_connections_have_help_with_examples() {
    for cmd in ["connect", "disconnect", "connections"] {
        let out = built_snapcell(&[cmd, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{cmd}: {text}");
        assert!(text.contains("Examples:"), "{cmd}: {text}");
        assert!(text.contains(&format!("snapcell {cmd} ")), "{cmd}: {text}");
    }
}
