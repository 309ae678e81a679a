//! Fault injection for tests of the real binaries (feature `fault-injection`,
//! never enabled in release builds).
//!
//! [`FaultySystem`] wraps a [`System`] and makes its k-th *mutating* call
//! (counting from 1) fail with `EIO`, once; every other call is passed
//! through. Mutating calls are those that change the file system or the
//! mount table, or prepare such a change: `mkdir`, `mkfile`, `symlink`,
//! `remove`, `bind`, `mount_fs`, `set_propagation`, `unmount`, `set_aside`
//! and `bind_from_aside`. Only one call ever fails: the rollback that the
//! failure starts runs on a system that works again.
//!
//! snap-update-ns, built with its own `fault-injection` feature, wraps its
//! `LiveSystem` with [`FaultySystem::from_env`]: `SNAPCELL_FAULT_AT=K`
//! selects the call to fail. When dropped, the wrapper prints one line to
//! stderr, `snapcell-fault-injection: calls=N failed=K` (or `failed=none`),
//! so a test knows when K went past the last call.

use snapcell_sys::system::{
    AsideId, Errno, FileKind, FileMeta, FsMeta, MountFlags, SysResult, System,
};

/// The environment variable [`FaultySystem::from_env`] reads.
pub const FAULT_AT_ENV: &str = "SNAPCELL_FAULT_AT";

/// A [`System`] whose k-th mutating call fails with `EIO`.
#[derive(Debug)]
pub struct FaultySystem<S: System> {
    inner: S,
    fail_at: Option<u64>,
    calls: u64,
    failed: Option<u64>,
    report: bool,
}

impl<S: System> FaultySystem<S> {
    /// Fail the `fail_at`-th mutating call (1-based); `None` fails nothing
    /// but still counts.
    pub fn new(inner: S, fail_at: Option<u64>) -> FaultySystem<S> {
        FaultySystem {
            inner,
            fail_at,
            calls: 0,
            failed: None,
            report: false,
        }
    }

    /// As [`FaultySystem::new`] with K from `SNAPCELL_FAULT_AT` (unset or
    /// not a number: nothing fails); reports its counts on stderr when dropped
    /// if the variable was set.
    pub fn from_env(inner: S) -> FaultySystem<S> {
        let var = std::env::var(FAULT_AT_ENV).ok();
        let mut sys = FaultySystem::new(inner, var.as_deref().and_then(|v| v.parse().ok()));
        sys.report = var.is_some();
        sys
    }

    /// Mutating calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// The call that was failed, if any.
    pub fn failed(&self) -> Option<u64> {
        self.failed
    }

    fn tick(&mut self) -> SysResult<()> {
        self.calls += 1;
        if self.fail_at == Some(self.calls) {
            self.failed = Some(self.calls);
            return Err(Errno::IO);
        }
        Ok(())
    }
}

impl<S: System> Drop for FaultySystem<S> {
    fn drop(&mut self) {
        if self.report {
            let failed = self
                .failed
                .map_or_else(|| "none".to_owned(), |k| k.to_string());
            eprintln!(
                "snapcell-fault-injection: calls={} failed={failed}",
                self.calls
            );
        }
    }
}

impl<S: System> System for FaultySystem<S> {
    fn lstat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        self.inner.lstat(path)
    }

    fn stat(&mut self, path: &str) -> SysResult<Option<FileMeta>> {
        self.inner.stat(path)
    }

    fn statfs(&mut self, path: &str) -> SysResult<FsMeta> {
        self.inner.statfs(path)
    }

    fn mkdir(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        self.tick()?;
        self.inner.mkdir(parent, name, mode, uid, gid)
    }

    fn mkfile(
        &mut self,
        parent: &str,
        name: &str,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> SysResult<bool> {
        self.tick()?;
        self.inner.mkfile(parent, name, mode, uid, gid)
    }

    fn symlink(&mut self, parent: &str, name: &str, target: &str) -> SysResult<()> {
        self.tick()?;
        self.inner.symlink(parent, name, target)
    }

    fn readlink(&mut self, path: &str) -> SysResult<String> {
        self.inner.readlink(path)
    }

    fn read_dir(&mut self, path: &str) -> SysResult<Vec<(String, FileKind)>> {
        self.inner.read_dir(path)
    }

    fn remove(&mut self, path: &str) -> SysResult<()> {
        self.tick()?;
        self.inner.remove(path)
    }

    fn bind(
        &mut self,
        source: &str,
        target: &str,
        recursive: bool,
        read_only: bool,
    ) -> SysResult<()> {
        self.tick()?;
        self.inner.bind(source, target, recursive, read_only)
    }

    fn mount_fs(
        &mut self,
        source: &str,
        target: &str,
        fstype: &str,
        flags: MountFlags,
        data: &str,
    ) -> SysResult<()> {
        self.tick()?;
        self.inner.mount_fs(source, target, fstype, flags, data)
    }

    fn set_propagation(&mut self, target: &str, propagation: MountFlags) -> SysResult<()> {
        self.tick()?;
        self.inner.set_propagation(target, propagation)
    }

    fn unmount(&mut self, target: &str, detach: bool) -> SysResult<()> {
        self.tick()?;
        self.inner.unmount(target, detach)
    }

    fn is_mount_point(&mut self, target: &str) -> SysResult<bool> {
        self.inner.is_mount_point(target)
    }

    fn set_aside(&mut self, dir: &str) -> SysResult<AsideId> {
        self.tick()?;
        self.inner.set_aside(dir)
    }

    fn bind_from_aside(
        &mut self,
        aside: AsideId,
        name: &str,
        target: &str,
        recursive: bool,
    ) -> SysResult<()> {
        self.tick()?;
        self.inner.bind_from_aside(aside, name, target, recursive)
    }

    fn release_aside(&mut self, aside: AsideId) {
        self.inner.release_aside(aside)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeSystem;

    #[test]
    fn the_kth_mutating_call_fails_once_and_reads_are_not_counted() {
        let mut sys = FaultySystem::new(FakeSystem::new(), Some(2));
        assert!(sys.lstat("/").is_ok());
        assert_eq!(sys.calls(), 0);
        assert!(sys.mkdir("/", "a", 0o755, 0, 0).is_ok());
        assert_eq!(sys.mkdir("/", "b", 0o755, 0, 0), Err(Errno::IO));
        assert!(sys.mkdir("/", "b", 0o755, 0, 0).is_ok());
        assert_eq!((sys.calls(), sys.failed()), (3, Some(2)));
    }
}
