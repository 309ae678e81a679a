fn main() {
    eprintln!("snap-confine: not implemented yet");
    std::process::exit(1);
}
