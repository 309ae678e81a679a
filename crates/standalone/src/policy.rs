//! The standalone file confinement: for every app and hook, the profile
//! snap-confine reads where snapd would have written its AppArmor profile
//! (`/var/lib/snapd/apparmor/profiles/snap.NAME.APP`), in AppArmor's
//! language with snapd's variable header, whose body is snapcell's own
//! grants (`core::landlock::DEFAULT_GRANTS`), each connected interface's
//! grants and the grants of the snap's layouts. snap-confine translates it
//! into a Landlock domain exactly as it translates snapd's profiles, so
//! the standalone front end and the drop-in share one mechanism.
//!
//! And the one refusal: where the kernel enforces neither AppArmor nor
//! Landlock, `snapcell run` does not start a strict snap without file
//! confinement unless asked to ([`check_file_confinement`]).

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use snapcell_core::dirs::{APPARMOR_PROFILES_DIR, Dirs};
use snapcell_core::landlock::{self, LayoutKind, ProfileVars};
use snapcell_core::layout::SnapVars;
use snapcell_core::snap_yaml::{Confinement, SnapInfo};

use crate::interfaces::Connected;
use crate::security::{mkdir_p, remove_file};

/// The directory of the profiles.
pub fn profiles_dir() -> PathBuf {
    PathBuf::from(Dirs::HOST.join(APPARMOR_PROFILES_DIR))
}

/// The grants of the snap's layouts at `revision`: what each item's kind
/// needs at its path ([`landlock::layout_grants`]).
pub fn layout_grants(info: &SnapInfo, revision: &str) -> String {
    let vars = SnapVars::new(&info.name, revision);
    let mut out = String::new();
    for (path, item) in &info.layout {
        let kind = if !item.bind.is_empty() {
            LayoutKind::Bind
        } else if !item.bind_file.is_empty() {
            LayoutKind::BindFile
        } else if item.fs_type == "tmpfs" {
            LayoutKind::Tmpfs
        } else {
            LayoutKind::Symlink
        };
        out.push_str(&landlock::layout_grants(&vars.expand(path), kind));
    }
    out
}

/// The security tags of `info` with their command names (`APP`, or
/// `hook.HOOK` as snapd's `@{SNAP_COMMAND_NAME}`).
fn tags(info: &SnapInfo) -> Vec<(String, String)> {
    let name = &info.name;
    let apps = info
        .apps
        .keys()
        .map(|a| (format!("snap.{name}.{a}"), a.clone()));
    let hooks = info
        .hooks
        .keys()
        .map(|h| (format!("snap.{name}.hook.{h}"), format!("hook.{h}")));
    apps.chain(hooks).collect()
}

/// The profile of every app and hook of `info` at `revision`, by tag.
pub fn profiles(info: &SnapInfo, revision: &str, connected: &Connected) -> Vec<(String, String)> {
    let mut grants = connected.grants.clone();
    grants.push_str(&layout_grants(info, revision));
    tags(info)
        .into_iter()
        .map(|(tag, command)| {
            let vars = ProfileVars {
                snap_name: info.name.clone(),
                instance_name: info.name.clone(),
                command_name: command,
                revision: revision.to_owned(),
            };
            let text = landlock::snap_profile(&tag, &vars, &grants);
            (tag, text)
        })
        .collect()
}

/// Write the profiles of `info` (each atomically: a temporary file
/// renamed over the old one). Strict snaps only: classic snaps run
/// unconfined, as with snapd, and devmode snaps are not enforced (snapd's
/// profile is in complain mode; Landlock has none), so they keep the
/// minimal domain.
pub fn write_profiles(
    info: &SnapInfo,
    revision: &str,
    connected: &Connected,
) -> Result<(), String> {
    if info.confinement != Confinement::Strict {
        return remove_profiles(&info.name, &[]);
    }
    let dir = profiles_dir();
    mkdir_p(&dir)?;
    for (tag, text) in profiles(info, revision, connected) {
        let path = dir.join(&tag);
        let tmp = dir.join(format!(".{tag}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })?;
    }
    // Apps and hooks the revision no longer has.
    let keep: Vec<String> = tags(info).into_iter().map(|(t, _)| t).collect();
    remove_profiles(&info.name, &keep)
}

/// Remove the profiles of snap `name`, but those of the tags in `keep`.
pub fn remove_profiles(name: &str, keep: &[String]) -> Result<(), String> {
    let dir = profiles_dir();
    let prefix = format!("snap.{name}.");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|f| f.starts_with(&prefix) && !keep.iter().any(|k| k == f))
        {
            remove_file(&entry.path())?;
        }
    }
    Ok(())
}

/// The flag of `snapcell run` that starts a strict snap where the kernel
/// enforces neither AppArmor nor Landlock.
pub const WITHOUT_FILE_CONFINEMENT: &str = "--without-file-confinement";

/// Whether the kernel can confine an app's files: AppArmor enforces, or a
/// Landlock ruleset can be created.
pub fn file_confinement_available() -> bool {
    snapcell_sys::apparmor::detect() == snapcell_sys::apparmor::AppArmor::Enforcing
        || snapcell_sys::landlock::available()
}

/// Refuse to run a strict snap without file confinement unless `allow`
/// (the user gave [`WITHOUT_FILE_CONFINEMENT`]). Classic and devmode
/// snaps are not file-confined anyway.
pub fn check_file_confinement(info: &SnapInfo, allow: bool, available: bool) -> Result<(), String> {
    if info.confinement != Confinement::Strict || allow || available {
        return Ok(());
    }
    Err(format!(
        "cannot run snap {:?}: the kernel enforces neither AppArmor nor Landlock, so its files \
         would not be confined (only the mount namespace and seccomp would apply); run it \
         anyway with snapcell run {WITHOUT_FILE_CONFINEMENT}",
        info.name
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interfaces;
    use crate::state::{Connection, State};

    const YAML: &str = "name: hello\nversion: '1'\napps:\n  hello:\n    command: bin/hello\nhooks:\n  install:\nplugs:\n  home:\nlayout:\n  /usr/share/hello:\n    bind: $SNAP/share\n  /etc/hello.conf:\n    bind-file: $SNAP_DATA/hello.conf\n  /var/cache/hello:\n    type: tmpfs\n  /opt/hello:\n    symlink: $SNAP/opt\n";

    #[test]
    fn a_profile_per_app_and_hook_with_layouts_and_connections() {
        let info = SnapInfo::parse(YAML).unwrap();
        let mut state = State::default();
        state.connections.insert(
            "hello:home".into(),
            Connection {
                interface: "home".into(),
                slot: "system:home".into(),
                manual: true,
            },
        );
        let connected = interfaces::connected(&state, &info, "x3", &|_| Err("no".into())).unwrap();
        let profiles = profiles(&info, "x3", &connected);
        let tags: Vec<&str> = profiles.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(tags, ["snap.hello.hello", "snap.hello.hook.install"]);
        let hook = &profiles[1].1;
        assert!(
            hook.contains("@{SNAP_COMMAND_NAME}=\"hook.install\"\n"),
            "{hook}"
        );
        assert!(
            hook.contains("profile \"snap.hello.hook.install\" flags="),
            "{hook}"
        );
        let app = &profiles[0].1;
        for rule in [
            "@{SNAP_REVISION}=\"x3\"\n",
            "owner @{HOME}/[^s.]** rwl,",
            "\"/usr/share/hello/**\" rwlix,",
            "\"/etc/hello.conf\" rwlix,",
            "\"/var/cache/hello/**\" rwlix,",
            "# layout /opt/hello: a symbolic link, no rights needed",
        ] {
            assert!(app.contains(rule), "no {rule:?} in\n{app}");
        }
        // snapd's template text is not ours to copy: our own header line.
        assert!(app.starts_with("# Written by snapcell"), "{app}");
    }

    #[test]
    fn strict_snaps_are_refused_without_file_confinement() {
        let info = SnapInfo::parse(YAML).unwrap();
        let err = check_file_confinement(&info, false, false).unwrap_err();
        assert!(err.contains("neither AppArmor nor Landlock"), "{err}");
        assert!(err.contains(WITHOUT_FILE_CONFINEMENT), "{err}");
        assert!(check_file_confinement(&info, true, false).is_ok());
        assert!(check_file_confinement(&info, false, true).is_ok());
        let devmode = SnapInfo::parse(&format!("{YAML}confinement: devmode\n")).unwrap();
        assert!(check_file_confinement(&devmode, false, false).is_ok());
    }
}
