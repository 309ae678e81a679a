//! snap-confine: build, preserve or re-enter a snap's mount namespace,
//! confine, and exec the app. All the logic is in `snapcell_confine`.

fn main() {
    let code = snapcell_confine::main(std::env::args_os().collect(), std::env::vars_os().collect());
    std::process::exit(code);
}
