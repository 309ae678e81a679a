//! The attacks of ../shared/research/security.md §8 carried out in the
//! second round: 3, 10, 14, 15, 16, 18, 20, 21, 22 and 24. Each returns
//! `Err(what the attacker achieved)`; see [`crate::lab`].

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use snapcell_test_support::cgroup::{
    CgroupGuard, fake_udev, host_v2_root, show_cgroup_v1, tag_device, unique_snap_name,
};
use snapcell_test_support::{build_squashfs, build_static_c};

use crate::common::{SNAP, TAG, app_tree, base_tree, snap_env, world_mounts};
use crate::lab::*;

// ---- shared helpers ----------------------------------------------------

/// A launch that ended by itself (not killed, not timed out).
fn clean(out: &Output, what: &str) -> Result<(), String> {
    check(ended_cleanly(out), || {
        format!("{what}: the launcher hung or crashed: {}", text(out))
    })
}

/// Discard the snap's preserved namespace as root, keeping its private
/// `/tmp` (as a base refresh does).
fn discard_ns() {
    let _ = Command::new("sh")
        .args([
            "-c",
            "umount -l /run/snapd/ns/hello.mnt 2>/dev/null; rm -f /run/snapd/ns/*hello*",
        ])
        .status();
}

/// Discard the namespace and the private `/tmp`.
fn discard_all() {
    discard_ns();
    let _ = fs::remove_dir_all("/tmp/snap-private-tmp");
}

/// Write the snap's desired mount profile (what snapd makes of its layouts).
fn write_fstab(text: &str) {
    fs::create_dir_all("/var/lib/snapd/mount").unwrap();
    fs::write("/var/lib/snapd/mount/snap.hello.fstab", text).unwrap();
}

/// The world's mount table without the designed changes of a launch
/// (`/run/snapd/ns`, and propagation tags, which the launcher sets on the
/// snap mount directory as snapd does).
fn host_mounts() -> Vec<String> {
    let mut v: Vec<String> = world_mounts()
        .into_iter()
        .filter(|m| !m.starts_with("/run/snapd/ns"))
        .map(|m| m.rsplit_once(' ').map(|(a, _)| a.to_owned()).unwrap_or(m))
        .collect();
    v.sort();
    v
}

/// The mount changes from `before` to now, or `Ok`.
fn same_mounts(before: &[String], what: &str) -> Result<(), String> {
    let after = host_mounts();
    check(before == after.as_slice(), || {
        let gone: Vec<_> = before.iter().filter(|m| !after.contains(m)).collect();
        let new: Vec<_> = after.iter().filter(|m| !before.contains(m)).collect();
        format!("{what}: the host's mounts changed: gone {gone:?}, new {new:?}")
    })
}

/// Every name, type, mode and owner under `dirs` (one file system each).
fn tree_snapshot(dirs: &str) -> String {
    root_sh(&format!(
        "find {dirs} -xdev -printf '%p %y %m %u %i\\n' 2>/dev/null | sort"
    ))
}

/// What changed between two [`tree_snapshot`]s.
fn tree_diff(before: &str, after: &str) -> String {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let gone: Vec<&&str> = b.iter().filter(|l| !a.contains(l)).take(10).collect();
    let new: Vec<&&str> = a.iter().filter(|l| !b.contains(l)).take(10).collect();
    format!("gone {gone:?}, new {new:?}")
}

/// Cover the world's `/etc` with a copy on the world's tmpfs, so that an
/// attack that trespasses there writes into the world, never onto the
/// machine's disk.
fn etc_on_tmpfs() {
    root_sh(
        "mkdir -p /tmp/.etc-copy && cp -a /etc/. /tmp/.etc-copy/ && mount --bind /tmp/.etc-copy /etc",
    );
}

/// The attacker's launch of `args` (after `--base`) with `env`, bounded.
fn launch_args(lab: &Lab, base: &str, args: &[&str], env: &[(OsString, OsString)]) -> Output {
    let mut cmd = attacker(Command::new("timeout"));
    cmd.args(["-s", "KILL", &LAUNCH_TIMEOUT_S.to_string(), CONFINE])
        .args(["--base", base])
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::null());
    lab.run(cmd)
}

/// The attacker's launch of the app's `script` on `base`.
fn launch_on(lab: &Lab, base: &str, script: &str) -> Output {
    launch_args(lab, base, &[TAG, "/bin/sh", "-c", script], &snap_env())
}

/// The app's mount table lines (as `cat /proc/self/mountinfo` prints
/// them) mounted at `dir`.
fn mounted_at<'a>(table: &'a str, dir: &str) -> Vec<&'a str> {
    table
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(dir))
        .collect()
}

/// Compile the seccomp profile snapd 2.57 writes for a strict app into
/// `TAG.bin` with Debian's snap-seccomp, and take away our `.bin2`, so both
/// launchers load the same, real profile. `false` when snapd is missing.
fn real_seccomp_profile() -> bool {
    let Some(src) = snapcell_test_support::seccomp_probe::snapd_257_profile() else {
        return false;
    };
    let bpf = Path::new("/var/lib/snapd/seccomp/bpf");
    let src_path = bpf.join(format!("{TAG}.src"));
    fs::write(&src_path, src).unwrap();
    let status = Command::new("/usr/lib/snapd/snap-seccomp")
        .arg("compile")
        .arg(&src_path)
        .arg(bpf.join(format!("{TAG}.bin")))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "snap-seccomp cannot compile 2.57's template"
    );
    let _ = fs::remove_file(bpf.join(format!("{TAG}.bin2")));
    true
}

// ---- static programs of the attack base ---------------------------------

/// `/bin/swapper A B SECONDS`: re-creates `/tmp/.snap` and `A` whenever
/// they are gone, and exchanges `A` and `B` (`RENAME_EXCHANGE`) as fast as
/// it can for SECONDS.
pub const SWAPPER: &str = "#define _GNU_SOURCE\n#include <fcntl.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <sys/stat.h>\n#include <time.h>\n#include <unistd.h>\n\
int main(int argc,char**argv){if(argc!=4)return 2;time_t end=time(NULL)+atoi(argv[3]);long n=0;\
while(time(NULL)<end){mkdir(\"/tmp/.snap\",0755);mkdir(argv[1],0755);\
for(int i=0;i<200;i++)if(renameat2(AT_FDCWD,argv[1],AT_FDCWD,argv[2],RENAME_EXCHANGE)==0)n++;}\
printf(\"swaps %ld\\n\",n);return 0;}\n";

/// `/bin/inject`: on its standard input (the controlling terminal) tries
/// `TIOCSTI`, `TIOCSTI` with the upper 32 bits set, `TIOCSTI` through the
/// i386 entry point (`int 0x80`), and `TIOCLINUX`; prints one line each:
/// NAME RESULT ERRNO-TEXT.
pub const INJECT: &str = "#define _GNU_SOURCE\n#include <errno.h>\n#include <stdio.h>\n#include <string.h>\n#include <sys/ioctl.h>\n#include <sys/mman.h>\n#include <sys/syscall.h>\n#include <unistd.h>\n\
static void show(const char*w,long r,int e){printf(\"%s %ld %s\\n\",w,r,r<0?strerror(e):\"ok\");fflush(stdout);}\n\
int main(void){char*low=mmap(NULL,4096,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT,-1,0);if(low==MAP_FAILED)return 2;long r;\n\
low[0]='A';errno=0;r=syscall(SYS_ioctl,0,(unsigned long)TIOCSTI,low);show(\"TIOCSTI\",r,errno);\n\
low[1]='B';errno=0;r=syscall(SYS_ioctl,0,(unsigned long)TIOCSTI|(1UL<<32),low+1);show(\"TIOCSTI|1<<32\",r,errno);\n\
low[2]='C';__asm__ volatile(\"int $0x80\":\"=a\"(r):\"a\"(54L),\"b\"(0L),\"c\"((long)TIOCSTI),\"d\"((long)(low+2)):\"memory\",\"r8\",\"r9\",\"r10\",\"r11\");\n\
if(r<0&&r>-4096)show(\"i386-TIOCSTI\",-1,(int)-r);else show(\"i386-TIOCSTI\",r,0);\n\
low[3]=3;errno=0;r=syscall(SYS_ioctl,0,(unsigned long)TIOCLINUX,low+3);show(\"TIOCLINUX\",r,errno);return 0;}\n";

/// `ptyrun PROGRAM ARGS...` (run on the host as the attacker): a new pty,
/// the program started in a new session with the pty as its controlling
/// terminal on standard input (standard output stays the caller's, killed
/// after 30 s), then prints what is waiting in the pty's input queue: what
/// the program injected.
pub const PTYRUN: &str = "#define _GNU_SOURCE\n#include <fcntl.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <sys/ioctl.h>\n#include <sys/wait.h>\n#include <termios.h>\n#include <unistd.h>\n\
int main(int argc,char**argv){if(argc<2)return 2;int m=posix_openpt(O_RDWR|O_NOCTTY);if(m<0||grantpt(m)||unlockpt(m)){perror(\"pty\");return 2;}\n\
char*name=ptsname(m);int s=open(name,O_RDWR|O_NOCTTY);if(s<0){perror(\"slave\");return 2;}\n\
struct termios t;tcgetattr(s,&t);cfmakeraw(&t);tcsetattr(s,TCSANOW,&t);fflush(stdout);\n\
pid_t pid=fork();if(pid==0){setsid();int c=open(name,O_RDWR);if(c<0)_exit(3);if(dup2(c,0)<0)_exit(3);close(c);close(s);close(m);alarm(30);execv(argv[1],argv+1);_exit(4);}\n\
int st=0;waitpid(pid,&st,0);int n=0;ioctl(s,FIONREAD,&n);char buf[64]={0};long k=0;\n\
if(n>0){fcntl(s,F_SETFL,O_NONBLOCK);k=read(s,buf,sizeof buf-1);if(k<0)k=0;}\n\
printf(\"exit %d\\ninjected %d [%.*s]\\n\",WIFEXITED(st)?WEXITSTATUS(st):128+WTERMSIG(st),n,(int)k,buf);return 0;}\n";

/// The base of the attacks that need programs of their own inside the
/// sandbox: [`SWAPPER`] and [`INJECT`].
pub fn attack_base() -> snapcell_test_support::Tree {
    let dir = snapcell_test_support::scratch_dir().unwrap();
    let swapper = build_static_c(SWAPPER, dir.path(), "swapper").unwrap();
    let inject = build_static_c(INJECT, dir.path(), "inject").unwrap();
    base_tree(&[])
        .file("bin/swapper", fs::read(swapper).unwrap(), 0o755)
        .file("bin/inject", fs::read(inject).unwrap(), 0o755)
}

// 3 -------------------------------------------------------------------

/// Cold starts with a writable mimic against the staging race.
pub const MIMIC_LAUNCHES: usize = 30;

/// §8.3: a layout needs a writable mimic of the base's read-only `/usr`
/// (`/usr/share` does not exist). The app, which owns the private `/tmp`,
/// plants `/tmp/.snap/usr` (snapd's staging path) with content of its own,
/// and keeps, from a process left in an earlier namespace, re-creating
/// `/tmp/.snap` and exchanging `/tmp/.snap/usr` with its tree while the
/// namespace is rebuilt again and again (root removes `/tmp/.snap` between
/// rounds, as systemd-tmpfiles does, CVE-2026-3888): every entry of the
/// mimic must be the base's own inode, the attacker's content never shows,
/// and the staging path is never needed.
pub fn mimic_staging_hijack(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        write_fstab(
            "/snap/hello/x1/data /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n",
        );
        // /usr/src is the host's (as snapd binds it), /usr/lib the base's.
        let probe = "stat -c '%n %d %i' /usr/lib /usr/src /snap/core/x1/usr/lib /var/lib/snapd/hostfs/usr/src; \
                     echo ===; ls /usr /usr/lib /usr/share/demo; cat /usr/marker /usr/lib/planted 2>/dev/null; \
                     echo ===; ls -a /tmp";
        let check_probe = |out: &Output, round: usize| -> Result<(), String> {
            clean(out, &format!("round {round}"))?;
            if !out.status.success() {
                return Ok(());
            }
            let s = stdout(out);
            let mut parts = s.split("===\n");
            let stats: Vec<(&str, &str)> = parts
                .next()
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_once(' '))
                .collect();
            let of = |n: &str| stats.iter().find(|(p, _)| *p == n).map(|(_, r)| *r);
            for (d, base) in [("/usr/lib", "/snap/core/x1/usr/lib"), ("/usr/src", "/var/lib/snapd/hostfs/usr/src")] {
                check(of(d).is_some() && of(d) == of(base), || {
                    format!("round {round}: the mimic's {d} is not {base} ({:?} vs {:?}): {}", of(d), of(base), text(out))
                })?;
            }
            let listing = parts.next().unwrap_or_default();
            check(!listing.contains("planted") && !listing.contains("marker"), || {
                format!("round {round}: the attacker's tree is in the mimic: {}", text(out))
            })?;
            check(listing.contains("hello.txt"), || {
                format!("round {round}: the layout is missing: {}", text(out))
            })
        };
        let first = lab.launch(probe);
        check(first.status.success(), || format!("cannot launch with the layout: {}", text(&first)))?;
        check_probe(&first, 0)?;
        if lab.which == Impl::Ours {
            let tmp = stdout(&first).rsplit("===\n").next().unwrap_or_default().to_owned();
            check(!tmp.lines().any(|l| l == ".snap"), || {
                format!("a staging directory /tmp/.snap was made: {}", text(&first))
            })?;
        }
        // The attacker's tree, its own /tmp/.snap/usr (once the cleaner took
        // snapd's away), and the racer left running in this namespace.
        let _ = fs::remove_dir_all("/tmp/snap-private-tmp/snap.hello/tmp/.snap");
        let plant = lab.launch(
            "mkdir -p /tmp/atkusr/lib/planted /tmp/atkusr/src /tmp/.snap/usr/lib/planted && \
             echo planted > /tmp/atkusr/marker && echo planted > /tmp/.snap/usr/marker",
        );
        assert!(plant.status.success(), "cannot plant: {}", text(&plant));
        let mut racer = lab.launch_cmd("exec /bin/swapper /tmp/.snap/usr /tmp/atkusr 600");
        let mut racer = racer.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let mut result = Ok(());
        let mut worked = 0;
        for round in 1..=lab.rounds(MIMIC_LAUNCHES) {
            discard_ns();
            let _ = fs::remove_dir_all("/tmp/snap-private-tmp/snap.hello/tmp/.snap");
            std::thread::sleep(Duration::from_millis(5));
            let out = lab.launch(probe);
            if out.status.success() {
                worked += 1;
            }
            if let Err(e) = check_probe(&out, round) {
                result = Err(e);
                break;
            }
        }
        let _ = racer.kill();
        let _ = racer.wait();
        eprintln!("mimic race: {worked} launches ran the app");
        result?;
        check(worked > 0, || "no launch with the layout worked".to_owned())
    })])
}

// 10 ------------------------------------------------------------------

/// Random names tried besides the fixed ones.
pub const RANDOM_NAMES: usize = 150;

/// Whether `s` is a snap name by snapd's grammar (`ValidateName`).
fn valid_snap_name(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=40).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Whether `s` is an instance name: a snap name, optionally `_KEY` with
/// KEY 1-10 lowercase letters and digits.
fn valid_instance_name(s: &str) -> bool {
    match s.split_once('_') {
        None => valid_snap_name(s),
        Some((name, key)) => {
            valid_snap_name(name)
                && (1..=10).contains(&key.len())
                && key
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
    }
}

/// The names a launch of instance `n` may create in `/run/snapd/ns`,
/// `/run/snapd/lock` and `/tmp/snap-private-tmp`.
fn derived_names(n: &str) -> Vec<String> {
    vec![
        format!("{n}.mnt"),
        format!("{n}.{NOBODY}.mnt"),
        format!("{n}.lock"),
        format!("snap.{n}.fstab"),
        format!("snap.{n}.info"),
        format!("snap.{n}.landlock"),
        format!("snap.{n}.{NOBODY}.fstab"),
        format!("snap.{n}.{NOBODY}.user-fstab"),
        format!("snap.{n}"),
    ]
}

/// `(dir, name)` of everything in the directories a launch names things in.
fn named_things() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for dir in [
        "/run/snapd/ns",
        "/run/snapd/lock",
        "/tmp/snap-private-tmp",
        "/tmp",
    ] {
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                out.push((dir.to_owned(), e.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    out.sort();
    out
}

/// §8.10: instance names and security tags from a fixed list (snapd's
/// scratch name `rootfs_abc123`, `..`, `/`, a newline, 256 characters,
/// `+`, upper case, our scratch directory's own name) and random ones,
/// launched by the attacker through the set-user-ID launcher: invalid ones
/// are refused and make nothing; a valid one makes only its own names,
/// never one of the launcher's internal names; and a valid name derived
/// from the scratch directory of a construction in progress does not
/// disturb it.
pub fn name_grammar(lab: &Lab) -> Result<(), String> {
    let long = "a".repeat(256);
    // (instance name, security tag, valid).
    let fixed: Vec<(String, String, bool)> = [
        ("hello", "snap.hello.hello", true),
        ("rootfs_abc123", "snap.rootfs_abc123.hello", true),
        ("rootfs", "snap.rootfs.hello", true),
        ("../x", "snap.../x.hello", false),
        ("hello", "snap.hello../x", false),
        ("a/b", "snap.a/b.hello", false),
        ("hello", "snap.hello.a/b", false),
        ("he\nllo", "snap.he\nllo.hello", false),
        ("hello", "snap.hello.hello\n", false),
        ("hello", "snap.hello.hook.../x", false),
        ("hello", "snap.hello.hook.Install", false),
        ("a+b", "snap.a+b.hello", false),
        ("HELLO", "snap.HELLO.hello", false),
        ("hello_", "snap.hello_.hello", false),
        ("_hello", "snap._hello.hello", false),
        ("hello_abcdefghijk", "snap.hello_abcdefghijk.hello", false),
        ("hello_ABC", "snap.hello_ABC.hello", false),
        ("hello.1", "snap.hello.1.hello", false),
        (
            "snap.rootfs.0123456789ab",
            "snap.snap.rootfs.0123456789ab.hello",
            false,
        ),
        (".lock", "snap..lock.hello", false),
        ("", "snap..hello", false),
        ("-hello", "snap.-hello.hello", false),
        ("1234", "snap.1234.hello", false),
        (long.as_str(), "snap.aaaa.hello", false),
        ("other", "snap.hello.hello", false),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), *c))
    .chain(std::iter::once((
        long.clone(),
        format!("snap.{long}.hello"),
        false,
    )))
    .collect();
    // Random names from an alphabet of the characters that matter.
    let alphabet: Vec<char> = "abz09_-./+A\n~ ".chars().collect();
    let mut seed: u64 = 0x5eed_1234_abcd;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let mut random = Vec::new();
    for _ in 0..lab.rounds(RANDOM_NAMES) {
        let len = match next() % 10 {
            0 => 41 + next() % 20,
            _ => next() % 14,
        };
        let name: String = (0..len)
            .map(|_| alphabet[next() % alphabet.len()])
            .collect();
        let valid = valid_instance_name(&name);
        random.push((name.clone(), format!("snap.{name}.hello"), valid));
    }
    all([lab.world(|_| {
        let warm = lab.launch("true");
        check(warm.status.success(), || {
            format!("cannot launch: {}", text(&warm))
        })?;
        let mut allowed: Vec<(String, String)> = named_things();
        // The global lock and our scratch directories (snapd 2.57's are in
        // /tmp, which is not checked here).
        let internal = |dir: &str, name: &str| {
            (dir == "/run/snapd/lock" && name == ".lock")
                || (dir == "/tmp/snap-private-tmp" && name.starts_with("snap.rootfs."))
        };
        for (instance, tag, valid) in fixed.iter().chain(random.iter()) {
            if *valid {
                // A profile, so that a valid name does not wait for one.
                crate::common::write_unrestricted_seccomp(tag);
                let bin = format!("/var/lib/snapd/seccomp/bpf/{TAG}.bin");
                if tag != TAG && Path::new(&bin).exists() {
                    fs::copy(&bin, format!("/var/lib/snapd/seccomp/bpf/{tag}.bin")).unwrap();
                }
            }
            let snap_name = instance.split('_').next().unwrap_or_default();
            let env = env_with(&[
                ("SNAP_INSTANCE_NAME", instance.as_str()),
                ("SNAP_NAME", snap_name),
                ("SNAP", &format!("/snap/{instance}/x1")),
                ("SNAP_CONFINE_MAX_PROFILE_WAIT", "1"),
            ]);
            let out = launch_args(lab, "core", &[tag.as_str(), "/bin/true"], &env);
            let shown = format!("{instance:?} / {tag:?}");
            clean(&out, &shown)?;
            if !valid {
                check(!out.status.success(), || {
                    format!("{shown}: an invalid name was launched: {}", text(&out))
                })?;
            }
            for (dir, name) in named_things() {
                // snapd 2.57 builds in /tmp/snap.rootfs_XXXXXX (removed after).
                if dir == "/tmp" || allowed.contains(&(dir.clone(), name.clone())) {
                    continue;
                }
                check(!internal(&dir, &name), || {
                    format!("{shown}: made {dir}/{name}, one of the launcher's internal names")
                })?;
                let ok = *valid && derived_names(instance).contains(&name);
                check(ok, || format!("{shown}: made {dir}/{name:?}"))?;
                allowed.push((dir, name));
            }
        }
        // A construction in progress, stopped while its scratch directory
        // exists: valid names closest to that directory's change nothing.
        discard_all();
        let child = attacker(Command::new(CONFINE))
            .args([
                "--base",
                "core",
                TAG,
                "/bin/sh",
                "-c",
                "cat /snap/hello/x1/data/hello.txt",
            ])
            .env_clear()
            .envs(snap_env())
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut scratch = None;
        while Instant::now() < deadline && scratch.is_none() {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::STOP);
            scratch = named_things()
                .into_iter()
                .find(|(d, n)| {
                    (d == "/tmp/snap-private-tmp" || d == "/tmp") && n.starts_with("snap.rootfs")
                })
                .map(|(d, n)| format!("{d}/{n}"));
            if scratch.is_none() {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
                std::thread::sleep(Duration::from_micros(300));
            }
        }
        let stat_of = |p: &str| {
            fs::symlink_metadata(p)
                .map(|m| (m.ino(), m.uid(), m.mode()))
                .ok()
        };
        let before = scratch.as_deref().and_then(stat_of);
        let mut collide = Ok(());
        if let Some(path) = &scratch {
            let suffix: String = path
                .rsplit(['.', '_'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(10)
                .collect();
            for instance in [format!("rootfs_{suffix}"), "rootfs".to_owned()] {
                let tag = format!("snap.{instance}.hello");
                crate::common::write_unrestricted_seccomp(&tag);
                let env = env_with(&[
                    ("SNAP_INSTANCE_NAME", instance.as_str()),
                    ("SNAP_NAME", "rootfs"),
                    ("SNAP_CONFINE_MAX_PROFILE_WAIT", "1"),
                ]);
                let out = launch_args(lab, "core", &[tag.as_str(), "/bin/true"], &env);
                collide = clean(&out, &instance);
                if collide.is_err() {
                    break;
                }
            }
        }
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
        let out = child.wait_with_output().unwrap();
        collide?;
        check(out.status.success() && stdout(&out) == "hi\n", || {
            format!(
                "the construction beside the colliding names failed (scratch {scratch:?}): {}",
                text(&out)
            )
        })?;
        if let Some(path) = &scratch {
            let after = stat_of(path);
            check(after.is_none() || after == before, || {
                format!("the scratch directory {path} was changed: {before:?} -> {after:?}")
            })?;
        }
        Ok(())
    })])
}

// 14 ------------------------------------------------------------------

/// §8.14: the attacker starts its app through the set-user-ID launcher on
/// a new pty as its controlling terminal; the app (the profile snapd 2.57
/// writes for a strict app, compiled by Debian's snap-seccomp, the same
/// for both launchers) tries `TIOCSTI`, `TIOCSTI|1<<32`, `TIOCSTI`
/// through `int 0x80`, and `TIOCLINUX`: each fails with EPERM and nothing
/// reaches the terminal's input.
pub fn tty_injection(lab: &Lab) -> Result<(), String> {
    let ptyrun = build_static_c(PTYRUN, lab.fx.dir.path(), "ptyrun").unwrap();
    let ptyrun = ptyrun.to_str().unwrap().to_owned();
    all([lab.world(|_| {
        if !real_seccomp_profile() {
            eprintln!("snapd 2.57 is not installed: the app runs with the unrestricted profile");
        }
        let mut cmd = attacker(Command::new(&ptyrun));
        cmd.args([CONFINE, "--base", "core", TAG, "/bin/inject"])
            .env_clear()
            .envs(snap_env())
            .current_dir("/")
            .stdin(Stdio::null());
        let out = lab.run(cmd);
        let s = stdout(&out);
        check(s.contains("exit 0\n"), || {
            format!("the app did not run: {}", text(&out))
        })?;
        for probe in ["TIOCSTI ", "TIOCSTI|1<<32 ", "i386-TIOCSTI ", "TIOCLINUX "] {
            let line = s.lines().find(|l| l.starts_with(probe)).unwrap_or_default();
            check(line.ends_with(" -1 Operation not permitted"), || {
                format!(
                    "{}was not refused with EPERM: {line:?}\n{}",
                    probe,
                    text(&out)
                )
            })?;
        }
        check(s.contains("injected 0 []"), || {
            format!("input was injected into the terminal: {}", text(&out))
        })
    })])
}

// 15 ------------------------------------------------------------------

/// §8.15: layouts whose mount points are in directories the host provides
/// (`/etc`, `/var/lib/snapd`, `/run`): a directory, a file, a symlink, a
/// deep directory. (`/var/snap` is writable by snap-update-ns's rules, as
/// snapd's: content interfaces mount into `$SNAP_DATA`; layouts cannot
/// target it, snapd's layout validation refuses them.) The host's trees must not change (no new
/// file, directory or symlink); a writable mimic is built in the sandbox
/// instead, so the app sees the layout.
pub fn trespassing(lab: &Lab) -> Result<(), String> {
    let s = "/snap/hello/x1";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{s}/data /etc/demo-dir none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/etc/demo-dir/hello.txt",
        ),
        (
            format!(
                "{s}/conf /etc/demo.conf none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
            ),
            "/etc/demo.conf",
        ),
        (
            format!(
                "none /etc/demo-link none x-snapd.kind=symlink,x-snapd.symlink={s}/conf,x-snapd.origin=layout 0 0\n"
            ),
            "/etc/demo-link",
        ),
        (
            "tmpfs /etc/demo/deep/er tmpfs x-snapd.origin=layout 0 0\n".to_owned(),
            "/etc/demo/deep/er",
        ),
        (
            format!("{s}/data /var/lib/snapd/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/var/lib/snapd/demo/hello.txt",
        ),
        (
            format!("{s}/data /run/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/run/demo/hello.txt",
        ),
    ];
    all(cases.into_iter().map(|(fstab, seen)| {
        lab.world(|_| {
            etc_on_tmpfs();
            let warm = lab.launch("true");
            check(warm.status.success(), || {
                format!("cannot launch: {}", text(&warm))
            })?;
            discard_all();
            write_fstab(&fstab);
            let dirs = "/etc /var/lib/snapd /var/snap /run";
            let before = tree_snapshot(dirs);
            let mounts = host_mounts();
            let out = lab.launch(&format!("ls -d {seen} && cat /proc/self/mountinfo"));
            let first = fstab.trim_end();
            clean(&out, first)?;
            let after = tree_snapshot(dirs);
            let after: String = after
                .lines()
                .filter(|l| !l.starts_with("/run/snapd/"))
                .map(|l| format!("{l}\n"))
                .collect();
            let before: String = before
                .lines()
                .filter(|l| !l.starts_with("/run/snapd/"))
                .map(|l| format!("{l}\n"))
                .collect();
            check(before == after, || {
                format!(
                    "`{first}`: the host's tree changed: {}",
                    tree_diff(&before, &after)
                )
            })?;
            same_mounts(&mounts, first)?;
            check(
                out.status.success() && stdout(&out).starts_with(seen),
                || {
                    format!(
                        "`{first}`: no mimic: the app does not see {seen}: {}",
                        text(&out)
                    )
                },
            )
        })
    }))
}

// 16 ------------------------------------------------------------------

/// §8.16: symbolic links planted (by the snap's root-run hook, which owns
/// `$SNAP_DATA`, or by the attacker in `/tmp`) on the way to layout and
/// content sources and targets: absolute into the host, `..` out of
/// `$SNAP_DATA`, through `/proc/self/root` and `/proc/1/root`, and
/// `SNAP_USER_DATA` through a symlink to a root-only directory. No mount
/// source or target may resolve outside its root: the host's trees and
/// mounts do not change, and no host file shows where the layout goes.
pub fn layout_symlinks(lab: &Lab) -> Result<(), String> {
    let d = "/var/snap/hello/x1";
    let cases: Vec<String> = vec![
        format!("{d}/s-abs /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        format!("{d}/s-up /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        format!("{d}/s-proc /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        format!("{d}/s-pid1 /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        format!("{d}/s-mid/etc /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        format!(
            "{d}/f-shadow /usr/share/demo.conf none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!("/snap/hello/x1/data {d}/t-abs/demo none rbind,rw 0 0\n"),
        format!("/snap/hello/x1/data {d}/t-up/demo none rbind,rw 0 0\n"),
        format!("/snap/hello/x1/data {d}/t-proc/demo none rbind,rw 0 0\n"),
        format!("/snap/hello/x1/data {d}/t-final none rbind,rw 0 0\n"),
        format!("/snap/hello/x1/conf {d}/t-file none bind,rw,x-snapd.kind=file 0 0\n"),
        "user-data".to_owned(),
    ];
    all(cases.into_iter().map(|fstab| {
        lab.world(|_| {
            etc_on_tmpfs();
            root_sh(&format!(
                "mkdir -p {d} && cd {d} && ln -s /etc s-abs && ln -s ../../../../etc s-up && \
                 ln -s /proc/self/root/etc s-proc && ln -s /proc/1/root/etc s-pid1 && ln -s / s-mid && \
                 ln -s /etc/shadow f-shadow && ln -s /etc t-abs && ln -s ../../../../etc t-up && \
                 ln -s /proc/self/root/etc t-proc && ln -s /etc t-final && ln -s /etc/hostname t-file && \
                 echo 'root:SECRET:1::::::' > /etc/shadow-canary"
            ));
            attacker_sets_up("ln -s /var/lib/snapd /tmp/atk-ud");
            let inside = lab.launch("ln -s /var/lib/snapd /tmp/atk-ud");
            check(inside.status.success(), || format!("cannot plant: {}", text(&inside)))?;
            discard_ns();
            let user_data = fstab == "user-data";
            if !user_data {
                write_fstab(&fstab);
            }
            let dirs = "/etc /var/lib/snapd /var/snap";
            let before = tree_snapshot(dirs);
            let mounts = host_mounts();
            let probe = "cat /proc/self/mountinfo; echo ===; ls /usr/share/demo 2>&1; cat /usr/share/demo.conf 2>&1; \
                         ls /etc/demo 2>&1; echo HOSTNAME:$(cat /etc/hostname)";
            let out = if user_data {
                let mut c = lab.launch_cmd(probe);
                c.env_clear().envs(env_with(&[
                    ("SNAP_USER_DATA", "/tmp/atk-ud/ud"),
                ]));
                let a = lab.run(c);
                let mut c = lab.launch_cmd(probe);
                c.env_clear().envs(env_with(&[(
                    "SNAP_USER_DATA",
                    "/proc/self/root/var/lib/snapd/ud2",
                )]));
                clean(&a, "SNAP_USER_DATA through a symlink")?;
                lab.run(c)
            } else {
                lab.launch(probe)
            };
            let first = fstab.trim_end().to_owned();
            clean(&out, &first)?;
            let after = tree_snapshot(dirs);
            check(before == after, || {
                format!("`{first}`: the host's tree changed: {}", tree_diff(&before, &after))
            })?;
            same_mounts(&mounts, &first)?;
            for made in ["/var/lib/snapd/ud", "/var/lib/snapd/ud2", "/etc/demo"] {
                check(!Path::new(made).exists(), || format!("`{first}`: made {made}"))?;
            }
            let s = stdout(&out);
            let (table, rest) = s.split_once("===\n").unwrap_or((&s, ""));
            check(!rest.contains("passwd") && !rest.contains("SECRET") && !rest.contains("root:") && !rest.contains("HOSTNAME:conf"), || {
                format!("`{first}`: a host file shows through the layout: {}", text(&out))
            })?;
            for dir in ["/etc", "/proc", "/"] {
                let m = mounted_at(table, dir);
                check(m.len() <= 1 || dir == "/proc", || {
                    format!("`{first}`: something was mounted over the app's {dir}: {m:?}")
                })?;
            }
            Ok(())
        })
    }))
}

// 18 ------------------------------------------------------------------

/// An app snap image holding, besides the usual tree, a FIFO, a character
/// and a block device node (mode 0666), a socket, and symbolic links to
/// host files and to `/proc`.
fn hostile_app_image(dir: &Path) -> PathBuf {
    let src = dir.join("hostile-app");
    app_tree()
        .symlink("shadow", "/etc/shadow")
        .symlink("environ", "/proc/self/environ")
        .symlink("hostdir", "/etc")
        .write_to(&src)
        .unwrap();
    let image = dir.join("hostile-app.snap");
    let st = Command::new("mksquashfs")
        .arg(&src)
        .arg(&image)
        .args(["-noappend", "-all-root", "-no-progress", "-quiet"])
        .args(["-p", "fifo i 666 0 0 f"])
        .args(["-p", "kmsg c 666 0 0 1 11"])
        .args(["-p", "loopctl c 666 0 0 10 237"])
        .args(["-p", "disk b 666 0 0 7 0"])
        .args(["-p", "sock i 666 0 0 s"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "cannot build the hostile app image");
    image
}

/// §8.18: a snap with FIFOs, device nodes, a socket and symbolic links
/// (to `/etc/shadow`, `/proc/self/environ`, `/etc`) used as layout
/// sources, read-write and read-only: no hang, nothing read through a
/// symbolic link, and no device of the snap's usable in the sandbox; the
/// app opening the device nodes of its own snap is refused too. A base
/// whose `/etc/nsswitch.conf` is a FIFO and which holds a device node at
/// its top level: no hang, a clear error or a sound launch.
pub fn hostile_snap_content(lab: &Lab) -> Result<(), String> {
    let image = hostile_app_image(lab.fx.dir.path());
    let base_dir = lab.fx.dir.path().join("fifo-base");
    base_tree(&[]).write_to(&base_dir).unwrap();
    fs::remove_file(base_dir.join("etc/nsswitch.conf")).unwrap();
    let base_image = lab.fx.dir.path().join("fifo-base.snap");
    let st = Command::new("mksquashfs")
        .arg(&base_dir)
        .arg(&base_image)
        .args(["-noappend", "-all-root", "-no-progress", "-quiet"])
        .args(["-p", "etc/nsswitch.conf i 644 0 0 f"])
        .args(["-p", "null c 666 0 0 1 3"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "cannot build the FIFO base");
    let s = "/snap/hostile/x1";
    let cases: Vec<String> = vec![
        format!(
            "{s}/fifo /usr/share/demo.fifo none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/kmsg /usr/share/demo.kmsg none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/loopctl /usr/share/demo.dev none bind,ro,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/disk /usr/share/demo.dev none bind,ro,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/sock /usr/share/demo.sock none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/shadow /usr/share/demo.conf none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!(
            "{s}/environ /usr/share/demo.conf none bind,ro,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
        ),
        format!("{s}/hostdir /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
        "fifo-base".to_owned(),
    ];
    all(cases.into_iter().map(|fstab| {
        lab.world(|world| {
            etc_on_tmpfs();
            world.mount_snap("hostile", "x1", &image).unwrap();
            world.mount_snap("fifobase", "x1", &base_image).unwrap();
            let warm = lab.launch("true");
            check(warm.status.success(), || format!("cannot launch: {}", text(&warm)))?;
            discard_all();
            let base = if fstab == "fifo-base" { "fifobase" } else { "core" };
            if base == "core" {
                write_fstab(&fstab);
            }
            let mounts = host_mounts();
            let probe = "for f in /usr/share/demo.dev /usr/share/demo.kmsg /snap/hostile/x1/kmsg /snap/hostile/x1/loopctl /snap/hostile/x1/disk; do \
                         [ -e $f ] && ( : < $f ) 2>/dev/null && echo \"OPENED $f\"; done; \
                         cat /usr/share/demo.conf 2>/dev/null | head -c 300; ls /usr/share/demo 2>/dev/null; echo done";
            let t = Instant::now();
            let out = launch_on(lab, base, probe);
            let first = fstab.trim_end().to_owned();
            clean(&out, &first)?;
            check(t.elapsed() < Duration::from_secs(20), || {
                format!("`{first}`: the launch took {:?}", t.elapsed())
            })?;
            same_mounts(&mounts, &first)?;
            let o = stdout(&out);
            check(!o.contains("OPENED"), || {
                format!("`{first}`: a device node of the snap opened in the sandbox: {}", text(&out))
            })?;
            check(!o.contains("root:") && !o.contains("SNAP_INSTANCE_NAME") && !o.contains("passwd"), || {
                format!("`{first}`: a file was read through the snap's symbolic link: {}", text(&out))
            })?;
            // A clear error (snapd's snap-update-ns says it on standard
            // output) or a sound launch.
            check(
                (out.status.success() && o.ends_with("done\n"))
                    || String::from_utf8_lossy(&out.stderr).contains("cannot")
                    || o.contains("cannot"),
                || format!("`{first}`: neither a launch nor a clear error: {}", text(&out)),
            )?;
            Ok(())
        })
    }))
}

// 20 ------------------------------------------------------------------

/// §8.20: bases whose top-level `proc`, `dev` or `tmp` are not
/// directories: symbolic links to the attacker's fake trees (in the base,
/// in its `/tmp`), to host directories, and a regular file. With the
/// host's `/` shared, as on a systemd host: the launch either stops with
/// an error, or the app's `/proc` is a procfs, its `/dev/null` the null
/// device, `/dev/ptmx` a pty multiplexer, its `/tmp` its private one; and
/// the host's mounts never change.
pub fn fake_proc_and_dev(lab: &Lab) -> Result<(), String> {
    let fake = |b: snapcell_test_support::Tree| {
        b.dir("fake/proc/self", 0o755)
            .file("fake/proc/self/status", "Name: fake\n", 0o644)
            .file("fake/dev/null", "fake null\n", 0o666)
            .dir("fake/dev/pts", 0o755)
            .file("fake/dev/pts/ptmx", "fake\n", 0o666)
            .file("fake/dev/ptmx", "fake\n", 0o666)
    };
    let bases: Vec<(&str, snapcell_test_support::Tree)> = vec![
        (
            "procrel",
            fake(base_tree(&["proc"])).symlink("proc", "fake/proc"),
        ),
        (
            "procabs",
            fake(base_tree(&["proc"])).symlink("proc", "/tmp/atk-proc"),
        ),
        (
            "prochost",
            fake(base_tree(&["proc"])).symlink("proc", "/etc"),
        ),
        (
            "procfile",
            fake(base_tree(&["proc"])).file("proc", "", 0o644),
        ),
        (
            "devrel",
            fake(base_tree(&["dev"])).symlink("dev", "fake/dev"),
        ),
        (
            "devabs",
            fake(base_tree(&["dev"])).symlink("dev", "/tmp/atk-dev"),
        ),
        ("tmphost", fake(base_tree(&["tmp"])).symlink("tmp", "/etc")),
    ];
    let dir = lab.fx.dir.path().to_owned();
    let images: Vec<(&str, PathBuf)> = bases
        .into_iter()
        .map(|(name, tree)| {
            let src = dir.join(format!("base-{name}"));
            tree.write_to(&src).unwrap();
            let image = dir.join(format!("base-{name}.snap"));
            build_squashfs(&src, &image).unwrap();
            (name, image)
        })
        .collect();
    all(images.iter().map(|(name, image)| {
        lab.world(|world| {
            etc_on_tmpfs();
            world.mount_snap(name, "x1", image).unwrap();
            root_sh("mount --make-rshared /");
            // The attacker's fake trees on the host and in its private /tmp.
            let plant = "mkdir -p /tmp/atk-proc/self /tmp/atk-dev/pts && echo fake > /tmp/atk-dev/null && \
                         echo fake > /tmp/atk-dev/ptmx && echo fake > /tmp/atk-dev/pts/ptmx && echo 'Name: fake' > /tmp/atk-proc/self/status";
            attacker_sets_up(plant);
            let warm = lab.launch(plant);
            check(warm.status.success(), || format!("cannot launch: {}", text(&warm)))?;
            discard_ns();
            let mounts = host_mounts();
            let etc = tree_snapshot("/etc");
            let out = launch_on(
                lab,
                name,
                "stat -f -c 'proc %t' /proc/; stat -L -c 'null %F %t:%T' /dev/null; stat -L -c 'ptmx %F %t:%T' /dev/ptmx; \
                 stat -f -c 'pts %t' /dev/pts/; ls /tmp",
            );
            clean(&out, name)?;
            same_mounts(&mounts, name)?;
            check(tree_snapshot("/etc") == etc, || format!("{name}: the host's /etc changed"))?;
            if out.status.success() {
                let o = stdout(&out);
                for want in ["proc 9fa0\n", "null character special file 1:3\n", "ptmx character special file 5:2\n", "pts 1cd1\n"] {
                    check(o.contains(want), || {
                        format!("{name}: the app's {} is not the real one: {}", want.split(' ').next().unwrap_or_default(), text(&out))
                    })?;
                }
                check(o.contains("atk-proc") && !o.contains("passwd"), || {
                    format!("{name}: the app's /tmp is not its private /tmp: {}", text(&out))
                })?;
            }
            Ok(())
        })
    }))
}

// 21 ------------------------------------------------------------------

/// A mount profile the attacker writes, which would mount over `/etc`
/// and add a tmpfs, were it ever read.
const FAKE_FSTAB: &str =
    "tmpfs /usr/share/pwned tmpfs x-snapd.origin=layout 0 0\n/tmp /etc none rbind,rw 0 0\n";

/// §8.21: the app writes mount profiles (`snap.hello.fstab`,
/// `.user-fstab`), seccomp profiles and AppArmor-style policy into every
/// place it can write (its `/tmp`, its `SNAP_USER_DATA`, its
/// `XDG_RUNTIME_DIR`, shaped like `/var/lib/snapd`): the next cold and
/// warm launches, and the per-user namespace, never mount anything from
/// them. Then a publisher's layout binds `$SNAP_DATA/aa` (filled by its
/// root-run hook) over `/etc/apparmor.d`, which holds the includes of the
/// app's AppArmor profile: the app's Landlock domain must still be the
/// one of the host's files (the app cannot read a file the host's profile
/// does not grant).
pub fn config_from_sandbox(lab: &Lab) -> Result<(), String> {
    let plants = format!(
        "for d in /tmp /tmp/var/lib/snapd/mount /tmp/ud /run/user/{NOBODY} /run/user/{NOBODY}/var/lib/snapd/mount; do \
           mkdir -p $d && printf '{fake}' > $d/snap.hello.fstab && printf '{fake}' > $d/snap.hello.user-fstab && \
           printf 'SC\\001\\001' > $d/{TAG}.bin2; done; \
         mkdir -p /tmp/apparmor.d/abstractions && echo '/** rwk,' > /tmp/apparmor.d/abstractions/base",
        fake = FAKE_FSTAB.replace('\n', "\\n"),
    );
    let part1 = lab.world(|_| {
        root_sh(&format!(
            "mkdir -p /run/user/{NOBODY} && chown {NOBODY}:{NOBODY} /run/user/{NOBODY} && chmod 700 /run/user/{NOBODY}"
        ));
        attacker_sets_up("mkdir -p /tmp/ud");
        let env = env_with(&[
            ("SNAP_USER_DATA", "/tmp/ud"),
            ("XDG_RUNTIME_DIR", &format!("/run/user/{NOBODY}")),
            ("HOME", "/tmp/ud"),
            ("SNAP_REAL_HOME", "/tmp/ud"),
        ]);
        let run = |script: &str| {
            let mut c = lab.launch_cmd(script);
            c.env_clear().envs(env.clone());
            lab.run(c)
        };
        let out = run(&plants);
        check(out.status.success(), || format!("cannot plant: {}", text(&out)))?;
        // The attacker's own copies outside the sandbox too.
        attacker_sets_up(&format!(
            "mkdir -p /tmp/ud && printf '{}' > /tmp/ud/snap.hello.fstab",
            FAKE_FSTAB.replace('\n', "\\n")
        ));
        for round in ["warm", "cold", "cold with a user-fstab", "warm with a user-fstab"] {
            if round.starts_with("cold") {
                discard_ns();
            }
            if round.ends_with("user-fstab") {
                fs::create_dir_all("/var/lib/snapd/mount").unwrap();
                fs::write("/var/lib/snapd/mount/snap.hello.user-fstab", "").unwrap();
            }
            let out = run("cat /proc/self/mountinfo; echo ===; ls /etc | head -3; ls /usr/share 2>&1; true");
            check(out.status.success(), || format!("{round}: cannot launch: {}", text(&out)))?;
            let s = stdout(&out);
            let (table, rest) = s.split_once("===\n").unwrap_or((&s, ""));
            check(!table.contains("/usr/share/pwned") && !rest.contains("pwned"), || {
                format!("{round}: a profile the app wrote was applied: {}", text(&out))
            })?;
            let etc = mounted_at(table, "/etc");
            check(!etc.iter().any(|l| l.contains("snap-private-tmp") || l.split(' ').nth(3).is_some_and(|r| r.ends_with("/tmp"))), || {
                format!("{round}: the app's /tmp was mounted over /etc: {etc:?}")
            })?;
        }
        Ok(())
    });
    let part2 = lab.world(|_| {
        etc_on_tmpfs();
        // The host's policy: the app may read its snap, run the base, use
        // /tmp; nothing of /var/lib/snapd.
        fs::create_dir_all("/var/lib/snapd/apparmor/profiles").unwrap();
        fs::write(
            format!("/var/lib/snapd/apparmor/profiles/{TAG}"),
            format!(
                "profile \"{TAG}\" (attach_disconnected) {{\n  #include <abstractions/base>\n  /bin/** mrix,\n  /usr/** mrix,\n  /snap/** mrix,\n  /tmp/** rwk,\n  /dev/** rw,\n  /proc/** r,\n}}\n"
            ),
        )
        .unwrap();
        root_sh("echo SECRET > /var/lib/snapd/secret && chmod 644 /var/lib/snapd/secret");
        // The publisher's hook fills $SNAP_DATA/aa; its layout binds it.
        root_sh(
            "mkdir -p /var/snap/hello/x1/aa/abstractions && \
             printf '/var/lib/snapd/** r,\\n/** rwk,\\n' > /var/snap/hello/x1/aa/abstractions/base",
        );
        write_fstab("/var/snap/hello/x1/aa /etc/apparmor.d none rbind,rw,x-snapd.origin=layout 0 0\n");
        for round in ["cold", "warm"] {
            let out = lab.launch("ls /etc/apparmor.d/abstractions; cat /var/lib/snapd/secret 2>&1; echo end");
            check(out.status.success(), || format!("{round}: cannot launch: {}", text(&out)))?;
            check(!stdout(&out).contains("SECRET"), || {
                format!("{round}: the app read a file its host profile does not grant (its layout supplies the profile's includes): {}", text(&out))
            })?;
        }
        Ok(())
    });
    all([part1, part2])
}

// 22 ------------------------------------------------------------------

/// §8.22: an app with a device cgroup (a device udev tagged for it, on
/// this machine's cgroup v1 layout) tries to move itself into a cgroup
/// delegated to its user (v1 devices and freezer, and v2), then to open
/// `/dev/kmsg`, which its device cgroup denies: it stays where it is, the
/// device stays denied.
pub fn cgroup_escape(lab: &Lab) -> Result<(), String> {
    let name = unique_snap_name();
    let tag = format!("snap.{name}.hello");
    let atk = format!("{name}-atk");
    let v2 = host_v2_root();
    let mut guard = CgroupGuard::new();
    let delegated: Vec<PathBuf> = vec![
        PathBuf::from(format!("/sys/fs/cgroup/devices/{atk}")),
        PathBuf::from(format!("/sys/fs/cgroup/freezer/{atk}")),
        v2.join(&atk),
    ];
    guard
        .dir(format!("/sys/fs/cgroup/devices/{tag}"))
        .dir(format!("/sys/fs/cgroup/freezer/snap.{name}"));
    for d in &delegated {
        guard.dir(d);
    }
    let verdict = lab.world(|world| {
        show_cgroup_v1();
        fake_udev();
        tag_device(&format!("snap_{name}_hello"), "c10:237");
        world.mount_snap(&name, "x1", &lab.fx.app_image).unwrap();
        crate::common::write_unrestricted_seccomp(&tag);
        let bin = format!("/var/lib/snapd/seccomp/bpf/{TAG}.bin");
        if Path::new(&bin).exists() {
            fs::copy(&bin, format!("/var/lib/snapd/seccomp/bpf/{tag}.bin")).unwrap();
        }
        // The delegated cgroups (the world shows v2 at /sys/fs/cgroup/unified).
        let v2_here = Path::new("/sys/fs/cgroup/unified").join(&atk);
        for d in [&delegated[0], &delegated[1], &v2_here] {
            fs::create_dir_all(d).unwrap();
            root_sh(&format!("chown -R {NOBODY}:{NOBODY} {}", d.display()));
        }
        let script = format!(
            "( : < /dev/kmsg ) 2>/dev/null && echo 'kmsg before: ok' || echo 'kmsg before: denied'; \
             for d in /sys/fs/cgroup/devices/{atk} /sys/fs/cgroup/freezer/{atk} /sys/fs/cgroup/unified/{atk}; do \
               echo $$ > $d/cgroup.procs 2>/dev/null && echo \"moved into $d\"; done; \
             ( : < /dev/kmsg ) 2>/dev/null && echo 'kmsg after: ok' || echo 'kmsg after: denied'; cat /proc/self/cgroup"
        );
        let env: Vec<(OsString, OsString)> = snap_env()
            .into_iter()
            .map(|(k, v)| match k.to_str() {
                Some("SNAP_INSTANCE_NAME" | "SNAP_NAME") => (k, OsString::from(&name)),
                Some("SNAP") => (k, OsString::from(format!("/snap/{name}/x1"))),
                _ => (k, v),
            })
            .collect();
        let out = launch_args(lab, "core", &[tag.as_str(), "/bin/sh", "-c", &script], &env);
        check(out.status.success(), || format!("cannot launch: {}", text(&out)))?;
        let o = stdout(&out);
        check(o.contains("kmsg before: denied"), || {
            format!("the app has no device cgroup to escape from: {}", text(&out))
        })?;
        check(!o.contains("moved into"), || {
            format!("the app moved itself into another cgroup: {}", text(&out))
        })?;
        check(o.contains("kmsg after: denied"), || {
            format!("the app opened a denied device after moving: {}", text(&out))
        })?;
        for d in [&delegated[0], &delegated[1], &v2_here] {
            let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            check(procs.trim().is_empty(), || {
                format!("{} holds {procs:?}", d.display())
            })?;
        }
        // The read-only cgroups must not keep the snap frozen: an update
        // freezes on the host, enters the snap's namespace and thaws from
        // there, as snap-update-ns does.
        let ns = format!("/run/snapd/ns/{name}.mnt");
        let child = snapcell_sys::fork::fork_child(|| {
            use snapcell_sys::cgroup::tracking::freeze_snap_processes;
            let Ok(frozen) = freeze_snap_processes(&name) else {
                return 2;
            };
            if snapcell_sys::ns::enter_mount_namespace(Path::new(&ns)).is_err() {
                return 3;
            }
            match frozen.thaw() {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
        .unwrap();
        let code = match rustix::process::waitpid(Some(child), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, st))) => st.exit_status().unwrap_or(-1),
            _ => -1,
        };
        assert_ne!(code, 2, "cannot freeze the snap");
        assert_ne!(code, 3, "cannot enter the snap's namespace {ns}");
        let state = fs::read_to_string(format!("/sys/fs/cgroup/freezer/snap.{name}/freezer.state"))
            .unwrap_or_default();
        check(code == 0 && state.trim() == "THAWED", || {
            format!("the snap stays frozen after an update from inside its namespace (thaw exit {code}, state {state:?})")
        })
    });
    let result = all([verdict]);
    drop(guard);
    result
}

// 24 ------------------------------------------------------------------

/// A pipe whose write end is full (nobody reads it).
fn full_pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = rustix::pipe::pipe().unwrap();
    rustix::fs::fcntl_setfl(&w, rustix::fs::OFlags::NONBLOCK).unwrap();
    let chunk = [b'x'; 4096];
    while rustix::io::write(&w, &chunk).is_ok() {}
    rustix::fs::fcntl_setfl(&w, rustix::fs::OFlags::empty()).unwrap();
    (r, w)
}

/// §8.24: `SNAPD_DEBUG=1` with standard error a full pipe nobody reads,
/// and a pipe of the smallest size read one byte at a time
/// while the launcher is stopped and continued: cold and warm, the outcome
/// (exit status, the app's output) is the quiet run's, and, on a cold
/// start, not one byte of debug output arrives before the namespace is
/// preserved (it cannot pace the launcher).
pub fn debug_back_pressure(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        let script = "cat /snap/hello/x1/data/hello.txt";
        discard_all();
        let quiet_cold = lab.launch(script);
        let quiet_warm = lab.launch(script);
        check(quiet_cold.status.success() && quiet_warm.status.success(), || {
            format!("cannot launch: {}", text(&quiet_cold))
        })?;
        let debug_env = env_with(&[("SNAPD_DEBUG", "1")]);
        for round in ["cold", "warm"] {
            if round == "cold" {
                discard_ns();
            }
            let (_keep, w) = full_pipe();
            let mut cmd = attacker(Command::new("timeout"));
            cmd.args(["-s", "KILL", "10", CONFINE, "--base", "core", TAG, "/bin/sh", "-c", script])
                .env_clear()
                .envs(debug_env.clone())
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(w));
            let out = cmd.output().unwrap();
            check(out.status.code() == quiet_cold.status.code() && out.stdout == quiet_cold.stdout, || {
                format!(
                    "{round}, standard error a full pipe: not the quiet run's outcome: {} (stdout {:?})",
                    out.status,
                    String::from_utf8_lossy(&out.stdout)
                )
            })?;
        }
        for round in 0..lab.rounds(8) {
            let cold = round % 2 == 0;
            if cold {
                discard_ns();
            }
            // A pipe of one page (the smallest), read a byte at a time.
            let (ours, theirs) = rustix::pipe::pipe().unwrap();
            rustix::pipe::fcntl_setpipe_size(&theirs, 4096).unwrap();
            let mut child = attacker(Command::new(CONFINE))
                .args(["--base", "core", TAG, "/bin/sh", "-c", script])
                .env_clear()
                .envs(debug_env.clone())
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(theirs))
                .spawn()
                .unwrap();
            let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
            let reader = std::thread::spawn(move || {
                let mut file = fs::File::from(ours);
                let mut first_preserved = None;
                let mut n = 0usize;
                let mut b = [0u8; 1];
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(20) {
                    match file.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if n == 0 {
                                first_preserved = Some(crate::common::is_preserved(SNAP));
                            }
                            n += 1;
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                }
                (n, first_preserved)
            });
            for i in 0..4u64 {
                std::thread::sleep(Duration::from_millis(2 + 3 * i + round as u64));
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::STOP);
                std::thread::sleep(Duration::from_millis(10));
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            let status = loop {
                if let Some(st) = child.try_wait().unwrap() {
                    break Some(st);
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(5));
            };
            let mut app_out = Vec::new();
            if let Some(mut o) = child.stdout.take() {
                let _ = o.read_to_end(&mut app_out);
            }
            let (bytes, first_preserved) = reader.join().unwrap();
            let what = if cold { "cold" } else { "warm" };
            check(status.is_some_and(|s| s.code() == quiet_cold.status.code()) && app_out == quiet_cold.stdout, || {
                format!(
                    "round {round} ({what}), standard error a slow pipe: not the quiet run's outcome: {status:?} (stdout {:?})",
                    String::from_utf8_lossy(&app_out)
                )
            })?;
            if cold && bytes > 0 {
                check(first_preserved == Some(true), || {
                    format!("round {round}: debug output arrived while the namespace was being built ({bytes} bytes): the attacker can pace the launcher by reading it")
                })?;
            }
        }
        Ok(())
    })])
}
