//! The app's Landlock domain where the kernel has no AppArmor: translated
//! from the AppArmor profile snapd wrote (snapd 2.57's template and
//! interface snippets, read out of the installed snapd at test time:
//! `snapcell_test_support::snapd`), or built from snapcell's default
//! grants and the connections in snapd's state. For a snap with no plugs
//! and the same snap with home, network, network-bind and removable-media
//! connected: what the app can read, write, execute, connect to (TCP, an
//! abstract UNIX socket), bind, signal and open (a device node), each with
//! one action that must succeed and one that must fail.

mod common;

use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::{Child, Command, Stdio};

use common::*;
use snapcell_test_support::snapd::{AppArmor257, SNAPD, SnapdBinary};
use snapcell_test_support::{World, build_static_c, scratch_dir};

/// snapd 2.57's AppArmor pieces from the installed snapd; `None` (and a
/// SKIPPED line) only where snapd is not installed.
fn apparmor_257() -> Option<AppArmor257> {
    let Some(snapd) = SnapdBinary::installed() else {
        eprintln!(
            "SKIPPED: {SNAPD} is not installed (apt-get install snapd): snapd 2.57's AppArmor \
             template is read out of it"
        );
        return None;
    };
    Some(AppArmor257::read(&snapd).unwrap())
}

/// The profile snapd 2.57 writes for snap.hello.hello on a non-core base.
fn snapd_profile(pieces: &AppArmor257, plugs: &[&str]) -> String {
    let vars = "@{SNAP_NAME}=\"hello\"\n@{SNAP_INSTANCE_NAME}=\"hello\"\n\
                @{SNAP_COMMAND_NAME}=\"hello\"\n@{SNAP_REVISION}=\"x1\"\n\
                @{PROFILE_DBUS}=\"snap_2ehello_2ehello\"\n\
                @{INSTALL_DIR}=\"/{,var/lib/snapd/}snap\"";
    let mut text = pieces
        .template_common
        .replace("###VAR###", vars)
        .replace("###PROFILEATTACH###", "profile \"snap.hello.hello\"")
        .replace("###DEVMODE_SNAP_CONFINE###", "");
    text.push_str(&pieces.other_base_rules);
    text.push('\n');
    for plug in plugs {
        text.push_str(&pieces.snippet(plug).replace("###HOME_IX###", ""));
        text.push('\n');
    }
    text.push_str("}\n");
    text
}

/// Our own helper: connects to an abstract UNIX socket, optionally one it
/// listens on itself (see the source).
const ABSTRACT_CONNECT_C: &str = include_str!("fixtures/abstract_connect.c");

/// The fixture, with `/bin/abstract-connect` (static) in the base.
fn fixture() -> Fixture {
    let build = scratch_dir().unwrap();
    let helper = build_static_c(ABSTRACT_CONNECT_C, build.path(), "abstract-connect")
        .expect("gcc -static (apt-get install gcc libc6-dev)");
    let bytes = std::fs::read(helper).unwrap();
    Fixture::with_base(base_tree(&[]).file("bin/abstract-connect", bytes, 0o755))
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

/// Who the app's actions reach outside its sandbox.
struct Outside {
    /// A process of the world's, outside the app's domain.
    pid: u32,
    /// An abstract UNIX socket a process outside the domain listens on.
    abstract_name: String,
    /// A name for the app's own abstract socket.
    inside_name: String,
}

/// One line per action: `NAME=ok` or `NAME=no`, then the network lines.
/// `d` tells a refusal (its error contains the pattern) from another
/// failure, which shows as `NAME=error: ...`.
fn script(connect_port: u16, bind_port: u16, outside: &Outside) -> String {
    let Outside {
        pid,
        abstract_name,
        inside_name,
    } = outside;
    format!(
        r#"r() {{ n=$1; shift; if "$@" >/dev/null 2>&1; then echo "$n=ok"; else echo "$n=no"; fi; }}
d() {{ n=$1; p=$2; shift 2; if o=$("$@" 2>&1); then echo "$n=ok"; else case "$o" in *"$p"*) echo "$n=no";; *) echo "$n=error: $o";; esac; fi; }}
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
r write_etc sh -c ": >> /etc/hostname"
r exec_snap /snap/hello/x1/bin/hello
r exec_home /home/u/Documents/prog true
r list_unrelated ls /root
r list_root ls /
r list_snap ls /snap/hello/x1
sleep 100 >/dev/null 2>&1 & s=$!
d signal_inside "not permitted" kill -TERM $s
d signal_outside "not permitted" kill -CONT {pid}
d abstract_inside "not permitted" /bin/abstract-connect --listen {inside_name}
d abstract_outside "not permitted" /bin/abstract-connect {abstract_name}
d open_null "ermission denied" sh -c 'echo x >/dev/null && : </dev/null'
d open_kmsg "ermission denied" sh -c ': </dev/kmsg'
c=$(timeout 2 nc 127.0.0.1 {connect_port} </dev/null 2>&1); case "$c" in *"ermission denied"*) echo connect=no;; *) echo connect=ok;; esac
b=$(timeout 1 nc -l -p {bind_port} 2>&1); case "$b" in *"ermission denied"*) echo bind=no;; *) echo bind=ok;; esac
"#
    )
}

/// A process of the world's outside the sandbox, killed and reaped when
/// dropped.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Run the actions in the app; `name=ok|no` pairs. Outside the sandbox
/// the same peers are reachable: checked here first.
fn actions(fx: &Fixture) -> (Vec<(String, String)>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sleeper = Sleeper(
        Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start sleep"),
    );
    // Abstract names are per network namespace, which tests share: unique
    // ones, after the fixture's scratch directory.
    let unique = fx.dir.path().file_name().unwrap().to_string_lossy();
    let outside = Outside {
        pid: sleeper.0.id(),
        abstract_name: format!("snapcell-outside-{unique}"),
        inside_name: format!("snap.hello.inside-{unique}"),
    };
    let abstract_listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(&outside.abstract_name).unwrap())
            .unwrap();
    let plain = Command::new(fx.dir.path().join("base/bin/abstract-connect"))
        .arg(&outside.abstract_name)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "ok\n", "outside");
    std::fs::File::open("/dev/kmsg").expect("/dev/kmsg outside the sandbox");

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
            &script(port, free_port(), &outside),
        ],
        &env,
    );
    drop(abstract_listener);
    drop(sleeper);
    let stdout = expect_success(&out);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // The ABI 6 scopes stay on: no profile here allows peers beyond the snap.
    let unscoped: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not scoped"))
        .collect();
    assert!(unscoped.is_empty(), "{unscoped:?}");
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
    // No listing of / (narrowed): an unrelated directory cannot be listed.
    ("list_unrelated", "no"),
    ("list_root", "no"),
    ("list_snap", "ok"),
    // ABI 6 scopes: no profile here reaches beyond the snap.
    ("signal_inside", "ok"),
    ("signal_outside", "no"),
    ("abstract_inside", "ok"),
    ("abstract_outside", "no"),
    ("open_null", "ok"),
    ("open_kmsg", "no"),
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

fn write_profile(pieces: &AppArmor257, plugs: &[&str]) {
    std::fs::create_dir_all("/var/lib/snapd/apparmor/profiles").unwrap();
    std::fs::write(
        "/var/lib/snapd/apparmor/profiles/snap.hello.hello",
        snapd_profile(pieces, plugs),
    )
    .unwrap();
}

#[test]
fn snapd_profile_without_plugs() {
    let Some(pieces) = apparmor_257() else {
        return;
    };
    let fx = fixture();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_profile(&pieces, &[]);
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
        // The template's `/ r` is narrowed to nothing, and said so.
        assert!(
            stderr.contains("/: narrowed: the listing of / is not granted"),
            "{stderr}"
        );
    });
}

#[test]
fn snapd_profile_with_home_network_network_bind_removable_media() {
    let Some(pieces) = apparmor_257() else {
        return;
    };
    let fx = fixture();
    fx.run_installed("core", |_: &mut World| {
        prepare_world();
        write_profile(&pieces, ALL_PLUGS);
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
    let fx = fixture();
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
    let fx = fixture();
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
