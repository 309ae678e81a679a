//! The environment snap-confine hands to the executable (spec §6.4 step 11,
//! §7.1). The `SNAP_SAVED_` escape itself, shared with snap run and
//! snap-exec, is [`snapcell_core::saved_env`].

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use snapcell_core::saved_env::{EnvName, is_unsafe_env_var};

/// `PATH` for strict and devmode snaps (spec §6.4 step 11): the base snap's
/// layout, not the host's.
pub const STRICT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/games:/usr/local/games";

/// An environment as name/value pairs, in order.
pub type Env = Vec<(OsString, OsString)>;

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
/// * A raw [`UNSAFE_ENV_VARS`](snapcell_core::saved_env::UNSAFE_ENV_VARS)
///   entry (only possible when the loader did not strip it: a root caller,
///   which gets no secure execution, or a caller that bypassed `snap run`)
///   never reaches the executable under its own name: it is escaped to
///   `SNAP_SAVED_NAME`, or dropped if that is already present (snap run's
///   value wins). The application still gets it back
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
        .filter(|(k, _)| k.is_saved())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Env::with_capacity(env.len() + 3);
    for (k, v) in env {
        if is_unsafe_env_var(&k) {
            let escaped = k.saved();
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
    use snapcell_core::saved_env::unescape_unsafe_env;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
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
