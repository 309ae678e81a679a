//! The seccomp probe through the launchers (issue 8's Tests section): the
//! static probe program (`snapcell_test_support::seccomp_probe`) runs as
//! the app, each system call in a forked child, under snapd 2.57's default
//! template compiled
//! * by Debian's snap-seccomp (2.57, `.bin`), launched by Debian's
//!   snap-confine (the reference), and
//! * by ours (`.bin2`, and `--format=bin` for 2.57 hosts), launched by ours;
//!
//! plus the crossings (our `.bin` under Debian's launcher, Debian's `.bin`
//! under ours). Each launcher must decide alike whichever compiler wrote
//! its file, and ours must decide as the reference apart from
//! [`EXPECTED_DIFFERENCES`]: our launcher adds the terminal-injection
//! filter (`TIOCSTI`/`TIOCLINUX`, low 32 bits compared) to every restricted
//! profile, where 2.57's needs a `global.bin` that snapd 2.57 writes and
//! current snapd no longer does (none here).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use common::*;
use snapcell_test_support::seccomp_probe::{
    Outcome, build_probe, parse_report, probes, snapd_257_profile,
};
use snapcell_test_support::{MachineSnapshot, World, run_in_world};

const REFERENCE: &str = "/usr/lib/snapd/snap-confine";
const REFERENCE_DISCARD: &str = "/usr/lib/snapd/snap-discard-ns";
const REFERENCE_SECCOMP: &str = "/usr/lib/snapd/snap-seccomp";
const BPF_DIR: &str = "/var/lib/snapd/seccomp/bpf";
/// How often the reference is tried on its known 6.18 flake (see
/// differential.rs).
const REFERENCE_ATTEMPTS: usize = 30;

const EPERM: i32 = 1;
const EBADF: i32 = 9;
const SIGSYS: i32 = 31;

/// Where ours and the reference differ, on purpose: (probe, ours, 2.57).
const EXPECTED_DIFFERENCES: &[(&str, Outcome, Outcome)] = &[
    // CVE-2019-7303: 2.57's template says `ioctl - !TIOCSTI`, a 64-bit
    // compare on x86_64; only its global.bin (absent) masks.
    (
        "ioctl(-1, TIOCSTI|1<<32)",
        Outcome::Errno(EPERM),
        Outcome::Ran(Some(EBADF)),
    ),
    // TIOCLINUX is not in 2.57's template at all; current snapd's denies it.
    (
        "ioctl(-1, TIOCLINUX)",
        Outcome::Errno(EPERM),
        Outcome::Ran(Some(EBADF)),
    ),
    (
        "i386 ioctl(-1, TIOCLINUX)",
        Outcome::Errno(EPERM),
        Outcome::Ran(Some(EBADF)),
    ),
];

/// Our snap-seccomp, built next to this package's snap-confine (cargo
/// gives a test only its own package's binaries). Refuses a missing or
/// stale one rather than testing old code.
fn our_snap_seccomp() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_snap-confine")).with_file_name("snap-seccomp");
    let how = "build it first: cargo build -p snap-seccomp (the workspace test run does)";
    let built = fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| {
            panic!(
                "cannot find our snap-seccomp at {}: {e}; {how}",
                bin.display()
            )
        });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let newest = ["bins/snap-seccomp/src", "crates/core/src/seccomp"]
        .iter()
        .flat_map(|d| fs::read_dir(root.join(d)).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().modified().unwrap())
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    assert!(
        newest <= built,
        "{} is older than its sources; {how}",
        bin.display()
    );
    bin
}

fn compile(compiler: &Path, src: &Path, out: &Path, args: &[&str]) {
    let o = Command::new(compiler)
        .arg("compile")
        .args(args)
        .arg(src)
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{} compile: {o:?}", compiler.display());
}

/// Make `file` the app's only profile, as `TAG.EXT`.
fn install_profile(file: &Path, ext: &str) {
    for old in ["bin2", "bin"] {
        let _ = fs::remove_file(format!("{BPF_DIR}/{TAG}.{old}"));
    }
    let dest = format!("{BPF_DIR}/{TAG}.{ext}");
    fs::copy(file, &dest).unwrap();
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o644)).unwrap();
}

/// Run the probe as the app through `launcher`; its report (checked).
fn run_probe(launcher: &Path, probe: &Path, reference: bool) -> String {
    let specs: Vec<String> = probes().iter().map(|p| p.spec()).collect();
    let mut args = vec!["--base", "core", TAG, probe.to_str().unwrap()];
    args.extend(specs.iter().map(String::as_str));
    let attempts = if reference { REFERENCE_ATTEMPTS } else { 1 };
    for _ in 0..attempts {
        let out = run_with(launcher, &args, &snap_env());
        let stderr = String::from_utf8_lossy(&out.stderr);
        if reference && !out.status.success() && stderr.contains("cannot preserve mount namespace")
        {
            let _ = Command::new(REFERENCE_DISCARD).arg(SNAP).status();
            continue;
        }
        let stdout = expect_success(&out);
        if let Err(e) = parse_report(&stdout, specs.len()) {
            panic!("{}: {e}\nstderr:\n{stderr}", launcher.display());
        }
        return stdout;
    }
    panic!("the reference snap-confine failed {REFERENCE_ATTEMPTS} times with its 6.18 flake");
}

/// The report of a run, one file a run, written from inside the worlds.
fn save(path: &Path, report: &str) {
    fs::write(path, report).unwrap();
}

#[test]
fn the_launchers_decide_alike_under_snapd_257s_template() {
    for tool in [REFERENCE, REFERENCE_SECCOMP] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is not installed: this test cannot run (apt-get install snapd)"
        );
    }
    let src_text = snapd_257_profile().expect("snapd 2.57's template in /usr/lib/snapd/snapd");
    let ours_compiler = our_snap_seccomp();
    let before = MachineSnapshot::take();
    let fx = Fixture::new();
    let dir = fx.dir.path();
    // The probe lives in the fixture's directory under /var/tmp, which
    // both launchers bind from the host.
    let probe = build_probe(dir).expect("gcc -static (apt-get install gcc libc6-dev)");
    let src = dir.join("profile.src");
    fs::write(&src, &src_text).unwrap();
    let (deb_bin, our_bin2, our_bin) = (
        dir.join("deb.bin"),
        dir.join("ours.bin2"),
        dir.join("ours.bin"),
    );
    compile(Path::new(REFERENCE_SECCOMP), &src, &deb_bin, &[]);
    compile(&ours_compiler, &src, &our_bin2, &[]);
    compile(&ours_compiler, &src, &our_bin, &["--format=bin"]);

    let result = |name: &str| dir.join(format!("{name}.txt"));
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        install_profile(&deb_bin, "bin");
        save(
            &result("ref"),
            &run_probe(Path::new(REFERENCE), &probe, true),
        );
        install_profile(&our_bin, "bin");
        save(
            &result("ref-our-bin"),
            &run_probe(Path::new(REFERENCE), &probe, true),
        );
    });
    run_in_world(|world: &mut World| {
        fx.install(world, "core");
        install_profile(&our_bin2, "bin2");
        save(&result("ours"), &run_probe(&fx.confine, &probe, false));
        install_profile(&our_bin, "bin");
        save(&result("ours-bin"), &run_probe(&fx.confine, &probe, false));
        install_profile(&deb_bin, "bin");
        save(
            &result("ours-deb-bin"),
            &run_probe(&fx.confine, &probe, false),
        );
    });
    before.assert_unchanged();

    let parse = |name: &str| -> Vec<Outcome> {
        parse_report(&fs::read_to_string(result(name)).unwrap(), probes().len()).unwrap()
    };
    let (reference, ours) = (parse("ref"), parse("ours"));
    let mut table = String::new();
    for (i, p) in probes().iter().enumerate() {
        table.push_str(&format!(
            "{:32} ref {:20} ours {:?}\n",
            p.name,
            format!("{:?}", reference[i]),
            ours[i]
        ));
    }
    eprintln!("{table}");
    // Each launcher decides alike whichever compiler wrote its profile.
    assert_eq!(
        parse("ref-our-bin"),
        reference,
        "Debian's snap-confine under our --format=bin differs from Debian's .bin\n{table}"
    );
    assert_eq!(
        parse("ours-bin"),
        ours,
        "our .bin differs from our .bin2\n{table}"
    );
    assert_eq!(
        parse("ours-deb-bin"),
        ours,
        "Debian's .bin under our launcher differs\n{table}"
    );
    // Ours decides as the reference, apart from the expected differences.
    let mut differences = Vec::new();
    for (i, p) in probes().iter().enumerate() {
        if reference[i] != ours[i] {
            differences.push((p.name, ours[i], reference[i]));
        }
    }
    assert_eq!(
        differences, EXPECTED_DIFFERENCES,
        "(probe, ours, 2.57)\n{table}"
    );
    // And a few decided by the filters, not by chance.
    let at = |name: &str| probes().iter().position(|p| p.name == name).unwrap();
    assert_eq!(ours[at("mount")], Outcome::Errno(EPERM));
    assert_eq!(ours[at("i386 mount")], Outcome::Errno(EPERM));
    assert_eq!(ours[at("x32 getpid")], Outcome::Killed(SIGSYS));
    assert_eq!(ours[at("ioctl(-1, TIOCSTI)")], Outcome::Errno(EPERM));
    assert_eq!(
        ours[at("i386 ioctl(-1, TIOCSTI|1<<32)")],
        Outcome::Errno(EPERM)
    );
    assert_eq!(ours[at("getppid")], Outcome::Ran(None));
    assert_eq!(ours[at("i386 getpid")], Outcome::Ran(None));
}
