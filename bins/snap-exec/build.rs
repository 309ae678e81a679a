//! Link snap-exec statically, as snapd's is: it runs inside the snap's
//! namespace, on the snap's base, which may have another C library or none.
//!
//! The usual switch, `-C target-feature=+crt-static`, cannot be given to one
//! package: in `.cargo/config.toml` it would apply to every binary of the
//! workspace (and to build scripts and proc macros). A build script can only
//! add link arguments, and rustc names the C runtime as shared libraries
//! (`-Bdynamic -lgcc_s -lc ...`). So this script writes, in its own output
//! directory, linker scripts named like those shared libraries that stand
//! for the static archives (`libc.so` = `GROUP(libc.a libgcc.a libgcc_eh.a)`),
//! puts that directory first on the binaries' library path, and links them
//! `-static-pie` (glibc's `rcrt1.o`: static, and still position
//! independent). Only the binaries: the package's tests link as usual.
//!
//! Where the target is not Linux with glibc, nothing changes.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "linux" || env != "gnu" {
        return;
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out.join("static-libs");
    std::fs::create_dir_all(&dir).expect("cannot create the static-libs directory");
    let write = |name: &str, script: &str| {
        std::fs::write(dir.join(name), script)
            .unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
    };
    // libgcc.a and libgcc_eh.a come from the compiler's own directory, which
    // the compiler driver puts on the library path.
    write("libc.so", "GROUP ( libc.a libgcc.a libgcc_eh.a )\n");
    write("libgcc_s.so", "INPUT ( libgcc_eh.a )\n");
    for lib in ["util", "rt", "pthread", "m", "dl"] {
        write(&format!("lib{lib}.so"), &format!("INPUT ( lib{lib}.a )\n"));
    }
    println!("cargo:rustc-link-arg-bins=-L{}", dir.display());
    println!("cargo:rustc-link-arg-bins=-static-pie");
}
