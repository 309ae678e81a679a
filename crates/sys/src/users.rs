//! User and group ids by name, through the C library's user database
//! (`getpwnam_r`, `getgrnam_r`: NSS, so `/etc/passwd` and whatever else
//! `nsswitch.conf` names), as snapd's `snap-seccomp` resolves `u:NAME` and
//! `g:NAME` (Go's `os/user` built with cgo calls the same functions).
//! In-process: no `getent` child per name.

use std::ffi::CString;
use std::io;

/// The id of user `name`; `None` if there is no such user.
pub fn uid_by_name(name: &str) -> io::Result<Option<u32>> {
    lookup(name, |name, buf| {
        // SAFETY: an all-zero `passwd` is valid (null pointers, zero ids);
        // getpwnam_r fills it from `buf`, which outlives the call.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `buf` is valid for `buf.len()`
        // bytes; `pwd` and `result` are valid for writes.
        let rc = unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        (rc, (!result.is_null()).then_some(pwd.pw_uid))
    })
}

/// The id of group `name`; `None` if there is no such group.
pub fn gid_by_name(name: &str) -> io::Result<Option<u32>> {
    lookup(name, |name, buf| {
        // SAFETY: as for `passwd` above.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as for getpwnam_r above.
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut grp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        (rc, (!result.is_null()).then_some(grp.gr_gid))
    })
}

/// Call `get` with a buffer growing on `ERANGE`. "Not found" is a zero
/// return with no result, or one of the errors POSIX lets implementations
/// use for it (`getpwnam_r(3)`: ENOENT, ESRCH, EBADF, EPERM).
fn lookup(
    name: &str,
    mut get: impl FnMut(&CString, &mut [libc::c_char]) -> (libc::c_int, Option<u32>),
) -> io::Result<Option<u32>> {
    let Ok(name) = CString::new(name) else {
        return Ok(None); // a name with a NUL byte names nobody
    };
    let mut size = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        match get(&name, &mut buf) {
            (0, id) => return Ok(id),
            (libc::ERANGE, _) if size < 1 << 20 => size *= 4,
            (libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM, _) => return Ok(None),
            (rc, _) => return Err(io::Error::from_raw_os_error(rc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_zero() {
        assert_eq!(uid_by_name("root").unwrap(), Some(0));
        assert_eq!(gid_by_name("root").unwrap(), Some(0));
    }

    #[test]
    fn unknown_names_are_none() {
        assert_eq!(uid_by_name("nosuchuser-snapcell").unwrap(), None);
        assert_eq!(gid_by_name("nosuchgroup-snapcell").unwrap(), None);
        assert_eq!(uid_by_name("ro\0ot").unwrap(), None);
        assert_eq!(uid_by_name("").unwrap(), None);
    }

    #[test]
    fn agrees_with_etc_passwd() {
        // Every user and group of the local files resolves to its id
        // (first entry of a name wins, as in the C library).
        for (file, lookup) in [
            (
                "/etc/passwd",
                uid_by_name as fn(&str) -> io::Result<Option<u32>>,
            ),
            ("/etc/group", gid_by_name),
        ] {
            let text = std::fs::read_to_string(file).unwrap();
            let mut seen = std::collections::HashSet::new();
            for line in text.lines() {
                let f: Vec<&str> = line.split(':').collect();
                if f.len() < 3 || f[0].starts_with(['+', '-', '#']) || !seen.insert(f[0]) {
                    continue;
                }
                assert_eq!(lookup(f[0]).unwrap(), f[2].parse().ok(), "{file}: {}", f[0]);
            }
        }
    }
}
