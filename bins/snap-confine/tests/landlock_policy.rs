//! The app's Landlock domain where the kernel has no AppArmor: translated
//! from the AppArmor profile snapd wrote (snapd 2.57's template and
//! interface snippets, tests/fixtures/apparmor), or built from snapcell's
//! default grants and the connections in snapd's state. For a snap with no
//! plugs and the same snap with home, network, network-bind and
//! removable-media connected: what the app can read, write, execute,
//! connect to and bind, each with one action that must succeed and one
//! that must fail.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::*;
use snapcell_test_support::World;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/apparmor");

/// The profile snapd 2.57 writes for snap.hello.hello on a non-core base.
fn snapd_profile(plugs: &[&str]) -> String {
    let read = |name: &str| std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap();
    let vars = "@{SNAP_NAME}=\"hello\"\n@{SNAP_INSTANCE_NAME}=\"hello\"\n\
                @{SNAP_COMMAND_NAME}=\"hello\"\n@{SNAP_REVISION}=\"x1\"\n\
                @{PROFILE_DBUS}=\"snap_2ehello_2ehello\"\n\
                @{INSTALL_DIR}=\"/{,var/lib/snapd/}snap\"";
    let mut text = read("template-common")
        .replace("###VAR###", vars)
        .replace("###PROFILEATTACH###", "profile \"snap.hello.hello\"")
        .replace("###DEVMODE_SNAP_CONFINE###", "");
    text.push_str(&read("other-base-rules"));
    text.push('\n');
    for plug in plugs {
        text.push_str(&read(plug).replace("###HOME_IX###", ""));
        text.push('\n');
    }
    text.push_str("}\n");
    text
}

const ALL_PLUGS: &[&str] = &["home", "network", "network-bind", "removable-media"];

/// A user's home and a removable medium in tmpfs of the world's own, the
/// snap's data directories.
fn prepare_world() {
    for dir in ["/home", "/media"] {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs", dir])
            .status()
            .unwrap();
        assert!(st.success());
    }
    for dir in [
        "/home/u/Documents",
        "/home/u/.ssh",
        "/home/u/bin",
        "/home/u/snap/hello/x1",
        "/media/u/stick",
        "/var/snap/hello/x1",
        "/var/snap/hello/common",
    ] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write("/home/u/doc.txt", "doc\n").unwrap();
    std::fs::write("/home/u/.ssh/id", "secret\n").unwrap();
    std::fs::copy("/bin/busybox", "/home/u/Documents/prog").unwrap();
}

/// One line per action: `NAME=ok` or `NAME=no`, then the network lines.
fn script(connect_port: u16, bind_port: u16) -> String {
    format!(
        r#"r() {{ n=$1; shift; if "$@" >/dev/null 2>&1; then echo "$n=ok"; else echo "$n=no"; fi; }}
r read_snap cat /snap/hello/x1/conf
r read_home cat /home/u/doc.txt
r read_hidden cat /home/u/.ssh/id
r read_state cat /var/lib/snapd/apparmor/profiles/snap.hello.hello
r write_data touch /var/snap/hello/x1/f
r write_common touch /var/snap/hello/common/f
r write_user_data touch /home/u/snap/hello/x1/f
r write_home touch /home/u/Documents/new
r write_hidden touch /home/u/.ssh/new
r write_home_bin touch /home/u/bin/new
r write_media touch /media/u/stick/f
r write_etc touch /etc/snapcell-landlock-test
r exec_snap /snap/hello/x1/bin/hello
r exec_home /home/u/Documents/prog true
c=$(timeout 2 nc 127.0.0.1 {connect_port} </dev/null 2>&1); case "$c" in *"ermission denied"*) echo connect=no;; *) echo connect=ok;; esac
b=$(timeout 1 nc -l -p {bind_port} 2>&1); case "$b" in *"ermission denied"*) echo bind=no;; *) echo bind=ok;; esac
"#
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run the actions in the app; `name=ok|no` pairs.
fn actions(fx: &Fixture) -> (Vec<(String, String)>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut env = snap_env();
    env.push(("HOME".into(), "/home/u".into()));
    env.push(("SNAPD_DEBUG".into(), "1".into()));
    let out = run_with(
        &fx.confine,
        &[
            "--base",
            "core",
            TAG,
            "/bin/sh",
            "-c",
            &script(port, free_port()),
        ],
        &env,
    );
    let stdout = expect_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let pairs = stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (pairs, stderr)
}

fn check(results: &[(String, String)], expected: &[(&str, &str)], stderr: &str) {
    for (name, want) in expected {
        let got = results
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let rules: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("Landlock: rule"))
            .collect();
        assert_eq!(
            got,
            Some(*want),
            "{name}: {results:?}\n{}",
            rules.join("\n")
        );
    }
}

/// Outcomes every launch shares, whatever is connected.
const ALWAYS: &[(&str, &str)] = &[
    ("read_snap", "ok"),
    ("read_hidden", "no"),
    ("read_state", "no"),
    ("write_data", "ok"),
    ("write_common", "ok"),
    ("write_user_data", "ok"),
    ("write_hidden", "no"),
    ("write_home_bin", "no"),
    ("write_etc", "no"),
    ("exec_snap", "ok"),
    ("exec_home", "no"),
];

const NO_PLUGS: &[(&str, &str)] = &[
    ("read_home", "no"),
    ("write_home", "no"),
    ("write_media", "no"),
    ("connect", "no"),
    ("bind", "no"),
];

const PLUGS: &[(&str, &str)] = &[
    ("read_home", "ok"),
    ("write_home", "ok"),
    ("write_media", "ok"),
    ("connect", "ok"),
    ("bind", "ok"),
];

fn write_profile(plugs: &[&str]) {
    std::fs::create_dir_all("/var/lib/snapd/apparmor/profiles").unwrap();
    std::fs::write(
        "/var/lib/snapd/apparmor/profiles/snap.hello.hello",
        snapd_profile(plugs),
    )
    .unwrap();
}

#[test]
fn snapd_profile_without_plugs() {
    let fx = Fixture::new();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_profile(&[]);
        let (results, stderr) = actions(&fx);
        check(&results, ALWAYS, &stderr);
        check(&results, NO_PLUGS, &stderr);
        assert!(
            stderr.contains("Landlock domain from the AppArmor profile"),
            "{stderr}"
        );
        assert!(
            stderr.contains("Landlock domain applied (FullyEnforced)"),
            "{stderr}"
        );
        // Widenings are listed, and none reaches /.
        assert!(stderr.contains("widened to /proc"), "{stderr}");
        assert!(!stderr.contains("widened to / "), "{stderr}");
    });
}

#[test]
fn snapd_profile_with_home_network_network_bind_removable_media() {
    let fx = Fixture::new();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_profile(ALL_PLUGS);
        let (results, stderr) = actions(&fx);
        check(&results, ALWAYS, &stderr);
        check(&results, PLUGS, &stderr);
        // ~/bin is left out of the home grant (snapd's `audit deny`).
        assert!(stderr.contains("/home/u/bin left out"), "{stderr}");
    });
}

fn write_state(plugs: &[&str]) {
    let conns: Vec<String> = plugs
        .iter()
        .map(|p| format!("\"hello:{p} core:{p}\": {{\"interface\": \"{p}\", \"auto\": true}}"))
        .collect();
    std::fs::write(
        "/var/lib/snapd/state.json",
        format!("{{\"data\": {{\"conns\": {{{}}}}}}}", conns.join(", ")),
    )
    .unwrap();
}

#[test]
fn default_grants_without_plugs() {
    let fx = Fixture::new();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_state(&[]);
        let (results, stderr) = actions(&fx);
        check(&results, ALWAYS, &stderr);
        check(&results, NO_PLUGS, &stderr);
        assert!(stderr.contains("default grants"), "{stderr}");
    });
}

#[test]
fn default_grants_with_connections_from_state_then_from_the_cache() {
    let fx = Fixture::new();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_state(ALL_PLUGS);
        let (results, stderr) = actions(&fx);
        check(&results, ALWAYS, &stderr);
        check(&results, PLUGS, &stderr);
        let cache = std::fs::read_to_string("/run/snapd/ns/snap.hello.landlock").unwrap();
        assert_eq!(cache, "home\nnetwork\nnetwork-bind\nremovable-media\n");
        // A warm start reads the cache, not the state.
        write_state(&[]);
        let (results, stderr) = actions(&fx);
        assert!(
            stderr.contains("connected interfaces from /run/snapd/ns/snap.hello.landlock"),
            "{stderr}"
        );
        check(&results, PLUGS, &stderr);
    });
}
