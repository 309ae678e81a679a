//! The application environment (spec §7): the variables `snap run` sets
//! before snap-confine (snapd's `snap/snapenv`), and what snap-exec computes
//! from `meta/snap.yaml` (snapd's `cmd/snap-exec`): the final environment and
//! the argument vector it executes.
//!
//! Everything here is a function of plain inputs. Whatever snapd learns from
//! the machine (the caller's uid, whether a directory exists, whether
//! `/var/cups` is on its own device, where snap-exec itself lives) is a
//! parameter.

use std::collections::BTreeMap;

use crate::goquote::quote;
use crate::naming::instance_name;
use crate::paths::clean;
use crate::saved_env::unescape_unsafe_env;
use crate::snap_yaml::{AppInfo, Confinement, Environment, HookInfo};

/// An environment: name → value, sorted by name (as snapd's `ForExec`).
pub type Env = BTreeMap<String, String>;

/// `SNAP_LIBRARY_PATH`.
pub const LIBRARY_PATH: &str = "/var/lib/snapd/lib/gl:/var/lib/snapd/lib/gl32:/var/lib/snapd/void";

/// The base of `XDG_RUNTIME_DIR` values (`/run/user/EUID/snap.INSTANCE`).
pub const XDG_RUNTIME_DIR_BASE: &str = "/run/user";

/// Where snapd's gdb shims live (`dirs.CoreLibExecDir`).
pub const CORE_LIB_EXEC_DIR: &str = "/usr/lib/snapd";

/// The shell of `--command=shell` and `--command=complete`.
pub const SHELL: &str = "/bin/bash";

/// What `CUPS_SERVER` is set to when `/var/cups` is a separate device.
pub const CUPS_SOCKET: &str = "/var/cups/cups.sock";

/// Go's `filepath.Join` of two elements (empty elements are ignored, the
/// result is cleaned).
fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

// ---- snap run (§7.1) -------------------------------------------------------

/// The snap being run, as far as `snap run`'s environment goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    pub snap_name: String,
    /// Empty when the snap is not a parallel instance.
    pub instance_key: String,
    /// The revision as snapd writes it (`42`, `x1`).
    pub revision: String,
    pub version: String,
    pub confinement: Confinement,
}

impl RunInfo {
    /// `NAME` or `NAME_KEY`.
    pub fn instance_name(&self) -> String {
        instance_name(&self.snap_name, &self.instance_key)
    }

    /// `$SNAP`: `/snap/NAME/REV` (the snap name: inside the sandbox an
    /// instance is mounted over the plain name).
    pub fn mount_dir(&self) -> String {
        format!("/snap/{}/{}", self.snap_name, self.revision)
    }
}

/// A component being run with the snap (`snap run` of a component hook).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunComponent {
    pub name: String,
    pub revision: String,
    pub version: String,
}

/// The machine-dependent inputs of the basic environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BasicInputs<'a> {
    /// The caller's real uid.
    pub uid: u32,
    /// The caller's effective uid.
    pub euid: u32,
    /// The dpkg architecture name (`amd64`, `arm64`, ...).
    pub arch: &'a str,
    /// The caller's `SNAP_REEXEC` (empty when unset).
    pub snap_reexec: &'a str,
    /// Whether `/var/lib/snapd/save/snap/INSTANCE` exists.
    pub save_data_exists: bool,
    pub component: Option<&'a RunComponent>,
}

/// snapd's `basicEnv` (plus the save-data and component variables
/// `ExtendEnvForRun` adds).
pub fn basic_env(info: &RunInfo, inp: &BasicInputs<'_>) -> Env {
    let instance = info.instance_name();
    let name = &info.snap_name;
    let mut env = Env::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    set("SNAP", info.mount_dir());
    set("SNAP_COMMON", format!("/var/snap/{name}/common"));
    set("SNAP_DATA", format!("/var/snap/{name}/{}", info.revision));
    set("SNAP_NAME", name.clone());
    set("SNAP_INSTANCE_NAME", instance.clone());
    set("SNAP_INSTANCE_KEY", info.instance_key.clone());
    set("SNAP_VERSION", info.version.clone());
    set("SNAP_REVISION", info.revision.clone());
    set("SNAP_ARCH", inp.arch.to_owned());
    set("SNAP_LIBRARY_PATH", LIBRARY_PATH.to_owned());
    set("SNAP_REEXEC", inp.snap_reexec.to_owned());
    set("SNAP_UID", inp.uid.to_string());
    set("SNAP_EUID", inp.euid.to_string());
    if inp.save_data_exists {
        set(
            "SNAP_SAVE_DATA",
            format!("/var/lib/snapd/save/snap/{instance}"),
        );
    }
    if let Some(c) = inp.component {
        set(
            "SNAP_COMPONENT",
            format!("/snap/{name}/components/mnt/{}/{}", c.name, c.revision),
        );
        set("SNAP_COMPONENT_NAME", format!("{name}+{}", c.name));
        set("SNAP_COMPONENT_VERSION", c.version.clone());
        set("SNAP_COMPONENT_REVISION", c.revision.clone());
    }
    env
}

/// The per-user data directory options (snapd's `dirs.SnapDirOptions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserDirOptions {
    /// Data under `~/.snap/data` instead of `~/snap`.
    pub hidden_snap_data_dir: bool,
    /// HOME is `~/Snap/INSTANCE` and the XDG base directories live in the
    /// data directory.
    pub migrated_to_exposed_home: bool,
}

/// The inputs of the user environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInputs<'a> {
    /// The user's real home directory; `None` when it is not known (then no
    /// user variable is set).
    pub home: Option<&'a str>,
    /// The caller's effective uid.
    pub euid: u32,
    pub opts: UserDirOptions,
    /// The `classic-preserves-xdg-runtime-dir` feature.
    pub classic_preserves_xdg_runtime_dir: bool,
    /// Where per-user runtime directories live: [`XDG_RUNTIME_DIR_BASE`]
    /// normally (snapd's tests move it under a test root).
    pub xdg_runtime_dir_base: &'a str,
}

/// snapd's `userEnv`.
pub fn user_env(info: &RunInfo, inp: &UserInputs<'_>) -> Env {
    let mut env = Env::new();
    let Some(home) = inp.home else {
        return env;
    };
    let instance = info.instance_name();
    let data_root = if inp.opts.hidden_snap_data_dir {
        join(home, ".snap/data")
    } else {
        join(home, "snap")
    };
    let user_data = join(&join(&data_root, &instance), &info.revision);
    let user_common = join(&join(&data_root, &instance), "common");
    let runtime = format!(
        "{}/{}/snap.{instance}",
        if inp.xdg_runtime_dir_base.is_empty() {
            XDG_RUNTIME_DIR_BASE
        } else {
            inp.xdg_runtime_dir_base
        },
        inp.euid
    );
    env.insert("SNAP_USER_COMMON".into(), user_common);
    env.insert("SNAP_USER_DATA".into(), user_data.clone());
    if info.confinement == Confinement::Classic {
        if !inp.classic_preserves_xdg_runtime_dir {
            env.insert("XDG_RUNTIME_DIR".into(), runtime);
        }
    } else {
        env.insert("HOME".into(), user_data.clone());
        env.insert("XDG_RUNTIME_DIR".into(), runtime);
    }
    env.insert("SNAP_REAL_HOME".into(), home.to_owned());
    if inp.opts.migrated_to_exposed_home {
        let exposed = join(&join(home, "Snap"), &instance);
        env.insert("HOME".into(), exposed.clone());
        env.insert("SNAP_USER_HOME".into(), exposed);
        for x in ["data", "config", "cache"] {
            env.insert(
                format!("XDG_{}_HOME", x.to_ascii_uppercase()),
                join(&user_data, &format!("xdg-{x}")),
            );
        }
    }
    env
}

// ---- expansion ----------------------------------------------------------------

fn is_shell_special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

fn is_alnum(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Go's `getShellName`: the name after a `$` and how many bytes it takes.
/// An empty name with a width means bad syntax (the bytes are eaten); an
/// empty name without one leaves the `$` alone.
fn shell_name(s: &str) -> (&str, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..b.len() {
            if b[i] == b'}' {
                if i == 1 {
                    return ("", 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return ("", 1);
    }
    if is_shell_special(b[0]) {
        return (&s[..1], 1);
    }
    let n = b.iter().take_while(|&&c| is_alnum(c)).count();
    (&s[..n], n)
}

/// Go's `os.Expand`: `$VAR` and `${VAR}` replaced by `lookup(VAR)`, with
/// Go's handling of special names (`$1`, `$@`, ...) and bad syntax.
pub fn expand(s: &str, lookup: impl Fn(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            let buf = out.get_or_insert_with(String::new);
            buf.push_str(&s[i..j]);
            let (name, w) = shell_name(&s[j + 1..]);
            if name.is_empty() && w > 0 {
                // bad syntax: eaten
            } else if name.is_empty() {
                buf.push('$');
            } else {
                buf.push_str(&lookup(name));
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    match out {
        None => s.to_owned(),
        Some(mut buf) => {
            buf.push_str(&s[i.min(s.len())..]);
            buf
        }
    }
}

/// Extend `env` with `extra`, each value expanded against `env` as built so
/// far (snapd's `ExtendWithExpanded`).
pub fn extend_with_expanded(env: &mut Env, extra: &Environment) {
    for (k, v) in extra.iter() {
        let value = expand(v, |name| env.get(name).cloned().unwrap_or_default());
        env.insert(k.to_owned(), value);
    }
}

/// An incoming environment as a map: the first of duplicate names wins (as
/// `getenv` does).
pub fn env_from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
    let mut env = Env::new();
    for (k, v) in pairs {
        env.entry(k).or_insert(v);
    }
    env
}

// ---- snap-exec (§7.2) ----------------------------------------------------------

/// Why snap-exec cannot run something. Messages are snapd's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    #[error("need the application to run as argument")]
    NoTarget,
    #[error("cannot use --hook and --command together")]
    HookAndCommand,
    #[error("too many arguments for hook {}: {}", quote(.hook), .args.join(" "))]
    HookArgs { hook: String, args: Vec<String> },
    #[error("cannot use {} command", quote(.0))]
    UnknownCommand(String),
    #[error("no {} command found for {}", quote(.command), quote(.app))]
    NoCommand { command: String, app: String },
    #[error("cannot find app {} in {}", quote(.app), quote(.snap))]
    NoApp { app: String, snap: String },
    #[error("cannot find hook {} in {}", quote(.hook), quote(.snap))]
    NoHook { hook: String, snap: String },
}

/// What to execute: `execve(argv[0], argv, env)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exec {
    pub argv: Vec<String>,
    pub env: Env,
}

impl Exec {
    /// The environment as `NAME=VALUE` strings, sorted by name.
    pub fn env_strings(&self) -> Vec<String> {
        self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

/// Split `SNAP.APP` at the first dot; with no dot the app is named like the
/// snap (snapd's `SplitSnapApp`).
pub fn split_snap_app(target: &str) -> (&str, &str) {
    target.split_once('.').unwrap_or((target, target))
}

/// Split a hook target `SNAP` or `SNAP+COMPONENT`.
pub fn split_component(target: &str) -> (&str, Option<&str>) {
    match target.split_once('+') {
        Some((snap, comp)) => (snap, Some(comp)),
        None => (target, None),
    }
}

/// The checked command line of snap-exec, after option parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    App {
        target: String,
        command: String,
        args: Vec<String>,
    },
    Hook {
        target: String,
        hook: String,
    },
}

/// snapd's dispatch: `--hook` excludes `--command` and extra arguments.
/// `positional` is `SNAP.APP [ARGS...]`.
pub fn request(command: &str, hook: &str, positional: &[String]) -> Result<Request, ExecError> {
    let Some((target, args)) = positional.split_first() else {
        return Err(ExecError::NoTarget);
    };
    if !hook.is_empty() {
        if !command.is_empty() {
            return Err(ExecError::HookAndCommand);
        }
        if !args.is_empty() {
            return Err(ExecError::HookArgs {
                hook: hook.to_owned(),
                args: positional.to_vec(),
            });
        }
        return Ok(Request::Hook {
            target: target.clone(),
            hook: hook.to_owned(),
        });
    }
    Ok(Request::App {
        target: target.clone(),
        command: command.to_owned(),
        args: args.to_vec(),
    })
}

/// snapd's `findCommand`: the command string `--command=C` selects.
pub fn find_command<'a>(
    app_name: &str,
    app: &'a AppInfo,
    command: &str,
) -> Result<&'a str, ExecError> {
    let cmd: &str = match command {
        "shell" => SHELL,
        "complete" if !app.completer.is_empty() => SHELL,
        "complete" => "",
        "stop" => &app.stop_command,
        "reload" => &app.reload_command,
        "post-stop" => &app.post_stop_command,
        "" | "gdb" | "gdbserver" => &app.command,
        other => return Err(ExecError::UnknownCommand(other.to_owned())),
    };
    if cmd.is_empty() {
        return Err(ExecError::NoCommand {
            command: command.to_owned(),
            app: app_name.to_owned(),
        });
    }
    Ok(cmd)
}

/// Everything snap-exec needs to run an app, besides the incoming
/// environment.
#[derive(Clone, Debug)]
pub struct AppExec<'a> {
    pub app_name: &'a str,
    pub app: &'a AppInfo,
    /// The snap-level `environment:`.
    pub snap_environment: &'a Environment,
    /// `/snap/INSTANCE/REV`.
    pub mount_dir: &'a str,
    /// `--command` (empty when not given).
    pub command: &'a str,
    /// The user's arguments (passed on unexpanded).
    pub args: &'a [String],
    /// The directory snap-exec runs from; `etelpmoc.sh` is looked up there.
    pub snap_exec_dir: &'a str,
    /// Whether `/var/` and `/var/cups/` are on different devices.
    pub cups_on_own_device: bool,
}

/// Expand command words against `env`, dropping those that become empty
/// (snapd's `expandEnvCmdArgs`).
fn expand_words<'a>(words: impl IntoIterator<Item = &'a str>, env: &Env) -> Vec<String> {
    words
        .into_iter()
        .map(|w| expand(w, |name| env.get(name).cloned().unwrap_or_default()))
        .filter(|w| !w.is_empty())
        .collect()
}

fn command_chain(mount_dir: &str, chain: &[String]) -> Vec<String> {
    chain.iter().map(|c| join(mount_dir, c)).collect()
}

/// snapd's `execApp`, minus reading snap.yaml: the argument vector and the
/// environment. `incoming` is snap-exec's own environment.
pub fn exec_app(req: &AppExec<'_>, incoming: Env) -> Result<Exec, ExecError> {
    let cmd_and_args = find_command(req.app_name, req.app, req.command)?;

    let mut env: Env = unescape_unsafe_env(incoming).into_iter().collect();
    extend_with_expanded(&mut env, req.snap_environment);
    extend_with_expanded(&mut env, &req.app.environment);
    if req.cups_on_own_device {
        env.insert("CUPS_SERVER".into(), CUPS_SOCKET.into());
    }

    // Split on single spaces: snapcraft writes the spaces, snapd validates
    // the command's characters.
    let mut words = cmd_and_args.split(' ');
    let cmd = words.next().unwrap_or_default();
    let mut cmd_args = expand_words(words, &env);
    let mut full_cmd = join(req.mount_dir, cmd);
    match req.command {
        "shell" => {
            full_cmd = SHELL.to_owned();
            cmd_args.clear();
        }
        "complete" => {
            full_cmd = SHELL.to_owned();
            cmd_args = vec![
                join(req.snap_exec_dir, "etelpmoc.sh"),
                join(req.mount_dir, &req.app.completer),
            ];
        }
        "gdb" | "gdbserver" => {
            let shim = if req.command == "gdb" {
                "snap-gdb-shim"
            } else {
                "snap-gdbserver-shim"
            };
            cmd_args.insert(0, full_cmd);
            full_cmd = join(CORE_LIB_EXEC_DIR, shim);
        }
        _ => {}
    }

    let mut argv = command_chain(req.mount_dir, &req.app.command_chain);
    argv.push(full_cmd);
    argv.extend(cmd_args);
    argv.extend(req.args.iter().cloned());
    Ok(Exec { argv, env })
}

/// Everything snap-exec needs to run a hook, besides the incoming
/// environment.
#[derive(Clone, Debug)]
pub struct HookExec<'a> {
    pub hook_name: &'a str,
    pub hook: &'a HookInfo,
    /// The snap-level `environment:`.
    pub snap_environment: &'a Environment,
    /// `/snap/INSTANCE/REV`, or the component's mount directory for a
    /// component hook.
    pub mount_dir: &'a str,
}

/// snapd's `execHook`: `MOUNTDIR/meta/hooks/HOOK` behind the hook's command
/// chain; the environment is the incoming one as it is (no `SNAP_SAVED_`
/// restoration) extended with the snap's and the hook's `environment:`.
pub fn exec_hook(req: &HookExec<'_>, incoming: Env) -> Exec {
    let mut env = incoming;
    extend_with_expanded(&mut env, req.snap_environment);
    extend_with_expanded(&mut env, &req.hook.environment);
    let mut argv = command_chain(req.mount_dir, &req.hook.command_chain);
    argv.push(join(
        req.mount_dir,
        &format!("meta/hooks/{}", req.hook_name),
    ));
    Exec { argv, env }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn lookup(e: &Env) -> impl Fn(&str) -> String + '_ {
        |n| e.get(n).cloned().unwrap_or_default()
    }

    #[test]
    fn expansion_follows_go() {
        let e = env(&[("A", "x"), ("B_1", "y"), ("1", "one")]);
        let l = lookup(&e);
        assert_eq!(expand("$A/${B_1}", &l), "x/y");
        assert_eq!(expand("$A$B_1", &l), "xy");
        assert_eq!(expand("pre-$A-post", &l), "pre-x-post");
        assert_eq!(expand("$MISSING", &l), "");
        assert_eq!(expand("$", &l), "$");
        assert_eq!(expand("cost $ 5", &l), "cost $ 5");
        assert_eq!(expand("a$/b", &l), "a$/b");
        assert_eq!(expand("${}x", &l), "x");
        assert_eq!(expand("${A", &l), "A");
        assert_eq!(expand("$1x", &l), "onex");
        assert_eq!(expand("${1}", &l), "one");
        assert_eq!(expand("é$A€", &l), "éx€");
        assert_eq!(expand("no vars", &l), "no vars");
    }

    #[test]
    fn environment_values_see_earlier_ones() {
        let mut e = env(&[("PATH", "/bin")]);
        let extra: Environment = [("A", "$PATH:/x"), ("B", "${A}:/y"), ("PATH", "$B")]
            .into_iter()
            .collect();
        extend_with_expanded(&mut e, &extra);
        assert_eq!(e["A"], "/bin:/x");
        assert_eq!(e["B"], "/bin:/x:/y");
        assert_eq!(e["PATH"], "/bin:/x:/y");
    }

    #[test]
    fn saved_variables_are_restored_unless_newer() {
        let e = env(&[
            ("SNAP_SAVED_TMPDIR", "/old"),
            ("TMPDIR", "/tmp"),
            ("SNAP_SAVED_LD_PRELOAD", "/lib/x.so"),
        ]);
        let out: Env = unescape_unsafe_env(e).into_iter().collect();
        assert_eq!(out, env(&[("TMPDIR", "/tmp"), ("LD_PRELOAD", "/lib/x.so")]));
    }

    fn app() -> AppInfo {
        AppInfo {
            command: "bin/run --flag $SNAP_DATA $NOPE".into(),
            command_chain: vec!["bin/chain".into()],
            completer: "share/complete.sh".into(),
            stop_command: "bin/stop".into(),
            environment: [("X", "$SNAP_DATA/x")].into_iter().collect(),
            ..AppInfo::default()
        }
    }

    fn run(command: &str, args: &[&str], incoming: &[(&str, &str)]) -> Result<Exec, ExecError> {
        let app = app();
        let snap_env: Environment = [("SNAP_DATA", "/var/snap/s/1")].into_iter().collect();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        exec_app(
            &AppExec {
                app_name: "app",
                app: &app,
                snap_environment: &snap_env,
                mount_dir: "/snap/s/1",
                command,
                args: &args,
                snap_exec_dir: "/usr/lib/snapd",
                cups_on_own_device: false,
            },
            env(incoming),
        )
    }

    #[test]
    fn app_command_line() {
        let x = run("", &["$HOME", ""], &[("SNAP_SAVED_LD_PRELOAD", "p")]).unwrap();
        assert_eq!(
            x.argv,
            [
                "/snap/s/1/bin/chain",
                "/snap/s/1/bin/run",
                "--flag",
                "/var/snap/s/1",
                "$HOME",
                ""
            ]
        );
        assert_eq!(x.env["X"], "/var/snap/s/1/x");
        assert_eq!(x.env["LD_PRELOAD"], "p");
        assert!(!x.env.contains_key("SNAP_SAVED_LD_PRELOAD"));
        assert!(!x.env.contains_key("CUPS_SERVER"));
    }

    #[test]
    fn special_commands() {
        let stop = run("stop", &["a"], &[]).unwrap();
        assert_eq!(
            stop.argv,
            ["/snap/s/1/bin/chain", "/snap/s/1/bin/stop", "a"]
        );
        let shell = run("shell", &["-c", "true"], &[]).unwrap();
        assert_eq!(
            shell.argv,
            ["/snap/s/1/bin/chain", "/bin/bash", "-c", "true"]
        );
        let complete = run("complete", &["w"], &[]).unwrap();
        assert_eq!(
            complete.argv,
            [
                "/snap/s/1/bin/chain",
                "/bin/bash",
                "/usr/lib/snapd/etelpmoc.sh",
                "/snap/s/1/share/complete.sh",
                "w"
            ]
        );
        let gdb = run("gdbserver", &["u"], &[]).unwrap();
        assert_eq!(
            gdb.argv,
            [
                "/snap/s/1/bin/chain",
                "/usr/lib/snapd/snap-gdbserver-shim",
                "/snap/s/1/bin/run",
                "--flag",
                "/var/snap/s/1",
                "u"
            ]
        );
    }

    #[test]
    fn command_errors() {
        assert_eq!(
            run("reload", &[], &[]).unwrap_err().to_string(),
            r#"no "reload" command found for "app""#
        );
        assert_eq!(
            run("bogus", &[], &[]).unwrap_err().to_string(),
            r#"cannot use "bogus" command"#
        );
        let mut a = app();
        a.completer.clear();
        assert_eq!(
            find_command("app", &a, "complete").unwrap_err().to_string(),
            r#"no "complete" command found for "app""#
        );
    }

    #[test]
    fn cups_server_is_set_last() {
        let app = AppInfo {
            command: "x".into(),
            environment: [("CUPS_SERVER", "mine")].into_iter().collect(),
            ..AppInfo::default()
        };
        let x = exec_app(
            &AppExec {
                app_name: "a",
                app: &app,
                snap_environment: &Environment::default(),
                mount_dir: "/snap/s/1",
                command: "",
                args: &[],
                snap_exec_dir: "/usr/lib/snapd",
                cups_on_own_device: true,
            },
            Env::new(),
        )
        .unwrap();
        assert_eq!(x.env["CUPS_SERVER"], CUPS_SOCKET);
    }

    #[test]
    fn hooks() {
        let hook = HookInfo {
            command_chain: vec!["bin/hc".into()],
            environment: [("H", "$S-h")].into_iter().collect(),
            ..HookInfo::default()
        };
        let snap_env: Environment = [("S", "s")].into_iter().collect();
        let x = exec_hook(
            &HookExec {
                hook_name: "configure",
                hook: &hook,
                snap_environment: &snap_env,
                mount_dir: "/snap/s/1",
            },
            env(&[("SNAP_SAVED_TMPDIR", "/t")]),
        );
        assert_eq!(
            x.argv,
            ["/snap/s/1/bin/hc", "/snap/s/1/meta/hooks/configure"]
        );
        assert_eq!(x.env["H"], "s-h");
        assert_eq!(x.env["SNAP_SAVED_TMPDIR"], "/t");
        assert!(!x.env.contains_key("TMPDIR"));
    }

    #[test]
    fn requests() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(request("", "", &[]), Err(ExecError::NoTarget));
        assert_eq!(
            request("stop", "configure", &v(&["s"]))
                .unwrap_err()
                .to_string(),
            "cannot use --hook and --command together"
        );
        assert_eq!(
            request("", "configure", &v(&["s", "a"]))
                .unwrap_err()
                .to_string(),
            r#"too many arguments for hook "configure": s a"#
        );
        assert_eq!(
            request("", "configure", &v(&["s"])).unwrap(),
            Request::Hook {
                target: "s".into(),
                hook: "configure".into()
            }
        );
        assert_eq!(split_snap_app("s_k.app"), ("s_k", "app"));
        assert_eq!(split_snap_app("s"), ("s", "s"));
        assert_eq!(split_component("s+c"), ("s", Some("c")));
    }

    #[test]
    fn user_env_without_home_is_empty() {
        let info = RunInfo {
            snap_name: "s".into(),
            revision: "1".into(),
            ..RunInfo::default()
        };
        assert!(user_env(&info, &UserInputs::default()).is_empty());
        let e = user_env(
            &info,
            &UserInputs {
                home: Some("/home/u"),
                euid: 1000,
                ..UserInputs::default()
            },
        );
        assert_eq!(e["XDG_RUNTIME_DIR"], "/run/user/1000/snap.s");
        assert_eq!(e["HOME"], "/home/u/snap/s/1");
    }
}
