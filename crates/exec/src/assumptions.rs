//! What snap-update-ns assumes about the file system while it writes: the
//! trespassing rules (spec §3.6).
//!
//! Creating a mount point must not leave files on the host. A write into a
//! directory is allowed when the *desired* path lies in one of the context's
//! unrestricted paths, or when the directory written into is itself
//! unrestricted, read-only (the write fails with `EROFS` and a writable
//! mimic takes over), or a tmpfs that this snap's namespace mounted itself
//! (the most recent tmpfs change at exactly that directory was a mount or a
//! keep; its device is then trusted). Anything else is trespassing, which a
//! writable mimic over that directory cures; `/` cannot be mimicked.

use std::collections::HashSet;

use snapcell_core::entry::MountEntry;
use snapcell_core::paths;
use snapcell_core::plan::Action;
use snapcell_sys::system::{FileKind, SQUASHFS_MAGIC, System, TMPFS_MAGIC};

use crate::error::ExecError;

/// A directory mode for paths matching a glob.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ModeHint {
    glob: String,
    mode: u32,
}

/// A change applied to the namespace, as far as the tmpfs trust check cares.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PastChange {
    action: Action,
    dir: String,
}

/// The state of write restrictions for one update (snapd's `Assumptions`).
#[derive(Clone, Debug, Default)]
pub struct Assumptions {
    unrestricted: Vec<String>,
    mode_hints: Vec<ModeHint>,
    past: Vec<PastChange>,
    verified_devices: HashSet<u64>,
    caller_uid: u32,
    caller_gid: u32,
}

/// Go's `filepath.Match` for the patterns snapd uses: `*` matches any run of
/// characters other than `/`, `?` one such character, everything else
/// itself (character classes and escapes are not supported).
fn glob_match(pattern: &str, name: &str) -> bool {
    // On the strings themselves, one character at a time (no copies: this
    // runs for every path created).
    let mut p = pattern.chars();
    match p.next() {
        None => name.is_empty(),
        Some('*') => {
            let rest = p.as_str();
            let mut n = name;
            loop {
                if glob_match(rest, n) {
                    return true;
                }
                let mut chars = n.chars();
                match chars.next() {
                    None | Some('/') => return false,
                    Some(_) => n = chars.as_str(),
                }
            }
        }
        Some(c) => {
            let mut n = name.chars();
            match n.next() {
                Some('/') if c == '?' => false,
                Some(d) if c == '?' || c == d => glob_match(p.as_str(), n.as_str()),
                _ => false,
            }
        }
    }
}

impl Assumptions {
    /// No unrestricted paths, no hints, no past changes: every write checked.
    pub fn new() -> Assumptions {
        Assumptions::default()
    }

    /// The system context of snap instance `instance` (snapd's
    /// `SystemProfileUpdateContext.Assumptions`): `/tmp`, `/var/snap`,
    /// `/snap/INSTANCE`, `/dev/shm`, `/run/systemd`, `/snap/NAME` for a
    /// parallel instance, `/var/lib/snapd/hostfs/tmp`, and the mode hints
    /// for the private /tmp and shared memory directories.
    pub fn for_system(instance: &str) -> Assumptions {
        let mut a = Assumptions::new();
        a.add_unrestricted_paths(&[
            "/tmp",
            "/var/snap",
            &format!("/snap/{instance}"),
            "/dev/shm",
            "/run/systemd",
        ]);
        if let Some((name, _key)) = instance.split_once('_') {
            a.add_unrestricted_paths(&[&format!("/snap/{name}")]);
        }
        a.add_unrestricted_paths(&["/var/lib/snapd/hostfs/tmp"]);
        a.add_mode_hint("/var/lib/snapd/hostfs/tmp/snap-private-tmp/snap.*", 0o700);
        a.add_mode_hint(
            "/var/lib/snapd/hostfs/tmp/snap-private-tmp/snap.*/tmp",
            0o1777,
        );
        a.add_mode_hint(
            "/var/lib/snapd/hostfs/tmp/snap-private-tmp/snap.*/tmp/.X11-unix",
            0o1777,
        );
        a.add_mode_hint("/dev/shm/snap.*", 0o1777);
        a
    }

    /// The user context: only the real home directory is unrestricted, and
    /// only when it is non-empty, absolute, clean and a directory reached
    /// without following symbolic links. Directories made for ensure-dir
    /// entries belong to `uid`/`gid`.
    pub fn for_user(sys: &mut dyn System, real_home: &str, uid: u32, gid: u32) -> Assumptions {
        let mut a = Assumptions::new();
        a.set_caller(uid, gid);
        let usable = paths::is_clean_absolute(real_home)
            && matches!(sys.lstat(real_home), Ok(Some(m)) if m.kind == FileKind::Dir);
        if usable {
            a.add_unrestricted_paths(&[real_home]);
        }
        a
    }

    /// Allow writing at and below these paths.
    pub fn add_unrestricted_paths(&mut self, paths: &[&str]) {
        // Kept cleaned: `is_restricted` runs several times per directory made.
        self.unrestricted
            .extend(paths.iter().map(|p| paths::clean(p)));
    }

    /// Create directories matching `glob` with `mode` instead of 0755.
    pub fn add_mode_hint(&mut self, glob: &str, mode: u32) {
        self.mode_hints.push(ModeHint {
            glob: glob.to_owned(),
            mode,
        });
    }

    /// The owner of directories made for ensure-dir entries (the caller).
    pub fn set_caller(&mut self, uid: u32, gid: u32) {
        self.caller_uid = uid;
        self.caller_gid = gid;
    }

    pub(crate) fn caller(&self) -> (u32, u32) {
        (self.caller_uid, self.caller_gid)
    }

    /// The mode for directories (and files) created on the way to `path`:
    /// the first matching hint, else 0755. (snapd panics when two hints
    /// match; the built-in hints never overlap.)
    pub fn mode_for_path(&self, path: &str) -> u32 {
        self.mode_hints
            .iter()
            .find(|h| glob_match(&h.glob, path))
            .map_or(0o755, |h| h.mode)
    }

    /// Whether writing on the way to `path` is checked directory by directory.
    pub fn is_restricted(&self, path: &str) -> bool {
        !self.unrestricted.iter().any(|p| {
            p == "/"
                || path
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// Record a change applied to the namespace (or found applied).
    /// Only tmpfs changes are kept: they are all the trespassing check asks
    /// about (the most recent tmpfs change at a directory).
    pub fn add_change(&mut self, action: Action, entry: &MountEntry) {
        if entry.fs_type != "tmpfs" {
            return;
        }
        self.past.push(PastChange {
            action,
            dir: entry.dir.clone(),
        });
    }

    /// Whether the most recent tmpfs change at exactly `dir` mounted or kept it.
    fn tmpfs_mounted_by_us(&self, dir: &str) -> bool {
        self.past
            .iter()
            .rev()
            .find(|c| c.dir == dir)
            .is_some_and(|c| matches!(c.action, Action::Mount | Action::Keep))
    }

    /// snapd's `canWriteToDirectory`.
    pub(crate) fn can_write_to_directory(
        &mut self,
        sys: &mut dyn System,
        dir: &str,
    ) -> Result<bool, ExecError> {
        if !self.is_restricted(dir) {
            return Ok(true);
        }
        let fs = sys
            .statfs(dir)
            .map_err(|e| ExecError::sys("cannot inspect", dir, e))?;
        // `statfs` found the directory; its device is needed only below.
        if fs.read_only || fs.magic == SQUASHFS_MAGIC {
            return Ok(true);
        }
        let st = match sys.lstat(dir) {
            Ok(Some(st)) => st,
            Ok(None) => {
                return Err(ExecError::sys(
                    "cannot inspect",
                    dir,
                    snapcell_sys::system::Errno::NOENT,
                ));
            }
            Err(e) => return Err(ExecError::sys("cannot inspect", dir, e)),
        };
        if self.verified_devices.contains(&st.dev) {
            return Ok(true);
        }
        if fs.magic == TMPFS_MAGIC && self.tmpfs_mounted_by_us(dir) {
            if st.dev != 0 {
                self.verified_devices.insert(st.dev);
            }
            return Ok(true);
        }
        Ok(false)
    }
}

/// Per-operation restriction state (snapd's `Restrictions`): whether the
/// desired path is restricted, lifted once a component was created.
#[derive(Clone, Debug)]
pub(crate) struct Restrictions {
    pub(crate) desired: String,
    pub(crate) restricted: bool,
}

impl Restrictions {
    pub(crate) fn for_path(assumptions: &Assumptions, desired: &str) -> Restrictions {
        Restrictions {
            desired: desired.to_owned(),
            restricted: assumptions.is_restricted(desired),
        }
    }

    pub(crate) fn lift(&mut self) {
        self.restricted = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_context_paths_and_hints() {
        let a = Assumptions::for_system("foo_bar");
        for p in [
            "/tmp",
            "/tmp/x",
            "/var/snap/foo/1",
            "/snap/foo_bar/x",
            "/snap/foo",
            "/dev/shm/a",
            "/run/systemd/x",
            "/var/lib/snapd/hostfs/tmp/y",
        ] {
            assert!(!a.is_restricted(p), "{p}");
        }
        for p in ["/", "/etc", "/tmpx", "/snap/other", "/var/lib", "/snap"] {
            assert!(a.is_restricted(p), "{p}");
        }
        assert_eq!(a.mode_for_path("/dev/shm/snap.foo"), 0o1777);
        assert_eq!(a.mode_for_path("/dev/shm/snap.foo/x"), 0o755);
        assert_eq!(
            a.mode_for_path("/var/lib/snapd/hostfs/tmp/snap-private-tmp/snap.foo"),
            0o700
        );
        assert_eq!(
            a.mode_for_path("/var/lib/snapd/hostfs/tmp/snap-private-tmp/snap.foo/tmp/.X11-unix"),
            0o1777
        );
        let plain = Assumptions::for_system("foo");
        assert!(plain.is_restricted("/snap/fo"));
        assert!(!plain.is_restricted("/snap/foo"));
    }

    #[test]
    fn globs_do_not_cross_slashes() {
        assert!(glob_match("/a/*", "/a/b"));
        assert!(!glob_match("/a/*", "/a/b/c"));
        assert!(glob_match("/a/*/c", "/a/xyz/c"));
        assert!(glob_match("/a/?", "/a/b"));
        assert!(!glob_match("/a/?", "/a/bc"));
        assert!(glob_match("/a/snap.*", "/a/snap."));
    }

    proptest::proptest! {
        /// The matcher agrees with the plain one over characters it replaced.
        #[test]
        fn glob_matches_like_the_plain_matcher(p in "[ab/*?é]{0,8}", n in "[ab/é]{0,8}") {
            fn plain(p: &[char], n: &[char]) -> bool {
                match p.first() {
                    None => n.is_empty(),
                    Some('*') => {
                        let mut i = 0;
                        loop {
                            if plain(&p[1..], &n[i..]) {
                                return true;
                            }
                            if i >= n.len() || n[i] == '/' {
                                return false;
                            }
                            i += 1;
                        }
                    }
                    Some('?') => !n.is_empty() && n[0] != '/' && plain(&p[1..], &n[1..]),
                    Some(c) => n.first() == Some(c) && plain(&p[1..], &n[1..]),
                }
            }
            let pc: Vec<char> = p.chars().collect();
            let nc: Vec<char> = n.chars().collect();
            proptest::prop_assert_eq!(glob_match(&p, &n), plain(&pc, &nc));
        }
    }

    #[test]
    fn the_most_recent_tmpfs_change_decides() {
        let mut a = Assumptions::new();
        let t = MountEntry::parse("tmpfs /x tmpfs").unwrap();
        assert!(!a.tmpfs_mounted_by_us("/x"));
        a.add_change(Action::Mount, &t);
        assert!(a.tmpfs_mounted_by_us("/x"));
        a.add_change(Action::Unmount, &t);
        assert!(!a.tmpfs_mounted_by_us("/x"));
        a.add_change(Action::Keep, &t);
        assert!(a.tmpfs_mounted_by_us("/x"));
        assert!(!a.tmpfs_mounted_by_us("/x/y"));
    }
}
