//! From snap-confine's command line and environment to a validated request
//! (spec §6.1, §6.2).
//!
//! Everything here is checked before the launcher touches the system: an
//! invalid request fails with a message and changes nothing.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use snapcell_core::args::parse_confine_args;
use snapcell_core::naming::{
    TagTarget, parse_security_tag, snap_name_of, validate_instance_name, validate_security_tag,
    validate_snap_name,
};
use snapcell_sys::log::debug_enabled;

use crate::error::{Error, Result};

/// The default base snap (`--base` not given).
pub const DEFAULT_BASE: &str = "core";

/// Default and largest `SNAP_CONFINE_MAX_PROFILE_WAIT`, in seconds.
pub const DEFAULT_PROFILE_WAIT: u64 = 120;
pub const MAX_PROFILE_WAIT: u64 = 3600;

/// What the launcher was asked to do, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `snap.INSTANCE.APP` or `snap.INSTANCE[+COMP].hook.HOOK`.
    pub security_tag: String,
    /// `NAME` or `NAME_KEY`.
    pub instance_name: String,
    /// `NAME`.
    pub snap_name: String,
    /// `SNAP_COMPONENT_NAME` (`snap+comp`), if set.
    pub component: Option<String>,
    /// Whether the tag names a hook.
    pub is_hook: bool,
    /// The base snap as requested (`--base`, default `core`).
    pub base: String,
    /// `--classic`.
    pub classic: bool,
    /// The program to run, as given.
    pub executable: OsString,
    /// Its argv: `[EXECUTABLE, ARGS...]`, bytes unchanged.
    pub argv: Vec<OsString>,
    /// `SNAPD_DEBUG` is set to a true value.
    pub debug: bool,
    /// How long to wait for the seccomp profile (`SNAP_CONFINE_MAX_PROFILE_WAIT`).
    pub profile_wait: Duration,
    /// `SNAP_USER_DATA`, if set (absolute).
    pub user_data: Option<OsString>,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// `--version`.
    Version,
    Launch(Box<Request>),
}

/// A variable of `env`, the last one if repeated (as `getenv` would see
/// the first; snap run never repeats them, and the last wins for `env -i`
/// style construction in tests).
fn lookup<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(k, _)| k.as_bytes() == name.as_bytes())
        .map(|(_, v)| v.as_os_str())
}

fn utf8<'a>(name: &str, value: &'a OsStr) -> Result<&'a str> {
    value
        .to_str()
        .ok_or_else(|| Error::new(format!("{name} is not valid UTF-8")))
}

/// Parse and validate. `argv` includes `argv[0]`.
pub fn parse_request(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<Invocation> {
    // The parser works on strings; only the arguments it interprets need to
    // be text, the app's own arguments are passed on byte for byte.
    let lossy: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args = parse_confine_args(&lossy).map_err(|e| match e {
        snapcell_core::args::ConfineArgsError::Usage(_) => Error::usage(e.to_string()),
        other => Error::new(other.to_string()),
    })?;
    if args.version_query {
        return Ok(Invocation::Version);
    }
    // argv = argv0, options..., TAG, EXECUTABLE, ARGS...; the parser keeps
    // argv0 + ARGS in remaining_argv.
    let n_args = args.remaining_argv.len() - 1;
    let exe_index = argv.len() - n_args - 1;
    let executable = argv[exe_index].clone();
    let tag_raw = &argv[exe_index - 1];
    let security_tag = utf8("the security tag", tag_raw)?.to_owned();
    let mut exec_argv = vec![executable.clone()];
    exec_argv.extend(argv[exe_index + 1..].iter().cloned());

    let instance_name = match lookup(env, "SNAP_INSTANCE_NAME") {
        Some(v) => utf8("SNAP_INSTANCE_NAME", v)?.to_owned(),
        None => return Err(Error::new("SNAP_INSTANCE_NAME is not set")),
    };
    validate_instance_name(&instance_name)?;
    let component = match lookup(env, "SNAP_COMPONENT_NAME") {
        Some(v) if !v.is_empty() => {
            let v = utf8("SNAP_COMPONENT_NAME", v)?;
            // snap+comp: the snap part must be this snap.
            let (snap, comp) = v
                .split_once('+')
                .ok_or_else(|| Error::new(format!("invalid component name {v:?}")))?;
            if snap != snap_name_of(&instance_name) || comp.is_empty() {
                return Err(Error::new(format!(
                    "component {v:?} does not belong to snap {:?}",
                    snap_name_of(&instance_name)
                )));
            }
            Some(comp.to_owned())
        }
        _ => None,
    };
    validate_security_tag(&security_tag, &instance_name, component.as_deref())?;
    let is_hook = matches!(
        parse_security_tag(&security_tag).map(|t| t.target),
        Some(TagTarget::Hook { .. })
    );

    let base = args
        .base_snap
        .clone()
        .unwrap_or_else(|| DEFAULT_BASE.to_owned());
    validate_snap_name(&base)?;

    let profile_wait = match lookup(env, "SNAP_CONFINE_MAX_PROFILE_WAIT") {
        None => Duration::from_secs(DEFAULT_PROFILE_WAIT),
        Some(v) => {
            let text = utf8("SNAP_CONFINE_MAX_PROFILE_WAIT", v)?;
            let secs: u64 = text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::new(format!(
                    "SNAP_CONFINE_MAX_PROFILE_WAIT invalid: {text:?}, must be a positive integer"
                ))
            })?;
            Duration::from_secs(secs.min(MAX_PROFILE_WAIT))
        }
    };

    let user_data = match lookup(env, "SNAP_USER_DATA") {
        Some(v) if !v.is_empty() => {
            if !v.as_bytes().starts_with(b"/") {
                return Err(Error::new(format!(
                    "user data directory must be an absolute path: {}",
                    v.to_string_lossy()
                )));
            }
            Some(v.to_owned())
        }
        _ => None,
    };

    Ok(Invocation::Launch(Box::new(Request {
        snap_name: snap_name_of(&instance_name).to_owned(),
        security_tag,
        instance_name,
        component,
        is_hook,
        base,
        classic: args.classic,
        executable,
        argv: exec_argv,
        debug: debug_enabled(lookup(env, "SNAPD_DEBUG")),
        profile_wait,
        user_data,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn env(v: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        v.iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn launch(argv: &[&str], e: &[(&str, &str)]) -> Result<Request> {
        match parse_request(&os(argv), &env(e))? {
            Invocation::Launch(r) => Ok(*r),
            Invocation::Version => panic!("version"),
        }
    }

    #[test]
    fn a_plain_app_launch() {
        let r = launch(
            &[
                "snap-confine",
                "--base",
                "core22",
                "snap.hello.hello",
                "/usr/lib/snapd/snap-exec",
                "hello.hello",
                "--x",
            ],
            &[("SNAP_INSTANCE_NAME", "hello"), ("SNAPD_DEBUG", "1")],
        )
        .unwrap();
        assert_eq!(r.instance_name, "hello");
        assert_eq!(r.snap_name, "hello");
        assert_eq!(r.base, "core22");
        assert!(r.debug && !r.classic && !r.is_hook);
        assert_eq!(
            r.argv,
            os(&["/usr/lib/snapd/snap-exec", "hello.hello", "--x"])
        );
        assert_eq!(r.profile_wait, Duration::from_secs(120));
    }

    #[test]
    fn arguments_after_the_executable_pass_unchanged_even_if_not_text() {
        use std::os::unix::ffi::OsStringExt;
        let mut argv = os(&["snap-confine", "snap.ab_x.b", "/bin/sh"]);
        argv.push(OsString::from_vec(vec![0xff, b'-', b'x']));
        let r = match parse_request(&argv, &env(&[("SNAP_INSTANCE_NAME", "ab_x")])).unwrap() {
            Invocation::Launch(r) => *r,
            Invocation::Version => unreachable!(),
        };
        assert_eq!(r.argv[1].as_bytes(), [0xff, b'-', b'x']);
        assert_eq!(r.base, "core");
        assert_eq!(r.snap_name, "ab");
    }

    #[test]
    fn refusals() {
        let e = launch(&["sc", "snap.hello.hello", "/bin/sh"], &[]).unwrap_err();
        assert_eq!(e.to_string(), "SNAP_INSTANCE_NAME is not set");
        let e = launch(
            &["sc", "snap.other.hello", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "hello")],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "security tag snap.other.hello not allowed");
        let e = launch(
            &["sc", "snap.hello_x.hello", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "hello")],
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "security tag snap.hello_x.hello not allowed");
        let e = launch(
            &["sc", "snap.Hello.hello", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "Hello")],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "snap name must use lower case letters, digits or dashes"
        );
        let e = launch(
            &["sc", "--base", "Core", "snap.hello.hello", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "hello")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("lower case"), "{e}");
        let e = launch(&["sc", "--bogus", "snap.hello.hello", "/bin/sh"], &[]).unwrap_err();
        assert!(e.is_usage());
        let e = launch(
            &["sc", "snap.hello.hello", "/bin/sh"],
            &[
                ("SNAP_INSTANCE_NAME", "hello"),
                ("SNAP_CONFINE_MAX_PROFILE_WAIT", "0"),
            ],
        )
        .unwrap_err();
        assert!(e.to_string().contains("positive integer"), "{e}");
        let e = launch(
            &["sc", "snap.hello.hello", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "hello"), ("SNAP_USER_DATA", "rel")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("absolute"), "{e}");
    }

    #[test]
    fn hooks_and_components() {
        let r = launch(
            &["sc", "snap.hello.hook.configure", "/bin/sh"],
            &[("SNAP_INSTANCE_NAME", "hello")],
        )
        .unwrap();
        assert!(r.is_hook && r.component.is_none());
        let r = launch(
            &["sc", "snap.hello+comp.hook.install", "/bin/sh"],
            &[
                ("SNAP_INSTANCE_NAME", "hello"),
                ("SNAP_COMPONENT_NAME", "hello+comp"),
            ],
        )
        .unwrap();
        assert_eq!(r.component.as_deref(), Some("comp"));
        assert!(
            launch(
                &["sc", "snap.hello+comp.hook.install", "/bin/sh"],
                &[("SNAP_INSTANCE_NAME", "hello")],
            )
            .is_err()
        );
    }

    #[test]
    fn the_wait_is_capped_and_version_short_circuits() {
        let r = launch(
            &["sc", "snap.hello.hello", "/bin/sh"],
            &[
                ("SNAP_INSTANCE_NAME", "hello"),
                ("SNAP_CONFINE_MAX_PROFILE_WAIT", "99999"),
            ],
        )
        .unwrap();
        assert_eq!(r.profile_wait, Duration::from_secs(3600));
        assert_eq!(
            parse_request(&os(&["sc", "--version"]), &[]).unwrap(),
            Invocation::Version
        );
    }
}
