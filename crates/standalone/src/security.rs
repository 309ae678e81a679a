//! What a snap's current revision needs outside its image: the desired
//! mount profile (`/var/lib/snapd/mount/snap.NAME.fstab`: layouts plus
//! connections), a compiled seccomp profile per app and hook
//! (`/var/lib/snapd/seccomp/bpf/snap.NAME.APP.{src,bin2}`, compiled by
//! running the `snap-seccomp` next to snapcell), the file confinement
//! profile per app and hook ([`crate::policy`]:
//! `/var/lib/snapd/apparmor/profiles/snap.NAME.APP`), and the `/snap/bin`
//! commands (symlinks to snapcell, which dispatches on `argv[0]` as
//! `/usr/bin/snap` does).

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use snapcell_core::dirs::{Dirs, SNAP_BIN_DIR};
use snapcell_core::mount_spec::{mount_entries, overname_entries};
use snapcell_core::profile::Profile;
use snapcell_core::seccomp::policy::profile_source;
use snapcell_core::snap_yaml::SnapInfo;
use snapcell_sys::profile_io::save_profile;

use crate::state::State;
use crate::{helpers, interfaces, manage, policy};

/// The security tags of a snap: `snap.NAME.APP` per app and
/// `snap.NAME.hook.HOOK` per hook.
pub fn security_tags(info: &SnapInfo) -> Vec<String> {
    let name = &info.name;
    let apps = info.apps.keys().map(|a| format!("snap.{name}.{a}"));
    let hooks = info.hooks.keys().map(|h| format!("snap.{name}.hook.{h}"));
    apps.chain(hooks).collect()
}

/// The `/snap/bin` command of an app: `NAME` for the app named like the
/// snap, `NAME.APP` otherwise.
pub fn command_name(snap: &str, app: &str) -> String {
    if snap == app {
        snap.to_owned()
    } else {
        format!("{snap}.{app}")
    }
}

/// Write everything `info` at `revision` needs, with the connections of
/// its plugs in `state`, replacing what an earlier revision left (apps
/// that are gone lose their files and commands).
pub fn write_security(info: &SnapInfo, revision: &str, state: &State) -> Result<(), String> {
    let name = &info.name;
    let connected = interfaces::connected(state, info, revision, &|slot_snap| {
        current_info(state, slot_snap)
    })?;
    // The file confinement profiles are replaced in place (a launch meanwhile
    // reads the old or the new one, never none).
    remove_security_files(name)?;

    // The mount profile: layouts, then the connections' entries.
    let profile = Profile::from(mount_entries(
        &overname_entries(name),
        &info.layout_entries(revision),
        &connected.mounts,
    ));
    let fstab = PathBuf::from(Dirs::HOST.desired_profile(name));
    mkdir_p(fstab.parent().expect("a directory"))?;
    save_profile(&fstab, &profile).map_err(|e| e.to_string())?;

    // Seccomp: one profile for every app and hook.
    let src_text = profile_source(&connected.seccomp);
    let dir = PathBuf::from(Dirs::HOST.seccomp_dir());
    mkdir_p(&dir)?;
    for tag in security_tags(info) {
        let src = dir.join(format!("{tag}.src"));
        let bin = dir.join(format!("{tag}.bin2"));
        fs::write(&src, &src_text).map_err(|e| format!("cannot write {}: {e}", src.display()))?;
        helpers::run_helper(
            "snap-seccomp",
            &[OsStr::new("compile"), src.as_os_str(), bin.as_os_str()],
        )
        .map_err(|e| format!("cannot compile the seccomp profile of {tag}: {e}"))?;
    }

    // File confinement: one profile for every app and hook.
    policy::write_profiles(info, revision, &connected)?;

    // Commands.
    let exe = helpers::snapcell_exe()?;
    mkdir_p(Path::new(SNAP_BIN_DIR))?;
    for app in info.apps.keys() {
        let link = Path::new(SNAP_BIN_DIR).join(command_name(name, app));
        symlink(&exe, &link).map_err(|e| format!("cannot create {}: {e}", link.display()))?;
    }
    Ok(())
}

/// The current revision of installed snap `name` and its metadata.
pub fn current_info(state: &State, name: &str) -> Result<(SnapInfo, String), String> {
    let rev = state
        .snaps
        .get(name)
        .and_then(|s| s.current_revision())
        .ok_or_else(|| format!("snap {name:?} is not installed"))?;
    Ok((
        manage::installed_info(name, &rev.revision)?,
        rev.revision.clone(),
    ))
}

/// Remove a snap's profiles, seccomp files and commands.
pub fn remove_security(name: &str) -> Result<(), String> {
    policy::remove_profiles(name, &[])?;
    remove_security_files(name)
}

/// Remove a snap's mount profile, seccomp files and commands.
fn remove_security_files(name: &str) -> Result<(), String> {
    remove_file(Path::new(&Dirs::HOST.desired_profile(name)))?;
    let prefix = format!("snap.{name}.");
    remove_matching(Path::new(&Dirs::HOST.seccomp_dir()), |f| {
        f.starts_with(&prefix)
            && (f.ends_with(".src") || f.ends_with(".bin2") || f.ends_with(".bin"))
    })?;
    let dotted = format!("{name}.");
    remove_matching(Path::new(SNAP_BIN_DIR), |f| {
        f == name || f.starts_with(&dotted)
    })
}

fn remove_matching(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<(), String> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        if entry.file_name().to_str().is_some_and(&matches) {
            remove_file(&entry.path())?;
        }
    }
    Ok(())
}

/// Remove a file or symlink; a missing one is fine.
pub fn remove_file(path: &Path) -> Result<(), String> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", path.display()))
        }
        _ => Ok(()),
    }
}

/// `mkdir -p`.
pub fn mkdir_p(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}
