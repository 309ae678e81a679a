//! The confinement steps after the mount namespace (spec §6.3 steps 6–8,
//! §6.4 step 11, §6.7), as calls into `snapcell_sys::{seccomp, creds,
//! hygiene}`:
//!
//! 1. while root: find and check the seccomp profile (`TAG.bin2`, else the
//!    legacy `TAG.bin`; waiting for it as snapd does, and, unlike snapd,
//!    saying so on stderr once it has waited a second), make sure the void
//!    directory exists;
//! 2. drop to the invoking user's uid and gid for good (supplementary
//!    groups kept); keep `CAP_SYS_ADMIN` across the drop only when
//!    `no_new_privs` is not set (see below), since loading filters and a
//!    Landlock domain needs one or the other;
//! 3. as the user: create `SNAP_USER_DATA`;
//! 4. set `no_new_privs` (strict snaps without AppArmor), apply the
//!    minimal Landlock domain (the AppArmor ptrace-rule substitute), load
//!    the terminal-injection guard and the profile's deny and allow
//!    programs as one composed filter (restricted profiles), then drop
//!    `CAP_SYS_ADMIN` if it was kept (see [`drop_and_confine`] for why in
//!    this order);
//! 5. restore the umask and working directory, build the environment, make
//!    every descriptor the launcher opened close-on-exec.
//!
//! An unrestricted profile loads nothing, as with snapd; a missing or
//! malformed one is fatal — never an unconfined start.
//!
//! # `no_new_privs`: where we depart from snapd
//!
//! snapd's snap-confine never sets `no_new_privs`: with it, the kernel
//! refuses AppArmor exec transitions to a profile that is not a subset of
//! the current one, and snapd changes to the snap's AppArmor profile on
//! `exec` (`aa_change_onexec`) and lets profiles transition further inside
//! the snap. It loads the seccomp filters with `CAP_SYS_ADMIN` instead.
//!
//! We set it for **strict** snaps wherever no AppArmor profile transition
//! can happen: when AppArmor is not enabled on the kernel
//! ([`snapcell_sys::apparmor::detect`], decided as snapd does:
//! `/sys/kernel/security/apparmor` absent, or the module parameter
//! `enabled` not `Y`), which is always the case on kernels without
//! AppArmor. The app and everything it runs can then never gain privileges
//! through `execve` (set-user-ID, set-group-ID and file-capability
//! binaries run without them), which closes the last step of the usual
//! escapes from a sandbox (a set-user-ID binary reachable inside it). The
//! price: a set-user-ID, set-group-ID or file-capability program run inside
//! a strict snap runs without its privilege, where under snapd it would
//! gain it (within what the snap's AppArmor profile and seccomp profile
//! allow; snapd's template refuses changing ids to root unless the snap
//! declares system users). Classic snaps run in the host's world and may run
//! the host's set-user-ID programs (sudo, pkexec): no `no_new_privs` for
//! them, as with snapd; and on a kernel with AppArmor enabled we keep
//! snapd's behaviour, so that we never break a transition snapd's profiles
//! rely on.
//!
//! With `no_new_privs` set, `CAP_SYS_ADMIN` is no longer needed to load
//! the filters and the Landlock domain, so a set-user-ID launch drops
//! every capability in the one privilege drop ([`KeepCapability::Nothing`])
//! and the user's process never holds `CAP_SYS_ADMIN`; without it
//! (classic, AppArmor) it keeps `CAP_SYS_ADMIN` until the filters are
//! loaded, as before.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use rustix::fs::{FileType, Mode, OFlags};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_sys::apparmor::AppArmor;
use snapcell_sys::creds::{KeepCapability, drop_privileges};
use snapcell_sys::debug;
use snapcell_sys::hygiene::{self, env::EnvConfinement};
use snapcell_sys::landlock::{PreparedDomain, RulesetStatus, restrict_self_minimal};
use snapcell_sys::seccomp::{ProfileWait, install_stack, load_profile_waiting_notify};

use crate::error::{Error, Result};
use snapcell_core::dirs::{APPARMOR_PROFILES_DIR, COOKIE_DIR, NS_DIR, SECCOMP_DIR, STATE_FILE};

/// Step 1: find, read and check the profile of `tag` (as root). When the
/// profile is still missing after a second, says once on stderr which file
/// it waits for, why, and for how long at most ([`wait_notice`]); snapd
/// waits silently.
pub fn prepare_seccomp(tag: &str, wait: Duration) -> Result<SeccompProgram> {
    let program = load_profile_waiting_notify(Path::new(SECCOMP_DIR), tag, wait, |w| {
        // Never fatal: a stderr that cannot be written to (a closed pipe)
        // must not stop the launch.
        let _ = writeln!(std::io::stderr(), "{}", wait_notice(tag, w));
    })?;
    debug!(
        "seccomp profile {} ({:?}{})",
        program.path().display(),
        program.format(),
        if program.is_unrestricted() {
            ", unrestricted"
        } else {
            ""
        }
    );
    Ok(program)
}

/// The line printed while waiting for a profile snapd has not written yet.
pub fn wait_notice(tag: &str, w: &ProfileWait) -> String {
    format!(
        "snap-confine: waiting for the seccomp profile of {tag}: {} (or {}) does not exist yet; \
         snapd writes it when it installs or refreshes the snap, or when it starts after a \
         boot; giving up {} s after the start (SNAP_CONFINE_MAX_PROFILE_WAIT)",
        w.bin2.display(),
        w.bin.display(),
        w.max_wait.as_secs()
    )
}

/// Whether the app gets `no_new_privs`: a strict snap on a kernel where
/// no AppArmor profile transition happens (see the module documentation).
/// Where the kernel cannot tell, snapd's behaviour (none) is kept.
pub fn wants_no_new_privs(classic: bool, apparmor: AppArmor) -> bool {
    !classic && apparmor == AppArmor::Absent
}

/// Steps 2–4.
///
/// The order: drop to the user (keeping `CAP_SYS_ADMIN` unless
/// `no_new_privs` is to be set), create `SNAP_USER_DATA`, set
/// `no_new_privs` (when asked), the file confinement (`files`: the Landlock
/// domain, or AppArmor's profile for the next exec), the seccomp filters
/// (restricted profiles only: the terminal-injection filter, then the
/// profile's deny and allow programs, composed into one filter that decides
/// as the three stacked would, so that the kernel runs one filter per
/// system call instead of three; loaded separately when composition
/// refuses), then release `CAP_SYS_ADMIN` (if kept). The profile's
/// filters come after the domain snap-confine adds itself,
/// so that it is never subject to the profile: snapd's profiles fail
/// every system call they do not list with `EPERM`, and the Landlock
/// system calls are not in snapd 2.57's template. Behind such a profile the
/// Landlock library would take the `EPERM` for "no Landlock in this kernel"
/// and silently apply nothing. After the profile only `capset`/`prctl` (the
/// release), and the cwd, descriptor and `execve` steps remain, as with
/// snapd. Seccomp filters stack, so their order changes nothing for the
/// app.
pub fn drop_and_confine(
    program: &SeccompProgram,
    user_data: Option<&OsStr>,
    no_new_privs: bool,
    files: FileConfinement,
) -> Result<()> {
    // Loading filters and a Landlock domain needs CAP_SYS_ADMIN or
    // no_new_privs: with no_new_privs nothing is kept across the drop.
    let keep = if no_new_privs {
        KeepCapability::Nothing
    } else {
        KeepCapability::SysAdmin
    };
    let mut dropped = drop_privileges(keep)?;
    hygiene::set_dumpable(false)?;
    if let Some(dir) = user_data {
        create_user_data(dir)?;
    }
    if no_new_privs {
        rustix::thread::set_no_new_privs(true)
            .map_err(|e| Error::sys("cannot set no_new_privs", e))?;
        debug!("no_new_privs set");
    }
    apply_landlock(files)?;
    if !program.is_unrestricted() {
        // The terminal-injection filter, then the profile's, as one filter.
        let tty = hygiene::tty::tty_injection_filter()?;
        let load = install_stack(&[&tty, program])?;
        debug!("seccomp filters loaded: {load:?}");
    }
    dropped.release_sys_admin().map_err(Error::from)
}

/// The minimal Landlock domain ([`restrict_self_minimal`]) or the app's
/// own ([`prepare_file_confinement`]): the app can no longer reach
/// processes outside its domain through `ptrace` or their
/// `/proc/PID/{root,cwd,mem,...}` (AppArmor's ptrace rules do that for
/// snapd). On a kernel without Landlock the launch goes on without it (a
/// debug line says so); any other failure is fatal. Under AppArmor the app
/// runs under its profile (`change_onexec`), as with snapd.
fn apply_landlock(files: FileConfinement) -> Result<()> {
    let status = match files {
        FileConfinement::AppArmor(label) => {
            snapcell_sys::apparmor::change_onexec(&label).map_err(|e| {
                Error::new(format!("cannot change profile for the next exec call: {e}"))
            })?;
            debug!("AppArmor profile {label} for the next exec");
            return Ok(());
        }
        FileConfinement::Minimal => restrict_self_minimal()?,
        FileConfinement::Landlock(domain) => {
            for note in &domain.notes {
                debug!("Landlock: {note}");
            }
            debug!("Landlock: {} path rules", domain.path_rules());
            for (path, rights) in domain.rules() {
                debug!("Landlock: rule {path} {rights:#x}");
            }
            domain.restrict_self()?
        }
    };
    for line in landlock_status_lines(&status.ruleset, &status.landlock) {
        debug!("{line}");
    }
    Ok(())
}

/// What `SNAPD_DEBUG` says once the domain is in place, or could not be:
/// on a kernel with neither AppArmor nor Landlock the launch goes on with
/// what snapd would apply there (seccomp, the device cgroup), and says so.
fn landlock_status_lines(ruleset: &RulesetStatus, landlock: &dyn std::fmt::Debug) -> Vec<String> {
    match ruleset {
        RulesetStatus::NotEnforced => vec![
            "Landlock is not available on this kernel: no Landlock domain \
             (and no AppArmor: no file confinement)"
                .to_owned(),
        ],
        RulesetStatus::FullyEnforced | RulesetStatus::PartiallyEnforced => vec![
            format!("Landlock domain applied ({ruleset:?})"),
            format!("Landlock on this kernel: {landlock:?}"),
        ],
    }
}

/// How the app's file access is confined.
pub enum FileConfinement {
    /// AppArmor enforces: the app runs under this profile.
    AppArmor(String),
    /// The app's Landlock domain, opened in its namespace.
    Landlock(PreparedDomain),
    /// Only the minimal domain (classic snaps).
    Minimal,
}

/// The cache of the snap's connected interfaces beside its preserved
/// namespace (`/run/snapd/ns/snap.INSTANCE.landlock`, one a line).
pub fn landlock_cache_path(instance: &str) -> String {
    format!("{NS_DIR}/snap.{instance}.landlock")
}

/// Largest profile, include or cache file read; state.json may be larger.
const MAX_POLICY_FILE: u64 = 4 << 20;
const MAX_STATE_FILE: u64 = 256 << 20;

fn read_bounded(path: &str, max: u64) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    f.take(max).read_to_string(&mut text).ok()?;
    Some(text)
}

/// snapd's AppArmor profile for the app, its includes resolved, read as
/// root in the host's mount namespace, before the snap's is entered or
/// built: inside, a layout can put anything at `/etc/apparmor.d`, and the
/// includes would be the snap's own (research §8.21). `None` where AppArmor
/// enforces (its own profile applies) or snapd wrote no profile.
pub fn read_host_profile(
    tag: &str,
    apparmor: AppArmor,
) -> Option<snapcell_core::apparmor::Profile> {
    if apparmor == AppArmor::Enforcing {
        return None;
    }
    let profile_path = format!("{APPARMOR_PROFILES_DIR}/{tag}");
    let text = read_bounded(&profile_path, MAX_POLICY_FILE)?;
    debug!("Landlock domain from the AppArmor profile {profile_path}");
    Some(snapcell_core::apparmor::parse(&text, &mut |name: &str| {
        let safe = !name.is_empty()
            && !name.split('/').any(|c| c == ".." || c.is_empty())
            && !name.starts_with('/');
        if !safe {
            return None;
        }
        read_bounded(&format!("/etc/apparmor.d/{name}"), MAX_POLICY_FILE)
    }))
}

/// As root, in the app's mount namespace (after it was entered or built):
/// decide the app's file confinement. AppArmor enforcing: its profile.
/// Else a Landlock domain translated from snapd's AppArmor profile for the
/// app, or, where there is none, from snapcell's default grants plus the
/// snap's connected interfaces (read from snapd's state when the namespace
/// was built, then from the cache beside it). Neither a profile nor
/// snapd's state (a machine where snapd manages nothing): the minimal
/// domain, as before.
pub fn prepare_file_confinement(
    tag: &str,
    instance: &str,
    snap_name: &str,
    built: bool,
    env: &[(OsString, OsString)],
    apparmor: AppArmor,
    host_profile: Option<snapcell_core::apparmor::Profile>,
) -> Result<FileConfinement> {
    use snapcell_core::{apparmor, landlock};
    if apparmor == AppArmor::Enforcing {
        return Ok(FileConfinement::AppArmor(tag.to_owned()));
    }
    let var = |k: &str| {
        env.iter()
            .rev()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.to_str())
            .map(str::to_owned)
    };
    let ctx = landlock::Context {
        instance_name: instance.to_owned(),
        snap_name: snap_name.to_owned(),
        revision: var("SNAP_REVISION").filter(|r| !r.is_empty() && !r.contains(['/', '{', '@'])),
        // The caller's own home: the domain protects the caller from the
        // app, so a caller naming another home only changes its own app.
        // `snap run` sets HOME to SNAP_USER_DATA and the real one in SNAP_REAL_HOME.
        home: var("SNAP_REAL_HOME")
            .filter(|h| !h.is_empty())
            .or_else(|| var("HOME"))
            .filter(|h| h.starts_with('/') && !h.contains(['{', '@', '*', '?', '['])),
        uid: rustix::process::getuid().as_raw(),
    };
    let profile_path = format!("{APPARMOR_PROFILES_DIR}/{tag}");
    let profile = match host_profile {
        Some(profile) => profile,
        None => {
            let Some(interfaces) = connected_interfaces(instance, built) else {
                debug!(
                    "no AppArmor profile {profile_path} and no snapd state: \
                     only the minimal Landlock domain"
                );
                return Ok(FileConfinement::Minimal);
            };
            debug!(
                "Landlock domain from the default grants and the connected interfaces {interfaces:?}"
            );
            let (text, unknown) = landlock::default_profile(&interfaces);
            for iface in unknown {
                debug!("Landlock: interface {iface}: no grants known, nothing granted");
            }
            apparmor::parse(&text, &mut |_: &str| None)
        }
    };
    let policy = landlock::translate(&profile, &ctx, &ListDir);
    Ok(FileConfinement::Landlock(snapcell_sys::landlock::prepare(
        policy,
    )))
}

/// The snap's connected interfaces: from snapd's state when the namespace
/// was just built (then cached), else from the cache (else the state).
/// `None` where there is no state.
fn connected_interfaces(instance: &str, built: bool) -> Option<Vec<String>> {
    let cache = landlock_cache_path(instance);
    if !built && let Some(text) = read_bounded(&cache, MAX_POLICY_FILE) {
        debug!("connected interfaces from {cache}");
        return Some(
            text.lines()
                .map(str::to_owned)
                .filter(|l| !l.is_empty())
                .collect(),
        );
    }
    let json = read_bounded(STATE_FILE, MAX_STATE_FILE)?;
    let interfaces = match snapcell_core::snapd_state::connected_interfaces(&json, instance) {
        Ok(v) => v,
        Err(e) => {
            debug!("{STATE_FILE}: {e}: no connections");
            Vec::new()
        }
    };
    let mut text = interfaces.join("\n");
    text.push('\n');
    if let Err(e) = std::fs::write(&cache, text) {
        debug!("cannot cache the connected interfaces in {cache}: {e}");
    }
    Some(interfaces)
}

struct ListDir;

impl snapcell_core::landlock::FsView for ListDir {
    fn list_dir(&self, dir: &str) -> Option<Vec<String>> {
        let rd = std::fs::read_dir(dir).ok()?;
        Some(
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .take(4096)
                .collect(),
        )
    }
}

/// `mkdir -p SNAP_USER_DATA` (0755) as the invoking user.
fn create_user_data(dir: &OsStr) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let Err(err) = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
    else {
        return Ok(());
    };
    let shown = dir.to_string_lossy();
    let errno = rustix::io::Errno::from_io_error(&err);
    if matches!(
        errno,
        Some(rustix::io::Errno::ROFS | rustix::io::Errno::ACCESS)
    ) && !dir.as_bytes().starts_with(b"/home/")
    {
        return Err(Error::new(format!(
            "cannot create user data directory: {shown}: {err}\n\
             Sorry, home directories outside of /home needs configuration.\n\
             See https://forum.snapcraft.io/t/11209 for details."
        )));
    }
    Err(Error::new(format!(
        "cannot create user data directory: {shown}: {err}"
    )))
}

/// The snap's cookie (`/var/lib/snapd/cookie/snap.INSTANCE`, at most 254
/// bytes); missing is fine.
pub fn read_cookie(instance: &str) -> Option<String> {
    let path = format!("{COOKIE_DIR}/snap.{instance}");
    let fd = rustix::fs::open(
        path.as_str(),
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .ok()?;
    let st = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return None;
    }
    let mut buf = [0u8; 255];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    if n > 254 {
        debug!("ignoring the cookie {path}: too long");
        return None;
    }
    String::from_utf8(buf[..n].to_vec()).ok()
}

/// The app's environment: the caller's, with loader-unsafe variables kept
/// only in their `SNAP_SAVED_` form, snap-confine's `PATH`, `TMPDIR` and
/// `TEMPDIR` for strict snaps, and the cookie as `SNAP_COOKIE` and
/// `SNAP_CONTEXT` (not for hooks).
pub fn app_environment(
    env: &[(OsString, OsString)],
    classic: bool,
    cookie: Option<&str>,
) -> Vec<(OsString, OsString)> {
    let confinement = if classic {
        EnvConfinement::Classic
    } else {
        EnvConfinement::Strict
    };
    let mut out = hygiene::env::confined_env(env.iter().cloned(), confinement);
    if let Some(cookie) = cookie {
        for name in ["SNAP_COOKIE", "SNAP_CONTEXT"] {
            out.retain(|(k, _)| k != name);
            out.push((name.into(), cookie.into()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_new_privs_for_strict_snaps_without_apparmor_only() {
        assert!(wants_no_new_privs(false, AppArmor::Absent));
        assert!(!wants_no_new_privs(true, AppArmor::Absent), "classic");
        assert!(!wants_no_new_privs(false, AppArmor::Enforcing), "AppArmor");
        assert!(!wants_no_new_privs(true, AppArmor::Enforcing));
        assert!(
            !wants_no_new_privs(false, AppArmor::Unknown),
            "unknown: as snapd"
        );
    }

    /// Neither AppArmor nor Landlock: the launch goes on (no error) and
    /// `SNAPD_DEBUG` says there is no file confinement.
    #[test]
    fn without_landlock_the_debug_output_says_there_is_no_file_confinement() {
        assert_eq!(
            landlock_status_lines(&RulesetStatus::NotEnforced, &"NotImplemented"),
            [
                "Landlock is not available on this kernel: no Landlock domain \
              (and no AppArmor: no file confinement)"
            ]
        );
        assert_eq!(
            landlock_status_lines(&RulesetStatus::PartiallyEnforced, &"Available"),
            [
                "Landlock domain applied (PartiallyEnforced)",
                "Landlock on this kernel: \"Available\""
            ]
        );
    }

    #[test]
    fn the_wait_notice_names_the_files_and_the_limit() {
        let w = ProfileWait {
            bin2: "/d/snap.a.b.bin2".into(),
            bin: "/d/snap.a.b.bin".into(),
            waited: Duration::from_secs(1),
            max_wait: Duration::from_secs(120),
        };
        assert_eq!(
            wait_notice("snap.a.b", &w),
            "snap-confine: waiting for the seccomp profile of snap.a.b: /d/snap.a.b.bin2 (or \
             /d/snap.a.b.bin) does not exist yet; snapd writes it when it installs or refreshes \
             the snap, or when it starts after a boot; giving up 120 s after the start \
             (SNAP_CONFINE_MAX_PROFILE_WAIT)"
        );
    }

    #[test]
    fn environment_additions() {
        let env = vec![
            (OsString::from("PATH"), OsString::from("/x")),
            (OsString::from("A"), OsString::from("b")),
            (OsString::from("SNAP_COOKIE"), OsString::from("old")),
        ];
        let out = app_environment(&env, false, Some("c00kie"));
        let get = |k: &str| out.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert!(
            get("PATH")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("/usr/local/sbin:")
        );
        assert_eq!(get("A").unwrap(), "b");
        assert_eq!(get("TMPDIR").unwrap(), "/tmp");
        assert_eq!(get("SNAP_COOKIE").unwrap(), "c00kie");
        assert_eq!(get("SNAP_CONTEXT").unwrap(), "c00kie");
        assert_eq!(out.iter().filter(|(k, _)| k == "SNAP_COOKIE").count(), 1);
        let classic = app_environment(&env, true, None);
        assert_eq!(classic.iter().find(|(k, _)| k == "PATH").unwrap().1, "/x");
    }
}
