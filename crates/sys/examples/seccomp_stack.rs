//! For benches/seccomp: the filters snap-confine loads for a profile, as
//! raw programs (a benchmark aid, not shipped).
//!
//!     seccomp_stack PROFILE OUTDIR
//!
//! writes `OUTDIR/tty.bin` (the terminal-injection filter,
//! `hygiene::tty::tty_injection_filter`) and `OUTDIR/composed.bin` (that
//! filter and the profile's, `.bin2` deny then allow or a raw `.bin`,
//! composed into one as `seccomp::install_stack` loads them), and prints
//! the instruction counts.

use std::path::Path;

use snapcell_core::seccomp::bin2::{parse_bin2, parse_legacy_bin};
use snapcell_core::seccomp::bpf::BpfProgram;
use snapcell_core::seccomp::compose::compose;
use snapcell_sys::hygiene::tty::tty_injection_filter;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, profile, out] = &args[..] else {
        eprintln!("usage: seccomp_stack PROFILE OUTDIR");
        std::process::exit(2);
    };
    let path = Path::new(profile);
    let bytes = std::fs::read(path).expect("cannot read the profile");
    let program = if path.extension().is_some_and(|e| e == "bin2") {
        parse_bin2(path, &bytes).expect("a .bin2")
    } else {
        parse_legacy_bin(path, &bytes).expect("a .bin")
    };
    let tty = tty_injection_filter().expect("the terminal-injection filter");
    let filters: Vec<&BpfProgram> = tty
        .filters()
        .iter()
        .chain(program.filters())
        .map(|(_, f)| f)
        .collect();
    let one = compose(&filters).expect("composition refused");
    let out = Path::new(out);
    std::fs::write(out.join("tty.bin"), filters[0].to_bytes()).unwrap();
    std::fs::write(out.join("composed.bin"), one.to_bytes()).unwrap();
    println!(
        "{:?} instructions composed into {}",
        filters
            .iter()
            .map(|f| f.instructions().len())
            .collect::<Vec<_>>(),
        one.instructions().len()
    );
}
