fn main() {
    eprintln!("snap-exec: not implemented yet");
    std::process::exit(1);
}
