//! Issue terminal-injection ioctls the way an attacker would, to check the
//! defence. Test code: compiled only with the `testing` feature, which only
//! test targets enable.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use rustix::io::Errno;

use super::tty::{TIOCLINUX, TIOCSTI};

/// How to call `ioctl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoctlEntry {
    /// The native syscall with the plain request number.
    Native,
    /// The native syscall with garbage in the request's upper 32 bits,
    /// which the kernel ignores (CVE-2019-7303).
    NativeHighBits,
    /// The i386 syscall through `int 0x80` (x86_64 only; `NOSYS`
    /// elsewhere).
    I386,
    /// The i386 syscall through `int 0x80` from this 64-bit process with
    /// garbage in the upper half of `rcx`, the request's register: the
    /// compat `ioctl` reads only `ecx`, while seccomp is handed the whole
    /// 64-bit register (checked by the tests), so a filter must compare
    /// the low 32 bits there too (x86_64 only; `NOSYS` elsewhere).
    I386HighBits,
}

/// `ioctl(fd, TIOCSTI, &byte)`.
pub fn tiocsti(fd: BorrowedFd<'_>, byte: u8, entry: IoctlEntry) -> Result<(), Errno> {
    ioctl_with_byte(fd, TIOCSTI, byte, entry)
}

/// `ioctl(fd, TIOCLINUX, &subcode)`; subcode 3 is `TIOCL_PASTESEL`.
pub fn tioclinux(fd: BorrowedFd<'_>, subcode: u8, entry: IoctlEntry) -> Result<(), Errno> {
    ioctl_with_byte(fd, TIOCLINUX, subcode, entry)
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

fn ioctl_with_byte(
    fd: BorrowedFd<'_>,
    request: u32,
    byte: u8,
    entry: IoctlEntry,
) -> Result<(), Errno> {
    let fd = fd.as_fd().as_raw_fd();
    match entry {
        IoctlEntry::Native | IoctlEntry::NativeHighBits => {
            let mut req = u64::from(request);
            if entry == IoctlEntry::NativeHighBits {
                req |= 0xdead_beef_0000_0000;
            }
            let arg = byte;
            // SAFETY: TIOCSTI and TIOCLINUX read one byte through the
            // pointer, which points at `arg` on our stack; `fd` is
            // borrowed for the call.
            let rc = unsafe {
                libc::syscall(libc::SYS_ioctl, fd, req as libc::c_ulong, &arg as *const u8)
            };
            if rc == 0 { Ok(()) } else { Err(last_errno()) }
        }
        IoctlEntry::I386 => i386_ioctl(fd, u64::from(request), byte),
        IoctlEntry::I386HighBits => {
            i386_ioctl(fd, u64::from(request) | 0xdead_beef_0000_0000, byte)
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn i386_ioctl(fd: RawFd, request: u64, byte: u8) -> Result<(), Errno> {
    // The compat syscall takes 32-bit pointers: the argument must live
    // below 4 GiB.
    // SAFETY: a fresh private anonymous mapping; no existing memory is
    // affected.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if page == libc::MAP_FAILED {
        return Err(last_errno());
    }
    // SAFETY: `page` is a fresh writable mapping of 4096 bytes.
    unsafe { page.cast::<u8>().write(byte) };
    let ptr32 = page as u64 as u32;
    let ret: i32;
    // SAFETY: `int 0x80` with eax = 54 is the i386 ioctl(ebx, ecx, edx);
    // TIOCSTI/TIOCLINUX read one byte at `ptr32`, inside our mapping.
    // rbx is reserved by LLVM, so the fd is swapped into it around the
    // call. The compat entry may clobber r8-r11 on older kernels.
    unsafe {
        std::arch::asm!(
            "xchg {fd:r}, rbx",
            "int 0x80",
            "xchg {fd:r}, rbx",
            fd = inout(reg) u64::from(fd as u32) => _,
            inlateout("eax") 54i32 => ret,
            in("rcx") request,
            in("edx") ptr32,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    // SAFETY: unmapping the mapping created above, no longer used.
    unsafe { libc::munmap(page, 4096) };
    if ret >= 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(-ret))
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn i386_ioctl(_fd: RawFd, _request: u64, _byte: u8) -> Result<(), Errno> {
    Err(Errno::NOSYS)
}
