//! The `SNAP_SAVED_` escape (spec §7.1): how variables the dynamic loader
//! would strip from a set-user-ID process cross snap-confine.
//!
//! `snap run` renames them to `SNAP_SAVED_NAME` ([`escape_unsafe_env`]),
//! snap-confine passes them on under that name, and snap-exec restores them
//! ([`unescape_unsafe_env`]). Both sides of the launch chain use this one
//! module: snap-exec on UTF-8 `String`s, snap-confine on any bytes
//! (`OsString`), through [`EnvName`].
//!
//! This module depends on nothing else in the crate (no snap.yaml), so that
//! snap-confine can use it without linking the YAML parser.

use std::collections::{BTreeMap, BTreeSet};
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

/// Whether `name` is one of [`UNSAFE_ENV_VARS`].
pub fn is_unsafe_env_var(name: &OsStr) -> bool {
    is_unsafe_name(name.as_bytes())
}

fn is_unsafe_name(name: &[u8]) -> bool {
    UNSAFE_ENV_VARS.iter().any(|v| v.as_bytes() == name)
}

/// The name of an environment variable: a `String` (snap-exec computes in
/// UTF-8) or an `OsString` (snap-confine passes any bytes on).
pub trait EnvName: Clone + Ord {
    /// The name's bytes.
    fn name_bytes(&self) -> &[u8];
    /// `SNAP_SAVED_` followed by this name.
    fn saved(&self) -> Self;
    /// This name without its `SNAP_SAVED_` prefix; `None` without one.
    fn strip_saved(&self) -> Option<Self>;

    /// Whether this name carries the `SNAP_SAVED_` prefix.
    fn is_saved(&self) -> bool {
        self.name_bytes().starts_with(SAVED_PREFIX.as_bytes())
    }
}

impl EnvName for String {
    fn name_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn saved(&self) -> Self {
        format!("{SAVED_PREFIX}{self}")
    }
    fn strip_saved(&self) -> Option<Self> {
        self.strip_prefix(SAVED_PREFIX).map(str::to_owned)
    }
}

impl EnvName for OsString {
    fn name_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
    fn saved(&self) -> Self {
        let mut s = OsString::from(SAVED_PREFIX);
        s.push(self);
        s
    }
    fn strip_saved(&self) -> Option<Self> {
        self.as_bytes()
            .strip_prefix(SAVED_PREFIX.as_bytes())
            .map(|name| OsString::from_vec(name.to_vec()))
    }
}

/// What `snap run` does before exec'ing snap-confine (snapd's
/// `Environment.ForExecEscapeUnsafe("SNAP_SAVED_")`): variables already
/// carrying the prefix are dropped ("they would be mishandled down the
/// chain"), [`UNSAFE_ENV_VARS`] are renamed to `SNAP_SAVED_NAME`, and the
/// result is sorted by final name. Duplicate names keep the first value.
pub fn escape_unsafe_env<K: EnvName, V>(env: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    let mut out: BTreeMap<K, V> = BTreeMap::new();
    for (k, v) in env {
        if k.is_saved() {
            continue;
        }
        let k = if is_unsafe_name(k.name_bytes()) {
            k.saved()
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
/// `TMPDIR=/tmp` set by snap-confine, and wins); a bare `SNAP_SAVED_` (an
/// empty name) is dropped. Order is kept; duplicate names keep the first
/// value.
pub fn unescape_unsafe_env<K: EnvName, V>(env: impl IntoIterator<Item = (K, V)>) -> Vec<(K, V)> {
    let mut seen = BTreeSet::new();
    let env: Vec<(K, V)> = env
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    let plain: BTreeSet<K> = env
        .iter()
        .filter(|(k, _)| !k.is_saved())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = Vec::with_capacity(env.len());
    let mut seen = BTreeSet::new();
    for (k, v) in env {
        match k.strip_saved() {
            None => {
                seen.insert(k.clone());
                out.push((k, v));
            }
            Some(name)
                if name.name_bytes().is_empty()
                    || plain.contains(&name)
                    || seen.contains(&name) => {}
            Some(name) => {
                seen.insert(name.clone());
                out.push((name, v));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
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
}
