//! snapcell's own policy (`core::seccomp::policy`) compiled by our
//! `snap-seccomp` and installed for real: each probe (a system call with
//! harmless arguments, in a forked child with `no_new_privs`) is allowed or
//! refused as the policy says, under the default profile, under each
//! interface alone and under all of them; refused means EPERM or EACCES,
//! never a kill (apart from the x32 numbers, killed on purpose). And real
//! programs (a static busybox, dash with coreutils, Python with a thread and
//! a child) run under the profile of a snap with no plugs. No mounts: no
//! world needed. The probes and what the policy should answer are data in
//! `snapcell_test_support::seccomp_probe::policy`.

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use common::{OURS, compile, load, outcome, wait};
use snapcell_core::seccomp::SeccompProgram;
use snapcell_core::seccomp::policy::{Interface, profile_source};
use snapcell_sys::fork::fork_child;
use snapcell_sys::seccomp::Install;
use snapcell_test_support::seccomp_probe::Outcome;
use snapcell_test_support::seccomp_probe::policy::{Expect, cases};

fn policy(dir: &Path, name: &str, interfaces: &[Interface]) -> SeccompProgram {
    let src = profile_source(interfaces);
    load(&compile(OURS, dir, &format!("{name}.bin2"), &src, &[]))
}

/// The answers the policy for `connected` gives, checked against the
/// expectations; a table of every mismatch.
fn check(program: &SeccompProgram, connected: &[Interface]) -> Vec<String> {
    let mut wrong = Vec::new();
    for (probe, expect) in cases() {
        let got = outcome(program, &probe);
        let refused = matches!(got, Outcome::Errno(libc::EPERM | libc::EACCES));
        let ok = match expect {
            Expect::Always => matches!(got, Outcome::Ran(_)),
            Expect::Never => refused,
            Expect::With(by) => {
                if connected.iter().any(|i| by.contains(i)) {
                    matches!(got, Outcome::Ran(_))
                } else {
                    refused
                }
            }
            Expect::Exactly(want) => got == want,
        };
        if !ok {
            wrong.push(format!("{:44} {got:?}, expected {expect:?}", probe.name));
        }
    }
    wrong
}

#[test]
fn no_plugs_runs_calls_of_ordinary_programs_and_nothing_dangerous() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let wrong = check(&program, &[]);
    assert!(wrong.is_empty(), "no plugs:\n{}", wrong.join("\n"));
}

#[test]
fn each_interface_grants_its_calls_and_no_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for i in Interface::ALL {
        let program = policy(dir.path(), i.name(), &[i]);
        wrong.extend(
            check(&program, &[i])
                .into_iter()
                .map(|w| format!("{}: {w}", i.name())),
        );
    }
    let program = policy(dir.path(), "all", &Interface::ALL);
    wrong.extend(
        check(&program, &Interface::ALL)
            .into_iter()
            .map(|w| format!("all: {w}")),
    );
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

/// Run a program with the profile installed (and `no_new_privs`) between
/// fork and exec; its status and output.
fn run_under(program: &SeccompProgram, argv: &[&str]) -> std::process::Output {
    let program = program.clone();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C");
    // SAFETY: the closure runs in the forked child before exec; it makes
    // two system calls (prctl, seccomp) on memory the parent prepared and
    // allocates nothing on success.
    unsafe {
        cmd.pre_exec(move || {
            rustix::thread::set_no_new_privs(true)?;
            program
                .install()
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        });
    }
    cmd.output().expect("spawn")
}

fn present(path: &str) -> bool {
    if Path::new(path).exists() {
        return true;
    }
    eprintln!("SKIPPED: {path} is not installed");
    false
}

#[test]
fn ordinary_programs_run_without_plugs() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let text = |o: &std::process::Output| {
        format!(
            "{}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    // A static busybox: its shell, a pipeline, applets.
    if present("/bin/busybox") {
        let o = run_under(
            &program,
            &[
                "/bin/busybox",
                "sh",
                "-c",
                "echo hello; busybox ls / >/dev/null && busybox cat /etc/passwd >/dev/null; busybox seq 3 | busybox wc -l",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "hello\n3\n",
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // dash and dynamically linked coreutils: fork, exec, pipes, files.
    if present("/bin/dash") {
        let script = format!(
            "ls -l / | sort -r | head -n 3 >/dev/null && date +%Y >/dev/null && \
             mkdir {d}/x && echo data >{d}/x/f && cp -p {d}/x/f {d}/x/g && mkfifo {d}/x/p && \
             cat {d}/x/g && rm -r {d}/x && id -u",
            d = dir.path().display()
        );
        let o = run_under(&program, &["/bin/dash", "-c", &script]);
        let uid = rustix::process::getuid().as_raw();
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            format!("data\n{uid}\n"),
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // Python: threads (glibc's pthread_create tries clone3, gets ENOSYS,
    // falls back to clone) and a child process.
    if present("/usr/bin/python3") {
        let o = run_under(
            &program,
            &[
                "/usr/bin/python3",
                "-I",
                "-c",
                "import threading, subprocess\n\
                 out = []\n\
                 t = threading.Thread(target=lambda: out.append('thread'))\n\
                 t.start(); t.join()\n\
                 print(out[0], subprocess.run(['/bin/true']).returncode)",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "thread 0\n",
            "{}",
            text(&o)
        );
        assert!(o.status.success(), "{}", text(&o));
    }
    // What the profile refuses, seen from real programs.
    if present("/usr/bin/unshare") {
        let o = run_under(&program, &["/usr/bin/unshare", "--user", "/bin/true"]);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("Operation not permitted"),
            "{}",
            text(&o)
        );
    }
    if present("/bin/busybox") {
        let o = run_under(
            &program,
            &[
                "/bin/busybox",
                "mount",
                "-t",
                "tmpfs",
                "none",
                "/nonexistent-snapcell",
            ],
        );
        assert!(!o.status.success(), "{}", text(&o));
    }
}

#[test]
fn threads_and_children_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let program = policy(dir.path(), "default", &[]);
    let pid = fork_child(|| {
        if rustix::thread::set_no_new_privs(true).is_err() || program.install().is_err() {
            return 250;
        }
        match std::thread::Builder::new().spawn(|| 7).map(|t| t.join()) {
            Ok(Ok(7)) => {}
            _ => return 10,
        }
        match Command::new("/bin/true").status() {
            Ok(s) if s.success() => 0,
            _ => 11,
        }
    })
    .expect("fork");
    let status = wait(pid);
    assert_eq!(
        status.exit_status(),
        Some(0),
        "{status:?} (10: thread, 11: child)"
    );
}
