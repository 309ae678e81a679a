//! What `snap pack` checks of a snap directory before packing it: snapd's
//! `ValidateSnapContainer` (each app's command exists and can be run by
//! everyone, `meta/` and `meta/snap.yaml` are readable, hooks are
//! executable), and the name of the .snap it writes.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use snapcell_core::snap_yaml::SnapInfo;

/// Why a snap directory cannot be packed (snapd's `ErrMissingPaths` and
/// `ErrBadModes`); `details` are the lines snapd logs, one per path.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match kind {
    ContainerProblem::MissingFiles => "snap is unusable due to missing files",
    ContainerProblem::BadModes => "snap is unusable due to bad permissions",
})]
pub struct ContainerError {
    pub kind: ContainerProblem,
    /// `in snap "NAME": path "bin/x" does not exist`, ...
    pub details: Vec<String>,
    /// The paths that are missing (for pointing at the snap.yaml line that
    /// names them).
    pub missing: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerProblem {
    MissingFiles,
    BadModes,
}

/// snapd's `normPath`: clean, drop a leading `/`, ignore paths that leave
/// the snap, and cut at the first space.
fn norm_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let cleaned = snapcell_core::paths::clean(path);
    let cleaned = cleaned.trim_start_matches('/');
    if cleaned.starts_with("../") || cleaned == ".." {
        return None;
    }
    let cut = cleaned.split(' ').next().unwrap_or("");
    (!cut.is_empty()).then(|| cut.to_owned())
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or(".", |at| &path[..at])
}

/// Check the snap directory `dir` as snapd's `ValidateSnapContainer` does.
pub fn validate_container(dir: &Path, info: &SnapInfo) -> Result<(), ContainerError> {
    let mut needsrx: BTreeSet<String> = [".", "meta"].map(str::to_owned).into();
    let mut needsx = BTreeSet::new();
    let mut needsr: BTreeSet<String> = ["meta/snap.yaml".to_owned()].into();
    let mut needsf = BTreeSet::new();
    let mut noskipd = BTreeSet::new();
    for app in info.apps.values() {
        let service = !app.daemon.is_empty();
        let mut paths = vec![&app.command];
        if service {
            paths.extend([
                &app.stop_command,
                &app.reload_command,
                &app.post_stop_command,
            ]);
        }
        for path in paths {
            let Some(mut path) = norm_path(path) else {
                continue;
            };
            needsf.insert(path.clone());
            if service {
                needsx.insert(path.clone());
            }
            while path != "." {
                if service {
                    noskipd.insert(path.clone());
                } else {
                    needsrx.insert(path.clone());
                }
                path = parent(&path).to_owned();
            }
        }
        if let Some(path) = norm_path(&app.completer) {
            needsr.insert(path.clone());
            let mut up = parent(&path).to_owned();
            while up != "." {
                needsrx.insert(up.clone());
                up = parent(&up).to_owned();
            }
        }
    }
    needsf.extend(needsr.iter().cloned());
    for path in &needsrx {
        needsx.remove(path);
        needsr.remove(path);
    }
    let both: Vec<String> = needsx.intersection(&needsr).cloned().collect();
    for path in both {
        needsx.remove(&path);
        needsr.remove(&path);
        needsrx.insert(path);
    }

    let name = &info.name;
    let mut details = Vec::new();
    let mut seen = BTreeSet::new();
    let mut bad_modes = false;
    let mut stack = vec![(".".to_owned(), dir.to_path_buf())];
    // A walk from the top, descending only where snapd's walk does.
    while let Some((rel, abs)) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&abs) else {
            continue;
        };
        let needed = needsrx.contains(&rel) || needsx.contains(&rel) || needsr.contains(&rel);
        if needed {
            seen.insert(rel.clone());
        }
        let is_dir = meta.is_dir();
        let under_meta = rel.starts_with("meta/");
        if !needed && !under_meta && rel != "." {
            if !(is_dir && noskipd.contains(&rel)) {
                continue;
            }
        } else {
            let perm = meta.permissions().mode() & 0o777;
            let shown = go_mode(&meta);
            if needsrx.contains(&rel) || is_dir {
                if perm & 0o555 != 0o555 {
                    details.push(format!(
                        "in snap {name:?}: {rel:?} should be world-readable and executable, and isn't: {shown}"
                    ));
                    bad_modes = true;
                }
            } else {
                let ft = meta.file_type();
                if needsf.contains(&rel) && !(ft.is_file() || ft.is_symlink()) {
                    details.push(format!(
                        "in snap {name:?}: {rel:?} should be a regular file (or a symlink) and isn't"
                    ));
                    bad_modes = true;
                }
                if needsx.contains(&rel) || rel.starts_with("meta/hooks/") {
                    if perm & 0o111 == 0 {
                        details.push(format!(
                            "in snap {name:?}: {rel:?} should be executable, and isn't: {shown}"
                        ));
                        bad_modes = true;
                    }
                } else if perm & 0o444 != 0o444 {
                    details.push(format!(
                        "in snap {name:?}: {rel:?} should be world-readable, and isn't: {shown}"
                    ));
                    bad_modes = true;
                }
            }
        }
        if is_dir {
            let Ok(entries) = fs::read_dir(&abs) else {
                continue;
            };
            let mut children: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
            children.sort();
            for child in children.into_iter().rev() {
                let child = child.to_string_lossy().into_owned();
                let rel = if rel == "." {
                    child.clone()
                } else {
                    format!("{rel}/{child}")
                };
                stack.push((rel, abs.join(child)));
            }
        }
    }
    let missing: Vec<String> = needsx
        .iter()
        .chain(&needsrx)
        .chain(&needsr)
        .filter(|p| !seen.contains(*p))
        .cloned()
        .collect();
    if !missing.is_empty() {
        for path in &missing {
            details.push(format!("in snap {name:?}: path {path:?} does not exist"));
        }
        return Err(ContainerError {
            kind: ContainerProblem::MissingFiles,
            details,
            missing,
        });
    }
    if bad_modes {
        return Err(ContainerError {
            kind: ContainerProblem::BadModes,
            details,
            missing,
        });
    }
    Ok(())
}

/// A file mode as Go prints an `os.FileMode` (`-rw-r--r--`, `drwx------`).
fn go_mode(meta: &fs::Metadata) -> String {
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'L'
    } else {
        '-'
    };
    let perm = meta.permissions().mode();
    let mut out = String::from(kind);
    for (bit, c) in [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ] {
        out.push(if perm & bit != 0 { c } else { '-' });
    }
    out
}

/// The file name `snap pack` gives a snap: `NAME_VERSION_ARCH.snap`, where
/// ARCH is `all` without `architectures:`, the one listed, or `multi`.
pub fn snap_file_name(info: &SnapInfo, architectures: &[String]) -> String {
    let arch = match architectures {
        [] => "all",
        [one] => one.as_str(),
        _ => "multi",
    };
    format!("{}_{}_{arch}.snap", info.name, info.version)
}

/// `architectures:` of a snap.yaml (snapd accepts a list of names).
pub fn architectures(yaml: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Arches {
        #[serde(default)]
        architectures: Vec<String>,
    }
    yaml_serde::from_str::<Arches>(yaml)
        .map(|a| a.architectures)
        .unwrap_or_default()
}

/// Whether `path` lies inside `dir` once both are made absolute (the
/// output of `pack` must not be written into the tree being packed).
pub fn is_inside(path: &Path, dir: &Path) -> bool {
    let abs = |p: &Path| -> PathBuf {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let mut out = PathBuf::new();
        for c in p.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    };
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| abs(dir));
    let path = match (path.parent(), path.file_name()) {
        (Some(p), Some(f)) if !p.as_os_str().is_empty() => {
            fs::canonicalize(p).unwrap_or_else(|_| abs(p)).join(f)
        }
        _ => abs(path),
    };
    path.starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_path_is_snapds() {
        assert_eq!(norm_path("bin/x --flag").as_deref(), Some("bin/x"));
        assert_eq!(norm_path("/bin//x").as_deref(), Some("bin/x"));
        assert_eq!(norm_path("../x"), None);
        assert_eq!(norm_path(""), None);
    }

    #[test]
    fn file_names() {
        let info = SnapInfo {
            name: "abc".into(),
            version: "1.0".into(),
            ..SnapInfo::default()
        };
        assert_eq!(snap_file_name(&info, &[]), "abc_1.0_all.snap");
        assert_eq!(
            snap_file_name(&info, &["amd64".to_owned()]),
            "abc_1.0_amd64.snap"
        );
        assert_eq!(
            snap_file_name(&info, &["amd64".to_owned(), "arm64".to_owned()]),
            "abc_1.0_multi.snap"
        );
        assert_eq!(
            architectures("name: a\narchitectures: [amd64, i386]\n"),
            ["amd64", "i386"]
        );
    }
}
