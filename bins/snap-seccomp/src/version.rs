//! `version-info` and `library-version`.
//!
//! snapd copies `version-info` into every profile's header and into the
//! system key, and recompiles every profile when it changes. Ours is
//! `BUILD-ID LIBSECCOMP-VERSION SHA256 FEATURES`, as snapd's: our own GNU
//! build ID; the library's version; the SHA-256 of the names, one a line,
//! of every system call the library knows on the architectures we compile
//! for (snapd hashes those of its own copy of libseccomp's list that the
//! library knows: either changes when the library learns a name);
//! `bpf-actlog` when the library can log (API level 3), `-` otherwise.

use libseccomp::{ScmpArch, ScmpSyscall, ScmpVersion};

use crate::compile;
use crate::elf;
use crate::sha256;

pub fn library_version() -> String {
    match ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "0.0.0".into(),
    }
}

pub fn version_info() -> Result<String, String> {
    let exe = std::fs::read("/proc/self/exe")
        .map_err(|e| format!("cannot get build-id of snap-seccomp: {e}"))?;
    let build_id =
        elf::build_id(&exe).map_err(|e| format!("cannot get build-id of snap-seccomp: {e}"))?;
    let mut names = std::collections::BTreeSet::new();
    for arch in std::iter::once(ScmpArch::native()).chain(compile::compat_arch()) {
        for nr in 0..2048 {
            if let Ok(name) = ScmpSyscall::from(nr).get_name_by_arch(arch) {
                names.insert(name);
            }
        }
    }
    let mut text = String::new();
    for n in names {
        text.push_str(&n);
        text.push('\n');
    }
    let features = if libseccomp::get_api() >= 3 {
        "bpf-actlog"
    } else {
        "-"
    };
    Ok(format!(
        "{build_id} {} {} {features}",
        library_version(),
        sha256::hex(&sha256::digest(text.as_bytes()))
    ))
}
