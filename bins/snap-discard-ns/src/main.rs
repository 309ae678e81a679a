fn main() {
    eprintln!("snap-discard-ns: not implemented yet");
    std::process::exit(1);
}
