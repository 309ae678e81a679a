//! snap-confine's main flow (spec §6.3, §6.4).

use std::convert::Infallible;
use std::ffi::OsString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

use rustix::io::Errno;
use rustix::process::{Uid, geteuid, getuid};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use snapcell_core::profile::Profile;
use snapcell_sys::debug;
use snapcell_sys::hygiene::{self, cwd::ProcessState, fds::InheritedFds};
use snapcell_sys::log;
use snapcell_sys::safefs::{open_dir, open_dir_errno, verify_trusted_dir};
use snapcell_sys::snaplock::{lock_global, lock_snap};

use crate::apply_profile::{apply_mount_profile, load_desired};
use crate::base::{Base, locate_base};
use crate::bootstrap::{self, Config, Scratch};
use crate::confinement;
use crate::discard::discard_files;
use crate::error::{Error, Result, SysContext};
use crate::helper::{preserve_own_mount_ns, unshare_preservable_mount_ns};
use crate::host;
use crate::request::{Invocation, Request, parse_request};
use crate::reuse::{Verdict, inspect, write_info};
use crate::user_ns::{self, UserMounts};
use snapcell_core::dirs::{NS_DIR, VOID_DIR, info_name, profile_name};
use snapcell_core::os_release::Distro;

/// What happened to the snap's mount namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespaceOutcome {
    /// A preserved namespace was entered.
    Joined,
    /// A new namespace was built and preserved.
    Built,
    /// Classic confinement: the host's namespace is kept.
    Classic,
}

/// The whole of snap-confine: returns the exit code (only on failure or
/// for `--version`; on success the app replaces this process).
pub fn main(argv: Vec<OsString>, env: Vec<(OsString, OsString)>) -> i32 {
    let debug = log::debug_enabled(
        env.iter()
            .rev()
            .find(|(k, _)| k.as_bytes() == b"SNAPD_DEBUG")
            .map(|(_, v)| v.as_os_str()),
    );
    // Set-user-ID (or file capabilities): debug output waits until the end.
    log::init(
        debug,
        hygiene::is_secure_execution() || getuid() != geteuid(),
    );
    let result = (|| {
        hygiene::fds::ensure_standard_descriptors()?;
        hygiene::set_dumpable(false)?;
        let inherited = InheritedFds::snapshot()?;
        run(&argv, &env, &inherited)
    })();
    log::flush();
    match result {
        Ok(None) => {
            println!("snap-confine {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Ok(Some(never)) => match never {},
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Validate, confine and exec; `Ok(None)` for `--version`.
pub fn run(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    inherited: &InheritedFds,
) -> Result<Option<Infallible>> {
    let req = match parse_request(argv, env)? {
        Invocation::Version => return Ok(None),
        Invocation::Launch(req) => req,
    };
    if geteuid() != Uid::ROOT {
        return Err(Error::new("need to run as root or suid"));
    }
    let smd = host::snap_mount_dir();
    let base = if req.classic {
        None
    } else {
        Some(locate_base(smd, &req.base)?)
    };
    log::stage("validate");
    let apparmor = snapcell_sys::apparmor::detect();
    let no_new_privs = confinement::wants_no_new_privs(req.classic, apparmor);
    // Policy is read in the host's namespace, never the snap's (§8.21).
    let host_profile = match &base {
        None => None,
        Some(_) => {
            drop(host::join_host_mount_ns()?);
            confinement::read_host_profile(&req.security_tag, apparmor)
        }
    };
    let saved = ProcessState::capture()?;
    let outcome = match &base {
        None => NamespaceOutcome::Classic,
        Some(base) => {
            let user = user_ns::prepare(&req.instance_name, env)?;
            enter_snap_namespace(&req, base, smd, user.as_ref())?
        }
    };
    debug!("mount namespace: {outcome:?}");
    hygiene::cwd::ensure_void_dir(Path::new(VOID_DIR))?;
    let cookie = if req.is_hook {
        None
    } else {
        confinement::read_cookie(&req.instance_name)
    };
    let app_env = confinement::app_environment(env, req.classic, cookie.as_deref());
    let seccomp = confinement::prepare_seccomp(&req.security_tag, req.profile_wait)?;
    let files = match outcome {
        NamespaceOutcome::Classic => confinement::FileConfinement::Minimal,
        _ => confinement::prepare_file_confinement(
            &req.security_tag,
            &req.instance_name,
            &req.snap_name,
            outcome == NamespaceOutcome::Built,
            env,
            apparmor,
            host_profile,
        )?,
    };
    log::stage("file confinement");
    confinement::drop_and_confine(&seccomp, req.user_data.as_deref(), no_new_privs, files)?;
    let cwd = saved.restore(Path::new(VOID_DIR))?;
    debug!("working directory: {cwd:?}");
    inherited.seal_others()?;
    log::stage("confine");
    Err(exec(&req, &app_env))
}

fn exec(req: &Request, env: &[(OsString, OsString)]) -> Error {
    let exe = &req.executable;
    // execv() semantics: a name without a slash is relative, never searched.
    let program = if exe.as_bytes().contains(&b'/') {
        exe.clone()
    } else {
        let mut p = OsString::from("./");
        p.push(exe);
        p
    };
    debug!("executing {}", exe.to_string_lossy());
    log::flush();
    let err = std::process::Command::new(program)
        .arg0(exe)
        .args(&req.argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .exec();
    Error::new(format!("cannot execute {}: {err}", exe.to_string_lossy()))
}

/// Spec §6.3 step 3 and §6.4: under the snap lock, join the preserved
/// namespace or build one.
///
/// The warm path is: snap lock, open and check the preserved namespace
/// (which enters it), unlock. The host preparation of §6.3 step 3 (shared
/// snap mounts, `/run/snapd/ns` a private mount, under the global lock)
/// only matters for building and preserving a namespace, so it is done
/// only on that path. The global lock is then taken while the snap lock is
/// held; that order is safe because nothing takes a snap lock while
/// holding the global lock (see [`snapcell_sys::snaplock`]).
///
/// Then, still under the lock: the caller's per-user namespace (`user`,
/// [`user_ns`]; `None` for root) and, on cgroup v1, the snap's freezer
/// group ([`snapcell_sys::cgroup::tracking`]), so that "in use" and
/// snap-update-ns's freezing see this process.
pub fn enter_snap_namespace(
    req: &Request,
    base: &Base,
    smd: &str,
    user: Option<&UserMounts>,
) -> Result<NamespaceOutcome> {
    let distro = host::probe_distro();
    if distro.is_core16 && req.base == "core" {
        return Err(Error::new(
            "cannot run snap with base core on Ubuntu Core 16: legacy mode is not supported",
        ));
    }
    let host_ns = host::join_host_mount_ns()?;
    let lock = lock_snap(&req.instance_name)?;
    log::stage("snap lock");
    // Where current snapd sets up the device cgroup: in the host's mount
    // namespace, under the snap lock, before joining or building.
    let devices = snapcell_sys::cgroup::device::setup_device_cgroup(
        &req.instance_name,
        &req.security_tag,
        &req.base,
    )
    .map_err(|e| Error::new(e.to_string()))?;
    debug!("device cgroup: {devices:?}");
    log::stage("device cgroup");
    // Opened here, in the host's namespace: the snap's has /sys/fs/cgroup
    // read-only.
    let tracking = snapcell_sys::cgroup::tracking::open_tracking_group(&req.instance_name)
        .map_err(|e| Error::new(e.to_string()))?;
    let homedirs = host::read_homedirs()?;
    let verdict = match open_dir_errno(NS_DIR) {
        Ok(ns_dir) => inspect(&ns_dir, &req.instance_name, base, &homedirs, &host_ns)?,
        Err(Errno::NOENT) => Verdict::Absent,
        Err(e) => return Err(Error::sys(format!("cannot open directory {NS_DIR}"), e)),
    };
    log::stage("inspect preserved namespace");
    let outcome = match verdict {
        Verdict::Joined => {
            debug!(
                "joining the preserved mount namespace {NS_DIR}/{}.mnt",
                req.instance_name
            );
            NamespaceOutcome::Joined
        }
        Verdict::Discard(reason) => {
            debug!("discarding the preserved mount namespace: {reason}");
            discard_files(&req.instance_name)?;
            build(req, base, smd, &homedirs, &distro, &host_ns)?;
            NamespaceOutcome::Built
        }
        Verdict::Absent => {
            build(req, base, smd, &homedirs, &distro, &host_ns)?;
            NamespaceOutcome::Built
        }
    };
    if let Some(user) = user {
        let done = user_ns::enter_user_namespace(&req.instance_name, user, &host_ns)?;
        debug!("per-user mount namespace: {done:?}");
        log::stage("per-user mount namespace");
    }
    let joined = tracking.join().map_err(|e| Error::new(e.to_string()))?;
    debug!("tracking group joined: {joined}");
    lock.unlock();
    log::stage("mount namespace");
    Ok(outcome)
}

/// Prepare the host under the global lock, then construct.
fn build(
    req: &Request,
    base: &Base,
    smd: &str,
    homedirs: &[String],
    distro: &Distro,
    host_ns: &OwnedFd,
) -> Result<()> {
    {
        let global = lock_global()?;
        host::prepare_host(smd)?;
        global.unlock();
    }
    log::stage("host setup");
    // Opened after prepare_host: /run/snapd/ns may have just become a mount.
    let ns_dir = open_dir(NS_DIR)?;
    construct(req, base, smd, homedirs, distro, &ns_dir, host_ns)
}

/// The directory of the running snap-confine, bound onto `/usr/lib/snapd`
/// when the base does not carry snapd's tools (spec §6.5 step 6). It must
/// be a directory only root can change (a hard link of a set-user-ID
/// snap-confine into a user's directory must not put that directory in
/// the namespace: CVE-2021-44730).
fn snapd_tools_dir(base: &Base, distro: &Distro) -> Result<Option<String>> {
    let needed = (distro.is_core && !distro.is_core16) || base.name != "core";
    if !needed {
        return Ok(None);
    }
    let exe =
        std::fs::read_link("/proc/self/exe").or_die(|| "cannot read /proc/self/exe".to_owned())?;
    let dir = exe
        .parent()
        .and_then(|d| d.to_str())
        .ok_or_else(|| {
            Error::new(format!(
                "cannot use the location of snap-confine {}",
                exe.display()
            ))
        })?
        .to_owned();
    verify_trusted_dir(&dir)
        .map_err(|e| Error::from(e).context("cannot bind snapd's tools into the namespace"))?;
    Ok(Some(dir))
}

/// Spec §6.4 step 7: build, apply the profile, record, preserve.
fn construct(
    req: &Request,
    base: &Base,
    smd: &str,
    homedirs: &[String],
    distro: &Distro,
    ns_dir: &OwnedFd,
    host_ns: &OwnedFd,
) -> Result<()> {
    let instance = req.instance_name.as_str();
    debug!("constructing a new mount namespace for snap {instance}");
    let desired = load_desired(instance)?;
    let tools = snapd_tools_dir(base, distro)?;
    let scratch = bootstrap::create_scratch_dir()?;
    log::stage("prepare construction");
    let cfg = Config {
        instance,
        base,
        snap_mount_dir: smd,
        homedirs,
        distro,
        snapd_tools_dir: tools.as_deref(),
    };
    let result = build_and_preserve(&cfg, &scratch, host_ns, &desired, ns_dir);
    if result.is_err() {
        // Nothing was preserved (that is the last step); leave no trace.
        // The scratch directory is the host's: go back there to remove it
        // (the process exits with the error next).
        if move_into_link_name_space(host_ns.as_fd(), Some(LinkNameSpaceType::Mount)).is_ok() {
            bootstrap::remove_scratch_dir(&scratch);
        }
        for name in [profile_name(instance), info_name(instance)] {
            let _ = rustix::fs::unlinkat(ns_dir, name.as_str(), rustix::fs::AtFlags::empty());
        }
    }
    result
}

fn build_and_preserve(
    cfg: &Config<'_>,
    scratch: &Scratch,
    host_ns: &OwnedFd,
    desired: &Profile,
    ns_dir: &OwnedFd,
) -> Result<()> {
    unshare_preservable_mount_ns(host_ns)?;
    log::stage("unshare");
    bootstrap::populate(cfg, scratch)?;
    let current = bootstrap::rootfs_profile()?;
    apply_mount_profile(cfg.instance, &current, desired)?;
    log::stage("mount profile");
    write_info(ns_dir, cfg.instance, &cfg.base.name)?;
    preserve_own_mount_ns(cfg.instance, host_ns, ns_dir)?;
    log::stage("preserve");
    Ok(())
}
