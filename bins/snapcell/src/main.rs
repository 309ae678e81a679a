fn main() {
    eprintln!("snapcell: not implemented yet");
    std::process::exit(1);
}
