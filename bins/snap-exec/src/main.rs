//! snap-exec (spec §7.2): run inside the sandbox by snap-confine, it reads
//! the snap's `meta/snap.yaml`, builds the app's (or hook's) environment and
//! command line, and executes it.
//!
//! `snap-exec [--command=C] [--hook=H] SNAP.APP [ARGS...]`
//!
//! The revision comes from `SNAP_REVISION`, the instance name from the
//! target; the snap is read from `/snap/INSTANCE/REV`. All the computing is
//! done by `snapcell_core::snapenv`; this file reads, stats and executes.
#![forbid(unsafe_code)]

mod interp;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use snapcell_core::goquote::quote;
use snapcell_core::naming::{parse_revision, validate_instance_name};
use snapcell_core::snap_yaml::SnapInfo;
use snapcell_core::snapenv::{
    AppExec, Env, Exec, ExecError, HookExec, Request, env_from_pairs, exec_app, exec_hook, request,
    split_component, split_snap_app,
};

/// Where snaps are mounted (`$SNAP` is always under `/snap`).
const SNAP_MOUNT_DIR: &str = "/snap";

const USAGE: &str = "Usage:
  snap-exec [OPTIONS] SNAP.APP [ARGS...]

Application Options:
      --command=  use a different command like {stop,post-stop} from the app
      --hook=     hook to run

Help Options:
  -h, --help      Show this help message
";

/// The parsed command line. `extra` keeps the user's arguments as given
/// (they are passed on untouched, so they need not be UTF-8).
struct Cli {
    command: String,
    hook: String,
    target: Option<String>,
    extra: Vec<OsString>,
}

enum Parsed {
    Run(Cli),
    Help,
}

fn utf8(arg: &OsStr, what: &str) -> Result<String, String> {
    arg.to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} is not valid UTF-8: {}", arg.to_string_lossy()))
}

/// Options come before the first non-option argument (go-flags with
/// `PassAfterNonOption` and `PassDoubleDash`).
fn parse_args(args: &[OsString]) -> Result<Parsed, String> {
    let mut cli = Cli {
        command: String::new(),
        hook: String::new(),
        target: None,
        extra: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_bytes();
        if arg == b"--" {
            i += 1;
            break;
        }
        if arg == b"-h" || arg == b"--help" {
            return Ok(Parsed::Help);
        }
        if !arg.starts_with(b"-") || arg == b"-" {
            break;
        }
        let text = utf8(&args[i], "option")?;
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (text.clone(), None),
        };
        let slot = match name.as_str() {
            "--command" => &mut cli.command,
            "--hook" => &mut cli.hook,
            _ => {
                let flag = name.trim_start_matches('-');
                return Err(format!("unknown flag `{flag}'"));
            }
        };
        *slot = match inline {
            Some(v) => v,
            None => {
                i += 1;
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("expected argument for flag `{name}'"))?;
                utf8(v, "option value")?
            }
        };
        i += 1;
    }
    if let Some(target) = args.get(i) {
        cli.target = Some(utf8(target, "the target")?);
        cli.extra = args[i + 1..].to_vec();
    }
    Ok(Parsed::Run(cli))
}

/// The incoming environment, split into what the core computes with (UTF-8)
/// and what is passed on as it is.
fn incoming_env() -> (Env, Vec<(OsString, OsString)>) {
    let mut utf8 = Vec::new();
    let mut other = Vec::new();
    for (k, v) in std::env::vars_os() {
        match (k.to_str(), v.to_str()) {
            (Some(k), Some(v)) => utf8.push((k.to_owned(), v.to_owned())),
            _ => other.push((k, v)),
        }
    }
    (env_from_pairs(utf8), other)
}

/// Whether `/var/` and `/var/cups/` are on different devices (then
/// `CUPS_SERVER` points at the cups socket there).
fn cups_on_own_device() -> bool {
    match (std::fs::metadata("/var/"), std::fs::metadata("/var/cups/")) {
        (Ok(var), Ok(cups)) => var.dev() != cups.dev(),
        _ => false,
    }
}

/// `/snap/INSTANCE/REV` and its snap.yaml, parsed.
fn read_info(instance: &str) -> Result<(String, SnapInfo), String> {
    let revision = std::env::var("SNAP_REVISION").unwrap_or_default();
    let rev = parse_revision(&revision).map_err(|_| {
        format!(
            "cannot parse revision {}: invalid snap revision: {}",
            quote(&revision),
            quote(&revision)
        )
    })?;
    let fail = |why: String| format!("cannot read info for {}: {why}", quote(instance));
    validate_instance_name(instance).map_err(|e| fail(e.to_string()))?;
    let mount_dir = format!("{SNAP_MOUNT_DIR}/{instance}/{rev}");
    let yaml = Path::new(&mount_dir).join("meta/snap.yaml");
    let text = match std::fs::read_to_string(&yaml) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "cannot find installed snap {} at revision {rev}: missing file {}",
                quote(instance),
                yaml.display()
            )));
        }
        Err(e) => return Err(fail(format!("cannot read {}: {e}", yaml.display()))),
    };
    let info = SnapInfo::parse(&text).map_err(|e| fail(e.to_string()))?;
    Ok((mount_dir, info))
}

/// The hooks in `MOUNT_DIR/meta/hooks` that snap.yaml does not declare,
/// added as snapd's `snap.ReadInfo` adds them (a missing or unreadable
/// directory adds none, as in snapd).
fn add_implicit_hooks(info: &mut SnapInfo, mount_dir: &str) {
    let Ok(entries) = std::fs::read_dir(Path::new(mount_dir).join("meta/hooks")) else {
        return;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    info.add_implicit_hooks(names.iter().map(String::as_str));
}

fn snap_exec_dir() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "/usr/lib/snapd".to_owned())
}

fn run() -> Result<(), String> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let cli = match parse_args(&args)? {
        Parsed::Help => {
            print!("{USAGE}");
            return Ok(());
        }
        Parsed::Run(cli) => cli,
    };
    let mut positional: Vec<String> = cli.target.iter().cloned().collect();
    positional.extend(cli.extra.iter().map(|a| a.to_string_lossy().into_owned()));
    let req = request(&cli.command, &cli.hook, &positional).map_err(|e| e.to_string())?;
    let (env, passthrough) = incoming_env();

    let exec: Exec = match req {
        Request::App {
            target, command, ..
        } => {
            let (instance, app_name) = split_snap_app(&target);
            let (mount_dir, info) = read_info(instance)?;
            let app = info.apps.get(app_name).ok_or_else(|| {
                ExecError::NoApp {
                    app: app_name.to_owned(),
                    snap: instance.to_owned(),
                }
                .to_string()
            })?;
            let dir = snap_exec_dir();
            exec_app(
                &AppExec {
                    app_name,
                    app,
                    snap_environment: &info.environment,
                    mount_dir: &mount_dir,
                    command: &command,
                    // The user's arguments are appended below, untouched.
                    args: &[],
                    snap_exec_dir: &dir,
                    cups_on_own_device: cups_on_own_device(),
                },
                env,
            )
            .map_err(|e| e.to_string())?
        }
        Request::Hook { target, hook } => {
            let (instance, component) = split_component(&target);
            if let Some(comp) = component {
                return Err(format!(
                    "cannot run hook {} of component {}: component hooks are not supported",
                    quote(&hook),
                    quote(&format!("{instance}+{comp}"))
                ));
            }
            let (mount_dir, mut info) = read_info(instance)?;
            add_implicit_hooks(&mut info, &mount_dir);
            let hook_info = info.hooks.get(&hook).ok_or_else(|| {
                ExecError::NoHook {
                    hook: hook.clone(),
                    snap: instance.to_owned(),
                }
                .to_string()
            })?;
            exec_hook(
                &HookExec {
                    hook_name: &hook,
                    hook: hook_info,
                    snap_environment: &info.environment,
                    mount_dir: &mount_dir,
                },
                env,
            )
        }
    };

    let program = exec.argv[0].clone();
    let mut cmd = Command::new(&program);
    cmd.args(&exec.argv[1..]).args(&cli.extra).env_clear();
    for (k, v) in &passthrough {
        if !k.to_str().is_some_and(|k| exec.env.contains_key(k)) {
            cmd.env(k, v);
        }
    }
    cmd.envs(&exec.env);
    trace_exec(&program);
    let err = cmd.exec();
    Err(exec_error(&program, &err))
}

/// Under `SNAPD_DEBUG`, the moment the app is executed, for `snapcell
/// run --trace` (which compares it with when it started snap-confine).
fn trace_exec(program: &str) {
    let on = matches!(
        std::env::var("SNAPD_DEBUG").as_deref(),
        Ok("1" | "t" | "T" | "true" | "TRUE" | "True")
    );
    if on {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        eprintln!(
            "DEBUG: snap-exec: executing {program} (at UNIX time {}.{:09})",
            at.as_secs(),
            at.subsec_nanos()
        );
    }
}

/// The message for a failed exec. `ENOENT` for a program that exists means
/// its interpreter is missing: name it.
fn exec_error(program: &str, err: &std::io::Error) -> String {
    let shown = quote(program);
    if err.kind() == std::io::ErrorKind::NotFound && program.contains('/') {
        match interp::missing_interpreter(Path::new(program)) {
            Some(interp::Interpreter::Elf(loader)) => {
                return format!(
                    "cannot exec {shown}: its ELF interpreter {loader} is missing in this base"
                );
            }
            Some(interp::Interpreter::Script(path)) => {
                return format!(
                    "cannot exec {shown}: its interpreter {path} (its #! line) is missing in this base"
                );
            }
            None => {}
        }
    }
    format!("cannot exec {shown}: {err}")
}

fn main() {
    if let Err(msg) = run() {
        eprintln!("cannot snap-exec: {msg}");
        std::process::exit(1);
    }
}
