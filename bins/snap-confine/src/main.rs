//! snap-confine: build, preserve or re-enter a snap's mount namespace,
//! confine, and exec the app. All the logic is in `snapcell_confine`.
#![forbid(unsafe_code)]

fn main() {
    let code = snapcell_confine::main(std::env::args_os().collect(), std::env::vars_os().collect());
    std::process::exit(code);
}
