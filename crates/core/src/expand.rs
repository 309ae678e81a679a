//! Expansion of the per-user mount profile (spec §3.8): `$XDG_RUNTIME_DIR`
//! and, for ensure-dir entries, `$HOME`.

use crate::entry::{Kind, MountEntry, OPT_MUST_EXIST_DIR};

/// Why an entry could not be expanded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot expand mount entry ({entry}): {reason}")]
pub struct ExpandError {
    pub entry: String,
    pub reason: String,
}

/// Replace `var` at the start of `s` (the whole string, or followed by `/`).
fn expand_prefix(s: &str, var: &str, value: &str) -> Option<String> {
    let rest = s.strip_prefix(var)?;
    (rest.is_empty() || rest.starts_with('/')).then(|| format!("{value}{rest}"))
}

/// Expand the user profile's entries in place. `home` is the user's real home
/// directory, `None` when it is not usable (then an entry that needs it fails).
pub fn expand_user_entries(
    entries: &mut [MountEntry],
    uid: u32,
    home: Option<&str>,
) -> Result<(), ExpandError> {
    let runtime = format!("/run/user/{uid}");
    for e in entries.iter_mut() {
        for field in [&mut e.name, &mut e.dir] {
            if let Some(x) = expand_prefix(field, "$XDG_RUNTIME_DIR", &runtime) {
                *field = x;
            }
        }
        if e.kind() != Ok(Kind::EnsureDir) {
            continue;
        }
        let needs_home = e.dir.starts_with("$HOME")
            || e.must_exist_dir().is_some_and(|m| m.starts_with("$HOME"));
        if !needs_home {
            continue;
        }
        let Some(home) = home else {
            return Err(ExpandError {
                entry: e.to_string(),
                reason: "cannot use the home directory".to_owned(),
            });
        };
        if let Some(x) = expand_prefix(&e.dir, "$HOME", home) {
            e.dir = x;
        }
        if let Some(x) = e
            .must_exist_dir()
            .and_then(|m| expand_prefix(m, "$HOME", home))
        {
            e.replace_option(&format!("{OPT_MUST_EXIST_DIR}={x}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(line: &str) -> MountEntry {
        MountEntry::parse(line).unwrap()
    }

    #[test]
    fn expands_runtime_dir_and_home_only_where_snapd_does() {
        let mut v = vec![
            e("$XDG_RUNTIME_DIR/doc/by-app/snap.x $XDG_RUNTIME_DIR/doc none bind,rw 0 0"),
            e(
                "none $HOME/.local/share none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=$HOME 0 0",
            ),
            e("$HOME/a $HOME/b none bind 0 0"),
            e("$XDG_RUNTIME_DIRX /x none bind 0 0"),
        ];
        expand_user_entries(&mut v, 1000, Some("/home/u")).unwrap();
        assert_eq!(
            v[0].to_string(),
            "/run/user/1000/doc/by-app/snap.x /run/user/1000/doc none bind,rw 0 0"
        );
        assert_eq!(
            v[1].to_string(),
            "none /home/u/.local/share none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=/home/u 0 0"
        );
        assert_eq!(v[2].dir, "$HOME/b", "only ensure-dir entries expand $HOME");
        assert_eq!(v[3].name, "$XDG_RUNTIME_DIRX");
    }

    #[test]
    fn home_needed_but_unusable_is_an_error() {
        let mut v = vec![e(
            "none $HOME/x none x-snapd.kind=ensure-dir,x-snapd.must-exist-dir=$HOME 0 0",
        )];
        let err = expand_user_entries(&mut v, 0, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot expand mount entry (none $HOME/x none"),
            "{err}"
        );
    }
}
