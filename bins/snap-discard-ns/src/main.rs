//! snap-discard-ns: unmount and remove a snap's preserved mount namespaces
//! and their files (spec §6.8). All the logic is in `snapcell_confine::discard`.
#![forbid(unsafe_code)]

fn main() {
    let code = snapcell_confine::discard::main(
        std::env::args_os().collect(),
        std::env::vars_os().collect(),
    );
    std::process::exit(code);
}
