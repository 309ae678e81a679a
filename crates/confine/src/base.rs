//! Locating the base snap (spec §6.2): `SNAP_MOUNT_DIR/BASE/current`, with
//! snap-confine's fallbacks, resolved to the revision it points at.

use rustix::fs::{FileType, Mode, OFlags};
use snapcell_sys::safefs::open_dir;

use crate::error::{Error, Result, SysContext};

/// The base snap a namespace is built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Base {
    /// The base's name after fallbacks (what `snap.INSTANCE.info` records).
    pub name: String,
    /// The name that was asked for.
    pub requested: String,
    /// The revision `current` points at.
    pub revision: String,
    /// `SNAP_MOUNT_DIR/NAME/REV`: the root directory of the base.
    pub dir: String,
}

/// Find base `requested` under `snap_mount_dir`. If
/// `SNAP_MOUNT_DIR/BASE/current` does not exist, `core` falls back to
/// `ubuntu-core` and `core16` to `core`; anything else is
/// `cannot locate base snap BASE`.
pub fn locate_base(snap_mount_dir: &str, requested: &str) -> Result<Base> {
    let exists = |name: &str| {
        rustix::fs::stat(format!("{snap_mount_dir}/{name}/current"))
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
    };
    let name = if exists(requested) {
        requested
    } else {
        match requested {
            "core" if exists("ubuntu-core") => "ubuntu-core",
            "core16" if exists("core") => "core",
            _ => return Err(Error::new(format!("cannot locate base snap {requested}"))),
        }
    };
    if name != requested {
        snapcell_sys::debug!("falling back to base snap {name} (requested {requested})");
    }
    let snap_dir = format!("{snap_mount_dir}/{name}");
    let dir_fd = open_dir(&snap_dir)?;
    let target = rustix::fs::readlinkat(&dir_fd, "current", Vec::new())
        .or_die(|| format!("cannot read symbolic link {snap_dir}/current"))?;
    let revision = target.to_str().unwrap_or_default().to_owned();
    if revision.is_empty() || revision.contains('/') || revision == "." || revision == ".." {
        return Err(Error::new(format!(
            "cannot use base snap {name}: {snap_dir}/current does not point to a revision ({target:?})"
        )));
    }
    // The revision directory itself, with no symlink on the way.
    let dir = format!("{snap_dir}/{revision}");
    drop(open_dir(&dir)?);
    Ok(Base {
        name: name.to_owned(),
        requested: requested.to_owned(),
        revision,
        dir,
    })
}

impl Base {
    /// The device (major, minor) the base's root is on now.
    pub fn device(&self) -> Result<(u32, u32)> {
        let fd = rustix::fs::open(
            &self.dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .or_die(|| format!("cannot open {}", self.dir))?;
        let st = rustix::fs::fstat(&fd).or_die(|| format!("cannot inspect {}", self.dir))?;
        Ok((rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev)))
    }
}
