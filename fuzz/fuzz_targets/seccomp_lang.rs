//! The seccomp profile language: parsing never panics; an error names the
//! file and a line that exists; a rule has at most six conditions, on
//! distinct arguments in order, and names a system call without `~`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use snapcell_core::seccomp::lang;

fuzz_target!(|data: &[u8]| {
    // Lower-case words are system calls the library knows, except `nosuch*`.
    let known = |name: &str| {
        !name.starts_with("nosuch") && name.starts_with(|c: char| c.is_ascii_lowercase())
    };
    match lang::parse("f.src", data, &known) {
        Err(e) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!(e.line <= lines, "error on line {} of {lines}", e.line);
            assert!(e.to_string().starts_with("f.src"));
        }
        Ok(p) => {
            if p.unrestricted {
                assert!(p.rules.is_empty());
            }
            for r in &p.rules {
                assert!(r.conditions.len() <= lang::MAX_ARGS);
                assert!(r.conditions.windows(2).all(|w| w[0].arg < w[1].arg));
                assert!(r.conditions.iter().all(|c| usize::from(c.arg) < lang::MAX_ARGS));
                assert!(!r.syscall.starts_with('~') || r.syscall.len() > 1);
                assert!(known(&r.syscall));
            }
        }
    }
});
