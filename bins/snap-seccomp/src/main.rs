//! snap-seccomp: compiles snapd's seccomp profiles (`.src`) into the BPF
//! programs snap-confine loads, as snapd's `snap-seccomp` does, with the
//! same command line, output, messages and exit codes:
//!
//! ```text
//! snap-seccomp compile [--format=bin2|bin] IN.src OUT
//! snap-seccomp version-info
//! snap-seccomp library-version
//! snap-seccomp dump FILE.bin2 PREFIX      (writes PREFIX.allow and PREFIX.deny)
//! ```
//!
//! Errors print `error: MESSAGE` on stderr and exit 1. `--format=bin` (ours)
//! writes the single raw program of snapd 2.57 instead of a `.bin2`.
#![forbid(unsafe_code)]

mod compile;
mod elf;
mod output;
mod sha256;
mod split;
mod version;

use std::path::Path;
use std::process::ExitCode;

use compile::Format;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let Some(cmd) = args.get(1) else {
        let me = args.first().map_or("snap-seccomp", String::as_str);
        println!("{me}: need a command");
        return ExitCode::FAILURE;
    };
    let result = match cmd.as_str() {
        "compile" => {
            let mut format = Format::Bin2;
            let mut files = Vec::new();
            for a in &args[2..] {
                match a.strip_prefix("--format=") {
                    Some("bin2") => format = Format::Bin2,
                    Some("bin") => format = Format::Bin,
                    Some(other) => {
                        eprintln!("error: unsupported format {other:?} (bin2 or bin)");
                        return ExitCode::FAILURE;
                    }
                    None => files.push(a.as_str()),
                }
            }
            if files.len() < 2 {
                println!("compile needs an input and output file");
                return ExitCode::FAILURE;
            }
            compile::compile_file(files[0], Path::new(files[1]), format)
        }
        "library-version" => {
            println!("{}", version::library_version());
            Ok(())
        }
        "version-info" => version::version_info().map(|v| println!("{v}")),
        "dump" => {
            if args.len() < 4 {
                println!("dump needs an input file and an output prefix");
                return ExitCode::FAILURE;
            }
            output::dump(Path::new(&args[2]), &args[3])
        }
        other => Err(format!("unsupported argument {}", go_quote(other))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn go_quote(s: &str) -> String {
    snapcell_core::goquote::quote(s)
}
