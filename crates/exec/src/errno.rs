//! Error numbers as snapd prints them.
//!
//! snapd's messages end in Go's `syscall.Errno` text ("no such file or
//! directory", lowercase, no "os error N"), so the executor formats errno
//! values the same way. The names (`ENOENT`) are for the fake's call log.

use snapcell_sys::system::Errno;

/// (errno, C name, Go's text) for the values a mount executor meets.
const TABLE: &[(Errno, &str, &str)] = &[
    (Errno::PERM, "EPERM", "operation not permitted"),
    (Errno::NOENT, "ENOENT", "no such file or directory"),
    (Errno::INTR, "EINTR", "interrupted system call"),
    (Errno::IO, "EIO", "input/output error"),
    (Errno::NXIO, "ENXIO", "no such device or address"),
    (Errno::BADF, "EBADF", "bad file descriptor"),
    (Errno::AGAIN, "EAGAIN", "resource temporarily unavailable"),
    (Errno::NOMEM, "ENOMEM", "cannot allocate memory"),
    (Errno::ACCESS, "EACCES", "permission denied"),
    (Errno::FAULT, "EFAULT", "bad address"),
    (Errno::BUSY, "EBUSY", "device or resource busy"),
    (Errno::EXIST, "EEXIST", "file exists"),
    (Errno::XDEV, "EXDEV", "invalid cross-device link"),
    (Errno::NODEV, "ENODEV", "no such device"),
    (Errno::NOTDIR, "ENOTDIR", "not a directory"),
    (Errno::ISDIR, "EISDIR", "is a directory"),
    (Errno::INVAL, "EINVAL", "invalid argument"),
    (Errno::MFILE, "EMFILE", "too many open files"),
    (Errno::TXTBSY, "ETXTBSY", "text file busy"),
    (Errno::NOSPC, "ENOSPC", "no space left on device"),
    (Errno::ROFS, "EROFS", "read-only file system"),
    (Errno::NAMETOOLONG, "ENAMETOOLONG", "file name too long"),
    (Errno::NOSYS, "ENOSYS", "function not implemented"),
    (Errno::NOTEMPTY, "ENOTEMPTY", "directory not empty"),
    (Errno::LOOP, "ELOOP", "too many levels of symbolic links"),
    (
        Errno::OVERFLOW,
        "EOVERFLOW",
        "value too large for defined data type",
    ),
    (Errno::OPNOTSUPP, "EOPNOTSUPP", "operation not supported"),
    (Errno::STALE, "ESTALE", "stale NFS file handle"),
    (Errno::DQUOT, "EDQUOT", "disk quota exceeded"),
];

/// Go's text for `e` ("no such file or directory"); `errno N` for others.
pub fn text(e: Errno) -> String {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == e)
        .map(|(_, _, t)| (*t).to_owned())
        .unwrap_or_else(|| format!("errno {}", e.raw_os_error()))
}

/// The C name of `e` (`ENOENT`); `E<N>` for others.
pub fn name(e: Errno) -> String {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == e)
        .map(|(_, c, _)| (*c).to_owned())
        .unwrap_or_else(|| format!("E{}", e.raw_os_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_and_names_are_gos_and_cs() {
        assert_eq!(text(Errno::ROFS), "read-only file system");
        assert_eq!(text(Errno::LOOP), "too many levels of symbolic links");
        assert_eq!(name(Errno::NOTEMPTY), "ENOTEMPTY");
        assert_eq!(text(Errno::from_raw_os_error(4000)), "errno 4000");
        assert_eq!(name(Errno::from_raw_os_error(4000)), "E4000");
    }
}
