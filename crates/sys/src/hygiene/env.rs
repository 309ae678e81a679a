//! The environment snap-confine hands to the executable (spec §6.4 step 11,
//! §7.1).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Prefix under which variables the loader would strip are carried through
/// snap-confine (spec §7.1).
pub const SAVED_PREFIX: &str = "SNAP_SAVED_";

/// Variables escaped with [`SAVED_PREFIX`]: snapd's `unsafeEnv` (glibc's
/// `UNSECURE_ENVVARS` from `sysdeps/generic/unsecvars.h`, which ld.so and the
/// static start-up code remove from the environment of a secure-execution
/// process), plus `MALLOC_CHECK_`, which glibc's tunables code also erases in
/// secure mode (tunable security level `SXID_ERASE`). The other `MALLOC_*`
/// tunable aliases are `SXID_IGNORE`: ignored by the setuid process itself
/// but left in the environment, so they reach the application unescaped.
/// Escaping a superset is harmless (snap-exec restores any prefixed name).
pub const UNSAFE_ENV_VARS: &[&str] = &[
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LD_AUDIT",
    "LD_DEBUG",
    "LD_DEBUG_OUTPUT",
    "LD_DYNAMIC_WEAK",
    "LD_HWCAP_MASK",
    "LD_LIBRARY_PATH",
    "LD_ORIGIN_PATH",
    "LD_PRELOAD",
    "LD_PROFILE",
    "LD_SHOW_AUXV",
    "LD_USE_LOAD_BIAS",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_CHECK_",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// `PATH` for strict and devmode snaps (spec §6.4 step 11): the base snap's
/// layout, not the host's.
pub const STRICT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games";

/// An environment as name/value pairs, in order.
pub type Env = Vec<(OsString, OsString)>;

/// Whether `name` is one of [`UNSAFE_ENV_VARS`].
pub fn is_unsafe_env_var(name: &OsStr) -> bool {
    UNSAFE_ENV_VARS.iter().any(|v| OsStr::new(v) == name)
}

fn saved_name(name: &OsStr) -> OsString {
    let mut s = OsString::from(SAVED_PREFIX);
    s.push(name);
    s
}

fn strip_saved(name: &OsStr) -> Option<&OsStr> {
    name.as_bytes()
        .strip_prefix(SAVED_PREFIX.as_bytes())
        .map(OsStr::from_bytes)
}

/// What `snap run` does before exec'ing snap-confine (snapd's
/// `Environment.ForExecEscapeUnsafe("SNAP_SAVED_")`): variables already
/// carrying the prefix are dropped ("they would be mishandled down the
/// chain"), [`UNSAFE_ENV_VARS`] are renamed to `SNAP_SAVED_NAME`, and the
/// result is sorted by final name. Duplicate names keep the first value.
pub fn escape_unsafe_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let mut out: std::collections::BTreeMap<OsString, OsString> = Default::default();
    for (k, v) in env {
        if strip_saved(&k).is_some() {
            continue;
        }
        let k = if is_unsafe_env_var(&k) {
            saved_name(&k)
        } else {
            k
        };
        out.entry(k).or_insert(v);
    }
    out.into_iter().collect()
}

/// What snap-exec does with its incoming environment (snapd's
/// `OSEnvironmentUnescapeUnsafe("SNAP_SAVED_")`): `SNAP_SAVED_NAME=v` becomes
/// `NAME=v`, unless `NAME` is already set (that value is newer, e.g.
/// `TMPDIR=/tmp` set by snap-confine, and wins). Order is kept; duplicate
/// names keep the first value.
pub fn unescape_unsafe_env(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let env = dedup(env);
    let plain: BTreeSet<OsString> = env
        .iter()
        .filter(|(k, _)| strip_saved(k).is_none())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Env::with_capacity(env.len());
    let mut seen = BTreeSet::new();
    for (k, v) in env {
        match strip_saved(&k) {
            None => {
                seen.insert(k.clone());
                out.push((k, v));
            }
            Some(name) if name.is_empty() || plain.contains(name) || seen.contains(name) => {}
            Some(name) => {
                seen.insert(name.to_owned());
                out.push((name.to_owned(), v));
            }
        }
    }
    out
}

fn dedup(env: impl IntoIterator<Item = (OsString, OsString)>) -> Env {
    let mut seen = BTreeSet::new();
    env.into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

/// How the application is confined, for [`confined_env`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvConfinement {
    /// Strict or devmode: PATH, TMPDIR and TEMPDIR are reset (§6.4 step 11).
    Strict,
    /// Classic: the host's values stay.
    Classic,
}

/// The environment snap-confine passes to the executable, given the one it
/// received (`std::env::vars_os()`):
///
/// * `SNAP_SAVED_*` variables pass unchanged: they are snap run's escaped
///   values, for snap-exec to restore.
/// * A raw [`UNSAFE_ENV_VARS`] entry (only possible when the loader did not
///   strip it: a root caller, which gets no secure execution, or a caller
///   that bypassed `snap run`) never reaches the executable under its own
///   name: it is escaped to `SNAP_SAVED_NAME`, or dropped if that is already
///   present (snap run's value wins). The application still gets it back
///   from snap-exec, exactly as under snapd.
/// * Strict: `PATH` = [`STRICT_PATH`], `TMPDIR` = `TEMPDIR` = `/tmp`, replaced
///   in place or appended. snap-exec keeps this `TMPDIR` over
///   `SNAP_SAVED_TMPDIR`.
/// * Duplicate names keep the first value (snap-exec refuses duplicates).
///
/// `SNAP_COOKIE`/`SNAP_CONTEXT` are the caller's business.
pub fn confined_env(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    confinement: EnvConfinement,
) -> Env {
    let env = dedup(env);
    let saved: BTreeSet<OsString> = env
        .iter()
        .filter(|(k, _)| strip_saved(k).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Env::with_capacity(env.len() + 3);
    for (k, v) in env {
        if is_unsafe_env_var(&k) {
            let escaped = saved_name(&k);
            if !saved.contains(&escaped) {
                out.push((escaped, v));
            }
        } else {
            out.push((k, v));
        }
    }
    if confinement == EnvConfinement::Strict {
        set_var(&mut out, "PATH", STRICT_PATH);
        set_var(&mut out, "TMPDIR", "/tmp");
        set_var(&mut out, "TEMPDIR", "/tmp");
    }
    out
}

fn set_var(env: &mut Env, name: &str, value: &str) {
    match env.iter_mut().find(|(k, _)| k == name) {
        Some((_, v)) => *v = value.into(),
        None => env.push((name.into(), value.into())),
    }
}

/// `NAME=value` strings for `execve`.
pub fn env_for_exec(env: &Env) -> Vec<OsString> {
    env.iter()
        .map(|(k, v)| {
            let mut s = k.clone().into_vec();
            s.push(b'=');
            s.extend_from_slice(v.as_bytes());
            OsString::from_vec(s)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    #[test]
    fn escape_like_snap_run() {
        let got = escape_unsafe_env(env(&[
            ("PATH", "/bin"),
            ("LD_PRELOAD", "x.so"),
            ("SNAP_SAVED_FOO", "dropped"),
            ("TMPDIR", "/var/tmp"),
            ("HOME", "/home/u"),
        ]));
        assert_eq!(
            got,
            env(&[
                ("HOME", "/home/u"),
                ("PATH", "/bin"),
                ("SNAP_SAVED_LD_PRELOAD", "x.so"),
                ("SNAP_SAVED_TMPDIR", "/var/tmp"),
            ])
        );
    }

    #[test]
    fn unescape_like_snap_exec() {
        let got = unescape_unsafe_env(env(&[
            ("SNAP_SAVED_LD_PRELOAD", "x.so"),
            ("SNAP_SAVED_TMPDIR", "/var/tmp"),
            ("TMPDIR", "/tmp"),
            ("SNAP_SAVED_", "empty"),
        ]));
        assert_eq!(got, env(&[("LD_PRELOAD", "x.so"), ("TMPDIR", "/tmp")]));
    }

    #[test]
    fn confined_env_strict_and_classic() {
        let input = env(&[
            ("PATH", "/host/bin"),
            ("SNAP_SAVED_LD_LIBRARY_PATH", "/a"),
            ("LD_LIBRARY_PATH", "/raw"),
            ("LD_PRELOAD", "evil.so"),
            ("HOME", "/home/u"),
            ("HOME", "/dup"),
            ("SNAP_SAVED_TMPDIR", "/var/tmp"),
        ]);
        let strict = confined_env(input.clone(), EnvConfinement::Strict);
        assert_eq!(
            strict,
            env(&[
                ("PATH", STRICT_PATH),
                ("SNAP_SAVED_LD_LIBRARY_PATH", "/a"),
                ("SNAP_SAVED_LD_PRELOAD", "evil.so"),
                ("HOME", "/home/u"),
                ("SNAP_SAVED_TMPDIR", "/var/tmp"),
                ("TMPDIR", "/tmp"),
                ("TEMPDIR", "/tmp"),
            ])
        );
        let classic = confined_env(input, EnvConfinement::Classic);
        assert_eq!(
            classic[0],
            (OsString::from("PATH"), OsString::from("/host/bin"))
        );
        assert!(
            !classic
                .iter()
                .any(|(k, _)| k == "TMPDIR" || k == "LD_PRELOAD" || k == "LD_LIBRARY_PATH")
        );
        // What the application finally sees, after snap-exec.
        let app = unescape_unsafe_env(strict);
        let get = |n: &str| {
            app.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("TMPDIR").as_deref(), Some("/tmp"));
        assert_eq!(get("LD_LIBRARY_PATH").as_deref(), Some("/a"));
        assert_eq!(get("LD_PRELOAD").as_deref(), Some("evil.so"));
    }
}
