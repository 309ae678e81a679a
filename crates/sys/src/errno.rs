//! Error numbers as the C library prints them (`No such file or
//! directory`), the words of snap-confine's messages. (snap-update-ns's
//! executor prints Go's texts instead: `snapcell_exec::errno`.)

use rustix::io::Errno;

/// The C library's text for `errno` (`No such file or directory`), without
/// Rust's `(os error N)` suffix.
pub fn strerror(errno: Errno) -> String {
    let text = std::io::Error::from_raw_os_error(errno.raw_os_error()).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_the_c_librarys() {
        assert_eq!(strerror(Errno::NOENT), "No such file or directory");
        assert_eq!(strerror(Errno::ACCESS), "Permission denied");
    }
}
