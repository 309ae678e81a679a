//! Why `execve` said `ENOENT` for a program that exists: the program's
//! interpreter is missing. For an ELF executable that is the dynamic loader
//! named in its `PT_INTERP` header (`/lib64/ld-linux-x86-64.so.2`), which a
//! base with another C library, or none, does not have; for a script, the
//! `#!` line's program. The kernel reports both as "No such file or
//! directory", which names neither.

use std::io::Read;
use std::path::Path;

/// The interpreter `program` asks for, if it names one: `Elf(path)` from
/// the ELF program headers, `Script(path)` from a `#!` line.
#[derive(Debug, PartialEq, Eq)]
pub enum Interpreter {
    Elf(String),
    Script(String),
}

/// What a program file is missing, for the error message: the interpreter
/// `program` names, where that interpreter does not exist (following
/// symlinks, as the kernel does).
pub fn missing_interpreter(program: &Path) -> Option<Interpreter> {
    let interp = read_interpreter(program)?;
    let path = match &interp {
        Interpreter::Elf(p) | Interpreter::Script(p) => p,
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(interp),
        _ => None,
    }
}

/// Read the interpreter of the file at `program` (at most its first 64 KiB).
pub fn read_interpreter(program: &Path) -> Option<Interpreter> {
    let mut head = Vec::new();
    std::fs::File::open(program)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .ok()?;
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|&b| b == b'\n').next()?;
        let line = std::str::from_utf8(line)
            .ok()?
            .trim_start_matches([' ', '\t']);
        let path = line.split([' ', '\t']).next()?;
        return (!path.is_empty()).then(|| Interpreter::Script(path.to_owned()));
    }
    elf_interpreter(&head).map(Interpreter::Elf)
}

const PT_INTERP: u32 = 3;

/// The `PT_INTERP` path of an ELF image whose headers and interpreter
/// string lie within `bytes` (32 or 64 bits, either byte order).
pub fn elf_interpreter(bytes: &[u8]) -> Option<String> {
    if bytes.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = match bytes.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match bytes.get(5)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let uint = |at: usize, len: usize| -> Option<u64> {
        let b = bytes.get(at..at.checked_add(len)?)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if big { b[i] } else { b[len - 1 - i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let word = if wide { 8 } else { 4 };
    // e_phoff follows e_ident (16), e_type, e_machine (2 each), e_version (4), e_entry.
    let phoff = uint(24 + word, word)?;
    // e_phentsize and e_phnum follow e_shoff, e_flags (4) and e_ehsize (2).
    let after_flags = 24 + 3 * word + 4 + 2;
    let phentsize = uint(after_flags, 2)?;
    let phnum = uint(after_flags + 2, 2)?;
    for i in 0..phnum {
        let ph = usize::try_from(phoff.checked_add(i.checked_mul(phentsize)?)?).ok()?;
        if uint(ph, 4)? != u64::from(PT_INTERP) {
            continue;
        }
        // Elf64_Phdr: p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz;
        // Elf32_Phdr: p_type, p_offset, p_vaddr, p_paddr, p_filesz.
        let (offset, filesz) = if wide {
            (uint(ph + 8, 8)?, uint(ph + 32, 8)?)
        } else {
            (uint(ph + 4, 4)?, uint(ph + 16, 4)?)
        };
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(filesz).ok()?)?;
        let raw = bytes.get(start..end)?;
        let raw = raw.split(|&b| b == 0).next()?;
        return String::from_utf8(raw.to_vec()).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF header with one PT_INTERP program header.
    fn elf(wide: bool, big: bool, interp: &str) -> Vec<u8> {
        let put = |out: &mut Vec<u8>, v: u64, len: usize| {
            let bytes: Vec<u8> = (0..len).map(|i| (v >> (8 * i)) as u8).collect();
            if big {
                out.extend(bytes.iter().rev());
            } else {
                out.extend(bytes);
            }
        };
        let word = if wide { 8 } else { 4 };
        let ehsize = 16 + 2 + 2 + 4 + 3 * word + 4 + 2 * 6;
        let phsize = if wide { 56 } else { 32 };
        let mut out = b"\x7fELF".to_vec();
        out.extend([if wide { 2 } else { 1 }, if big { 2 } else { 1 }, 1]);
        out.resize(16, 0);
        put(&mut out, 2, 2); // e_type: EXEC
        put(&mut out, 62, 2); // e_machine
        put(&mut out, 1, 4); // e_version
        put(&mut out, 0, word); // e_entry
        put(&mut out, ehsize as u64, word); // e_phoff
        put(&mut out, 0, word); // e_shoff
        put(&mut out, 0, 4); // e_flags
        put(&mut out, ehsize as u64, 2);
        put(&mut out, phsize as u64, 2);
        put(&mut out, 2, 2); // e_phnum: a PT_LOAD, then PT_INTERP
        put(&mut out, 0, 2);
        put(&mut out, 0, 2);
        put(&mut out, 0, 2);
        assert_eq!(out.len(), ehsize);
        let data = (ehsize + 2 * phsize) as u64;
        for kind in [1u64, 3] {
            let len = interp.len() as u64 + 1;
            put(&mut out, kind, 4);
            if wide {
                put(&mut out, 4, 4);
                for v in [data, data, data, len, len, 1] {
                    put(&mut out, v, 8);
                }
            } else {
                for v in [data, data, data, len, len, 4, 1] {
                    put(&mut out, v, 4);
                }
            }
        }
        out.extend(interp.as_bytes());
        out.push(0);
        out
    }

    #[test]
    fn elf_interpreter_of_every_class_and_byte_order() {
        for wide in [false, true] {
            for big in [false, true] {
                let image = elf(wide, big, "/lib/ld.so.1");
                assert_eq!(
                    elf_interpreter(&image).as_deref(),
                    Some("/lib/ld.so.1"),
                    "wide {wide} big {big}"
                );
                // Cut anywhere, it is not read past its end.
                for cut in 0..image.len() - 1 {
                    let got = elf_interpreter(&image[..cut]);
                    assert!(got.is_none() || cut >= image.len() - 1, "{cut}: {got:?}");
                }
            }
        }
        assert_eq!(elf_interpreter(b"\x7fELF"), None);
        assert_eq!(elf_interpreter(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn the_hosts_programs() {
        // A dynamically linked program names its loader.
        let ls = read_interpreter(Path::new("/bin/ls"));
        assert!(
            matches!(&ls, Some(Interpreter::Elf(p)) if p.starts_with('/') && p.contains("ld")),
            "{ls:?}"
        );
        // busybox-static names none.
        assert_eq!(read_interpreter(Path::new("/bin/busybox")), None);
        assert_eq!(missing_interpreter(Path::new("/bin/ls")), None);
    }

    #[test]
    fn scripts() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("s");
        for (text, want) in [
            ("#!/bin/sh\necho\n", Some("/bin/sh")),
            ("#! /usr/bin/env python3 -u\n", Some("/usr/bin/env")),
            ("#!\n", None),
            ("echo\n", None),
        ] {
            std::fs::write(&script, text).unwrap();
            assert_eq!(
                read_interpreter(&script),
                want.map(|p| Interpreter::Script(p.to_owned())),
                "{text:?}"
            );
        }
        std::fs::write(&script, "#!/nonexistent/interp\n").unwrap();
        assert_eq!(
            missing_interpreter(&script),
            Some(Interpreter::Script("/nonexistent/interp".to_owned()))
        );
    }
}
