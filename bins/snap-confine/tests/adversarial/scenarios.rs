//! The attacks of ../shared/research/security.md §8, in rank order. Each
//! returns `Err(what the attacker achieved)`; see [`crate::lab`].

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, WaitOptions};
use snapcell_sys::fork::fork_child;

use crate::common::{SNAP, TAG, snap_env, world_mounts};
use crate::lab::*;

/// The attacker's private tmp and a canary directory it owns.
const PRIV: &str = "/tmp/snap-private-tmp";
const CANARY: &str = "/tmp/canary";

/// Become the attacker in a forked child.
fn become_attacker() {
    use rustix::process::{Gid, Uid};
    rustix::thread::set_thread_groups(&[]).unwrap();
    rustix::thread::set_thread_res_gid(
        Gid::from_raw(NOBODY),
        Gid::from_raw(NOBODY),
        Gid::from_raw(NOBODY),
    )
    .unwrap();
    rustix::thread::set_thread_res_uid(
        Uid::from_raw(NOBODY),
        Uid::from_raw(NOBODY),
        Uid::from_raw(NOBODY),
    )
    .unwrap();
}

fn kill_and_reap(pid: Pid) {
    let _ = rustix::process::kill_process(pid, Signal::KILL);
    let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
}

fn reap(pid: Pid) -> i32 {
    match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
        Ok(Some((_, status))) => status.exit_status().unwrap_or(-1),
        _ => -1,
    }
}

/// The canary directory: the attacker's, holding one file.
fn plant_canary() {
    attacker_sets_up(&format!(
        "mkdir -p {CANARY} && echo canary > {CANARY}/canary"
    ));
}

/// The canary untouched: same listing, no mount on or under it.
fn canary_intact() -> Result<(), String> {
    let names: Vec<String> = fs::read_dir(CANARY)
        .map_err(|e| format!("the canary directory is gone: {e}"))?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    check(names == ["canary"], || {
        format!("the canary directory was written to: {names:?}")
    })?;
    let meta = fs::metadata(CANARY).unwrap();
    check(meta.uid() == NOBODY, || {
        format!("the canary was chowned to {}", meta.uid())
    })?;
    let mounts = world_mounts();
    check(!mounts.iter().any(|m| m.starts_with(CANARY)), || {
        format!("something was mounted on the canary: {mounts:?}")
    })
}

/// A launch either worked (the app ran) or was refused cleanly.
fn clean(out: &Output) -> Result<(), String> {
    check(ended_cleanly(out), || {
        format!("the launcher hung or crashed: {}", text(out))
    })
}

/// `ls /proc/self/mountinfo` lines of the app naming `dir` as mount point.
fn app_mounts_at(stdout: &str, dir: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.split(' ').nth(4) == Some(dir))
        .map(str::to_owned)
        .collect()
}

/// Discard the namespace and everything of the private /tmp, as root.
fn reset() {
    let _ = Command::new("sh")
        .args(["-c", "umount -l /run/snapd/ns/hello.mnt 2>/dev/null; rm -rf /run/snapd/ns/*hello* /tmp/snap-private-tmp"])
        .status();
}

// 1 -------------------------------------------------------------------

/// Cold starts against the swap loop: about 10-15 s here (a cold start
/// or refusal takes 30-70 ms); 1000 would take over a minute.
pub const SWAP_RACE_LAUNCHES: usize = 200;

/// §8.1: the attacker loops `RENAME_EXCHANGE` of `/tmp/snap-private-tmp`
/// (the one attacker-writable component a launch touches: the parent of
/// the private tmp and of the scratch root) between its own directory and
/// a symlink to its canary, while the namespace is rebuilt again and again.
pub fn swap_race(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        plant_canary();
        attacker_sets_up("ln -s /tmp/canary /tmp/atk-link");
        let racer = fork_child(|| {
            become_attacker();
            let deadline = Instant::now() + Duration::from_secs(120);
            while Instant::now() < deadline {
                let _ = fs::create_dir("/tmp/atk-dir");
                let _ = rustix::fs::renameat_with(
                    rustix::fs::CWD,
                    "/tmp/atk-dir",
                    rustix::fs::CWD,
                    PRIV,
                    rustix::fs::RenameFlags::NOREPLACE,
                );
                for _ in 0..50 {
                    let _ = rustix::fs::renameat_with(
                        rustix::fs::CWD,
                        PRIV,
                        rustix::fs::CWD,
                        "/tmp/atk-link",
                        rustix::fs::RenameFlags::EXCHANGE,
                    );
                }
            }
            0
        })
        .unwrap();
        let start = Instant::now();
        let mut worked = 0;
        let mut result = Ok(());
        let launches = lab.rounds(SWAP_RACE_LAUNCHES);
        for i in 0..launches {
            reset();
            let out = lab.launch("ls -a /tmp; cat /proc/self/mountinfo");
            let step = clean(&out).and_then(|()| {
                if out.status.success() {
                    worked += 1;
                    check(!stdout(&out).contains("canary"), || {
                        format!("the app's /tmp is the canary (launch {i}): {}", text(&out))
                    })?;
                }
                canary_intact()
            });
            if step.is_err() {
                result = step;
                break;
            }
        }
        kill_and_reap(racer);
        eprintln!(
            "swap race: {launches} launches in {:?}, {worked} ran the app, the rest were refused",
            start.elapsed()
        );
        result?;
        canary_intact()
    })])
}

// 2 -------------------------------------------------------------------

/// §8.2: the attacker makes `/tmp/snap-private-tmp` first, as its own
/// directory (empty, or holding a planted `snap.hello/tmp`), a symlink to
/// its canary, a FIFO, a file: the launcher must refuse, leave the object
/// as it was, and never show the planted content.
pub fn precreated_private_tmp(lab: &Lab) -> Result<(), String> {
    let plants = [
        "mkdir -m 0700 /tmp/snap-private-tmp",
        "mkdir -m 0777 /tmp/snap-private-tmp",
        "mkdir -p /tmp/snap-private-tmp/snap.hello/tmp && chmod 1777 /tmp/snap-private-tmp/snap.hello/tmp && echo planted > /tmp/snap-private-tmp/snap.hello/tmp/planted",
        "ln -s /tmp/canary /tmp/snap-private-tmp",
        "mkfifo /tmp/snap-private-tmp",
        "echo x > /tmp/snap-private-tmp",
    ];
    all(plants.map(|plant| {
        lab.world(|_| {
            plant_canary();
            attacker_sets_up(plant);
            let before = root_sh("stat -c '%F %u %g %a %i' /tmp/snap-private-tmp");
            let out = lab.launch("ls -a /tmp; cat /tmp/planted 2>&1");
            clean(&out)?;
            check(!stdout(&out).contains("planted"), || {
                format!(
                    "`{plant}`: the planted content is in the sandbox: {}",
                    text(&out)
                )
            })?;
            check(!out.status.success(), || {
                format!(
                    "`{plant}`: the launcher used the attacker's object: {}",
                    text(&out)
                )
            })?;
            let after = root_sh("stat -c '%F %u %g %a %i' /tmp/snap-private-tmp");
            check(before == after, || {
                format!("`{plant}`: the attacker's object was changed: {before} -> {after}")
            })?;
            canary_intact()
        })
    }))
}

// 4 -------------------------------------------------------------------

/// The set-user-ID probe: prints its effective uid.
pub const EUID_PROBE: &str = "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"euid=%d\\n\",(int)geteuid());return 0;}\n";

/// §8.4: a set-user-ID root program in the base (`/bin/suid`) and one
/// root puts in the sandbox's `/tmp`: the app runs them as the user.
pub fn setuid_inside(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        let first = lab.launch("true");
        check(first.status.success(), || format!("cannot launch: {}", text(&first)))?;
        root_sh(
            "cp /snap/core/x1/bin/suid /tmp/snap-private-tmp/snap.hello/tmp/suid 2>/dev/null || true; \
             chmod 4755 /tmp/snap-private-tmp/snap.hello/tmp/suid 2>/dev/null || true",
        );
        let out = lab.launch("/bin/suid; /tmp/suid; ls -l /bin/suid /tmp/suid");
        clean(&out)?;
        let text_ = stdout(&out);
        check(text_.matches("euid=65534").count() == 2, || {
            format!("a set-user-ID program did not run as the user: {}", text(&out))
        })?;
        check(!text_.contains("euid=0"), || {
            format!("the app gained root through a set-user-ID program: {}", text(&out))
        })
    })])
}

// 5 -------------------------------------------------------------------

/// §8.5: a process of the same user outside the sandbox (cwd in a host
/// directory, a descriptor on a host file): the app reads its root, cwd
/// and fds through /proc.
pub fn proc_pid_root(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        attacker_sets_up("mkdir -p /tmp/outside && echo TOPSECRET > /tmp/outside/secret");
        let mut outsider = attacker(Command::new("/bin/sh"))
            .args(["-c", "exec 3</tmp/outside/secret; exec sleep 60"])
            .current_dir("/tmp/outside")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let pid = outsider.id();
        let out = lab.launch(&format!(
            "cat /proc/{pid}/root/tmp/outside/secret; cat /proc/{pid}/cwd/secret; cat /proc/{pid}/fd/3; \
             ls /proc/{pid}/root/tmp; true"
        ));
        let _ = outsider.kill();
        let _ = outsider.wait();
        check(out.status.success(), || format!("cannot launch: {}", text(&out)))?;
        check(!stdout(&out).contains("TOPSECRET") && !stdout(&out).contains("outside"), || {
            format!("the app read the host through /proc/{pid}: {}", text(&out))
        })
    })])
}

// 6 -------------------------------------------------------------------

/// Run a launch through the host's shell as the attacker: `prefix` runs
/// first (redirections, `ulimit`, `umask`, `cd`), then snap-confine is
/// exec'd with the app's `script`.
pub fn launch_after(lab: &Lab, prefix: &str, script: &str) -> Output {
    launch_app_after(lab, prefix, "/bin/sh -c \"$1\"", script)
}

/// [`launch_after`] with the app's command line `app` (`$1` is `arg`).
pub fn launch_app_after(lab: &Lab, prefix: &str, app: &str, arg: &str) -> Output {
    // busybox's sh: dash cannot close descriptors above 9.
    let mut cmd = attacker(Command::new("/bin/busybox"));
    cmd.args([
        "sh",
        "-c",
        &format!(
            "{prefix}\nexec timeout -s KILL {LAUNCH_TIMEOUT_S} {CONFINE} --base core {TAG} {app}"
        ),
        "sh",
        arg,
    ])
    .env_clear()
    .envs(snap_env())
    .current_dir("/")
    .stdin(Stdio::null());
    lab.run(cmd)
}

/// Close what the test process inherited (nextest's, the shell's), then
/// open fd 7 on a host file and go to a directory the sandbox lacks.
const CLOSE_OTHERS_AND_OPEN_7: &str = "for f in /proc/$$/fd/*; do n=${f##*/}; [ \"$n\" -gt 2 ] && [ \"$n\" != 10 ] && eval \"exec $n>&-\"; done\ncd /tmp/hostonly && exec 7</tmp/hostonly/f";

/// The app that lists its descriptors and cwd (`/bin/fds` of the probe
/// base: a static program run directly, so no shell's own descriptors
/// show; busybox's sh leaves a copy of stdin at fd 10 for its children).
const LIST_FDS: &str = "/bin/fds";

/// The descriptor lister (`/bin/fds`).
pub const FDS_PROBE: &str = "#include <dirent.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n\
int main(void){DIR*d=opendir(\"/proc/self/fd\");if(!d)return 1;int me=dirfd(d);struct dirent*e;char p[300],t[4096],c[4096];\
while((e=readdir(d))){if(e->d_name[0]=='.')continue;int n=atoi(e->d_name);if(n==me)continue;\
snprintf(p,sizeof p,\"/proc/self/fd/%s\",e->d_name);ssize_t k=readlink(p,t,sizeof t-1);if(k<0)k=0;t[k]=0;printf(\"fd %d %s\\n\",n,t);}\
printf(\"cwd %s\\n\",getcwd(c,sizeof c)?c:\"(error)\");return 0;}\n";

/// §8.6: the app lists its descriptors and working directory; launched
/// from a host-only directory with an extra inherited descriptor.
pub fn leaked_fds_and_cwd(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        attacker_sets_up("mkdir -p /tmp/hostonly && echo x > /tmp/hostonly/f");
        for round in ["cold", "warm"] {
            let out = launch_app_after(lab, CLOSE_OTHERS_AND_OPEN_7, LIST_FDS, "");
            check(out.status.success(), || format!("cannot launch: {}", text(&out)))?;
            let listing = stdout(&out);
            for line in listing.lines() {
                if let Some(rest) = line.strip_prefix("fd ") {
                    let (n, target) = rest.split_once(' ').unwrap_or((rest, ""));
                    let inherited = match n {
                        "0" => target == "/dev/null",
                        "1" | "2" => target.starts_with("pipe:"),
                        "7" => target == "/tmp/hostonly/f",
                        // busybox's sh, which starts the launcher, passes
                        // a copy of its stdin there.
                        "10" => target == "/dev/null",
                        _ => false,
                    };
                    check(inherited, || {
                        format!("{round} start: the app got a descriptor it did not inherit: fd {n} -> {target}\n{listing}")
                    })?;
                }
                if let Some(cwd) = line.strip_prefix("cwd ") {
                    check(
                        !cwd.contains("unreachable") && !cwd.contains("(error)") && cwd != "/tmp/hostonly",
                        || format!("{round} start: the app's cwd is {cwd:?}"),
                    )?;
                }
            }
        }
        Ok(())
    })])
}

// 7 -------------------------------------------------------------------

/// Launches watched by the attacker's /proc poller.
pub const PTRACE_LAUNCHES: usize = 40;

/// §8.7: the attacker (same real uid) polls `/proc/PID/mem` (the
/// `PTRACE_MODE_ATTACH` check `PTRACE_ATTACH` and `process_vm_readv`
/// make), `environ` and `root` of its own launcher from the moment it is
/// started until the app is exec'd: none may open while the process runs
/// snap-confine.
pub fn proc_access_during_launch(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        let mut opened = 0;
        for i in 0..lab.rounds(PTRACE_LAUNCHES) {
            if i % 2 == 0 {
                reset();
            }
            let mut child = attacker(Command::new(CONFINE))
                .args(["--base", "core", TAG, "/bin/sh", "-c", "exec sleep 0.2"])
                .env_clear()
                .envs(snap_env())
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let pid = child.id();
            let poller = fork_child(move || {
                become_attacker();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    for what in ["mem", "environ", "root/", "cwd/"] {
                        let path = format!("/proc/{pid}/{what}");
                        let ok = if what.ends_with('/') {
                            fs::read_dir(&path).is_ok()
                        } else {
                            fs::File::open(&path).is_ok()
                        };
                        if ok {
                            match fs::read_link(format!("/proc/{pid}/exe")) {
                                Ok(exe) if exe.to_string_lossy().contains("snap-confine") => {
                                    return 10;
                                }
                                Ok(exe) if exe.to_string_lossy().contains("busybox") => return 0,
                                _ => {}
                            }
                        }
                    }
                    // Gone, or a zombie waiting for the test to reap it.
                    match fs::read_to_string(format!("/proc/{pid}/stat")) {
                        Ok(stat) if stat.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')) => {
                            return 0;
                        }
                        Err(_) => return 0,
                        Ok(_) => {}
                    }
                }
                0
            })
            .unwrap();
            let code = reap(poller);
            let status = child.wait().unwrap();
            if code == 10 {
                return Err(format!(
                    "launch {i}: the attacker opened /proc/{pid}/{{mem,environ,root,cwd}} while it ran snap-confine"
                ));
            }
            if status.success() {
                opened += 1;
            }
        }
        check(opened > 0, || "no launch succeeded".to_owned())
    })])
}

// 9 -------------------------------------------------------------------

/// A shared object that leaves a marker naming the effective uid it was
/// loaded with.
const EVIL_SO: &str = "#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void pwn(void){char p[64];snprintf(p,sizeof p,\"/tmp/pwned-%d\",(int)geteuid());FILE*f=fopen(p,\"w\");if(f)fclose(f);}\n";

/// §8.9 (and §8.24's debug knob): loader variables pointing at the
/// attacker's library, debug and locale knobs, huge values, a
/// `SNAP_INSTANCE_NAME` for another snap, `SNAP_USER_DATA` aimed at a
/// root-owned host directory and at `..`; closed descriptors 0-2.
pub fn hostile_environment(lab: &Lab) -> Result<(), String> {
    let so = lab.fx.dir.path().join("evil.so");
    let src = lab.fx.dir.path().join("evil.c");
    fs::write(&src, EVIL_SO).unwrap();
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "cannot build the attacker's library");
    let so = so.to_str().unwrap().to_owned();
    let huge = "A".repeat(120_000);
    all([lab.world(|_| {
        attacker_sets_up(&format!("mkdir -p /tmp/evil && cp {so} /tmp/evil/libgcc_s.so.1 && cp {so} /tmp/evil/gconv-modules"));
        let loader: Vec<(&str, &str)> = vec![
            ("LD_PRELOAD", so.as_str()),
            ("LD_LIBRARY_PATH", "/tmp/evil"),
            ("LD_AUDIT", so.as_str()),
            ("GCONV_PATH", "/tmp/evil"),
            ("GLIBC_TUNABLES", "glibc.malloc.mxfast=glibc.malloc.mxfast=A"),
            ("LOCPATH", "/tmp/evil"),
            ("LC_ALL", "../../../tmp/evil"),
            ("LANG", "C.UTF-8"),
            ("SNAPD_DEBUG", "1"),
            ("SNAP_CONFINE_DEBUG", "1"),
            ("MALLOC_CHECK_", "3"),
            ("BIG", huge.as_str()),
        ];
        let out = lab.run({
            let mut c = lab.launch_cmd("echo ran; env | grep -c BIG");
            c.env_clear().envs(env_with(&loader));
            c
        });
        clean(&out)?;
        check(!Path::new("/tmp/pwned-0").exists(), || {
            format!("the attacker's library ran as root: {}", text(&out))
        })?;
        check(out.status.success(), || {
            format!("the launcher failed on a hostile but valid environment: {}", text(&out))
        })?;
        // Values that must be refused.
        let refused: Vec<Vec<(&str, &str)>> = vec![
            vec![("SNAP_INSTANCE_NAME", "other")],
            vec![("SNAP_INSTANCE_NAME", huge.as_str())],
            vec![("SNAP_INSTANCE_NAME", "../hello")],
        ];
        for env in refused {
            let out = lab.run({
                let mut c = lab.launch_cmd("echo ran");
                c.env_clear().envs(env_with(&env));
                c
            });
            clean(&out)?;
            check(!out.status.success(), || {
                format!("{:?} was accepted: {}", env.iter().map(|(k, v)| (k, &v[..v.len().min(20)])).collect::<Vec<_>>(), text(&out))
            })?;
        }
        // SNAP_USER_DATA aimed where only root may write.
        for dir in ["/var/lib/snapd/evil", "/var/snap/hello/x1/../../../var/lib/snapd/evil2", "../../var/lib/snapd/evil3"] {
            let out = lab.run({
                let mut c = lab.launch_cmd("echo ran");
                c.env_clear().envs(env_with(&[("SNAP_USER_DATA", dir)]));
                c
            });
            clean(&out)?;
            for made in ["/var/lib/snapd/evil", "/var/lib/snapd/evil2", "/var/lib/snapd/evil3", "/var/lib/evil3"] {
                check(!Path::new(made).exists(), || {
                    format!("SNAP_USER_DATA={dir} made {made} with root's power")
                })?;
            }
        }
        // Closed 0-2: nothing the launcher opens may land on them.
        let out = launch_after(
            lab,
            "exec 0<&- 1>&- 2>&-",
            "/bin/fds > /tmp/fds 2>&1",
        );
        clean(&out)?;
        let fds = fs::read_to_string("/tmp/snap-private-tmp/snap.hello/tmp/fds").unwrap_or_default();
        for line in fds.lines().filter(|l| l.starts_with("fd ")) {
            check(
                !["/run/snapd", "/proc/", "cgroup", "bpf", "mnt:[", "lock"]
                    .iter()
                    .any(|bad| line.contains(bad)),
                || format!("with 0-2 closed, the app got a privileged descriptor: {line}\n{fds}"),
            )?;
        }
        let info = fs::read_to_string("/run/snapd/ns/snap.hello.info").unwrap_or_default();
        check(!info.contains("DEBUG") && !info.contains("cannot"), || {
            format!("with 0-2 closed, output went into a state file: {info}")
        })
    })])
}

// 11 ------------------------------------------------------------------

/// Launches killed or stopped at spread-out moments.
pub const KILL_LAUNCHES: usize = 40;

/// §8.11: the attacker SIGKILLs (or SIGSTOPs for a while and then kills)
/// its launcher at moments spread over a cold start; then a normal launch
/// must work in a sound namespace, and the host keeps no scratch mount.
pub fn kill_anywhere(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        // How long a cold start takes here.
        reset();
        let t = Instant::now();
        let out = lab.launch("true");
        check(out.status.success(), || {
            format!("cannot launch: {}", text(&out))
        })?;
        let cold = t.elapsed();
        let baseline = world_mounts();
        for i in 0..lab.rounds(KILL_LAUNCHES) {
            if i % 3 != 2 {
                reset();
            }
            let mut child = attacker(Command::new(CONFINE))
                .args(["--base", "core", TAG, "/bin/true"])
                .env_clear()
                .envs(snap_env())
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let pid = Pid::from_raw(child.id() as i32).unwrap();
            std::thread::sleep(cold * (i as u32 % 20) / 20);
            if i % 4 == 1 {
                let _ = rustix::process::kill_process(pid, Signal::STOP);
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = rustix::process::kill_process(pid, Signal::KILL);
            let _ = child.wait();
            let now = world_mounts();
            let extra: Vec<&String> = now
                .iter()
                .filter(|m| !baseline.contains(m) && !m.starts_with("/run/snapd/ns/hello.mnt"))
                .collect();
            check(extra.is_empty(), || {
                format!("killed launch {i} left mounts on the host: {extra:?}")
            })?;
            let perms = root_sh("stat -c '%u %a' /tmp/snap-private-tmp 2>/dev/null || true");
            check(perms.trim().is_empty() || perms.trim() == "0 700", || {
                format!("killed launch {i} left /tmp/snap-private-tmp as {perms}")
            })?;
        }
        let out = lab.launch("cat /snap/hello/x1/data/hello.txt; touch /tmp/x && ls /tmp");
        check(out.status.success() && stdout(&out) == "hi\nx\n", || {
            format!("after the kills the namespace is not sound: {}", text(&out))
        })
    })])
}

// 12 ------------------------------------------------------------------

/// §8.12: `/run/snapd/ns/hello.mnt` replaced by a regular file, a
/// symlink to the host's namespace, or (by root) a bind of a mount
/// namespace owned by the attacker's user namespace: the app must never
/// run in the planted namespace nor in the host's.
pub fn spoofed_namespace(lab: &Lab) -> Result<(), String> {
    let plants = ["file", "symlink", "userns"];
    all(plants.map(|plant| {
        lab.world(|_| {
            let first = lab.launch("true");
            check(first.status.success(), || format!("cannot launch: {}", text(&first)))?;
            reset();
            let host = fs::read_link("/proc/self/ns/mnt").unwrap().to_string_lossy().into_owned();
            let mut bad = vec![host];
            let mut holder = None;
            match plant {
                "file" => root_sh("echo fake > /run/snapd/ns/hello.mnt"),
                "symlink" => root_sh("ln -s /proc/1/ns/mnt /run/snapd/ns/hello.mnt"),
                _ => {
                    // Binding a namespace file hits the 6.18 namespace-id
                    // ordering bug (EINVAL: ids come from per-CPU batches,
                    // and a namespace newer than ours cannot be bound) unless
                    // the new namespace's id is below the world's: try each
                    // CPU in turn, a few times.
                    let ncpus = std::thread::available_parallelism().map_or(1, |n| n.get());
                    let mut done = String::new();
                    for attempt in 0..40 {
                        let mut cpus = rustix::thread::CpuSet::new();
                        cpus.set(attempt % ncpus);
                        rustix::thread::sched_setaffinity(None, &cpus).unwrap();
                        let mut child = attacker(Command::new("unshare"))
                            .args(["-U", "-m", "-r", "sleep", "60"])
                            .spawn()
                            .unwrap();
                        std::thread::sleep(Duration::from_millis(100));
                        let pid = child.id();
                        let bound = Command::new("sh")
                            .args(["-c", &format!(
                                "touch /run/snapd/ns/hello.mnt && mount --bind /proc/{pid}/ns/mnt /run/snapd/ns/hello.mnt"
                            )])
                            .stderr(Stdio::null())
                            .status()
                            .unwrap();
                        if bound.success() {
                            bad.push(
                                fs::read_link(format!("/proc/{pid}/ns/mnt"))
                                    .unwrap()
                                    .to_string_lossy()
                                    .into_owned(),
                            );
                            holder = Some(child);
                            done = root_sh("printf 'base-snap-name=core\\n' > /run/snapd/ns/snap.hello.info");
                            break;
                        }
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    assert!(holder.is_some(), "cannot bind the attacker's namespace");
                    done
                }
            };
            let out = lab.launch("readlink /proc/self/ns/mnt");
            if let Some(mut h) = holder {
                let _ = h.kill();
                let _ = h.wait();
            }
            clean(&out)?;
            let ns = stdout(&out).trim().to_owned();
            check(!out.status.success() || !bad.contains(&ns), || {
                format!("{plant}: the app ran in the planted namespace {ns}")
            })
        })
    }))
}

// 17 ------------------------------------------------------------------

/// §8.17: cold starts under low limits fail cleanly or work; never a
/// crash, a preserved namespace without its records, or a broken next
/// launch.
pub fn low_rlimits(lab: &Lab) -> Result<(), String> {
    let mut limits: Vec<String> = (4..=12).map(|n| format!("ulimit -n {n}")).collect();
    limits.push("ulimit -f 0".to_owned());
    limits.push("ulimit -v 20000".to_owned());
    limits.push("ulimit -v 60000".to_owned());
    all([lab.world(|_| {
        for limit in &limits {
            reset();
            let out = launch_after(lab, limit, "cat /snap/hello/x1/data/hello.txt");
            // Killed by SIGXFSZ (a write over RLIMIT_FSIZE) is failing closed.
            use std::os::unix::process::ExitStatusExt;
            let xfsz = out.status.signal() == Some(25);
            check(ended_cleanly(&out) || xfsz, || {
                format!("`{limit}`: the launcher crashed or hung: {}", text(&out))
            })?;
            if out.status.success() {
                check(stdout(&out) == "hi\n", || {
                    format!(
                        "`{limit}`: the app ran in a wrong namespace: {}",
                        text(&out)
                    )
                })?;
            }
            if crate::common::is_preserved(SNAP) {
                let info = fs::read_to_string("/run/snapd/ns/snap.hello.info").unwrap_or_default();
                check(!info.trim().is_empty(), || {
                    format!("`{limit}`: a namespace was preserved without its record")
                })?;
            }
            let next = lab.launch("cat /snap/hello/x1/data/hello.txt; ls /tmp");
            check(next.status.success() && stdout(&next) == "hi\n", || {
                format!("`{limit}`: the launch after it is broken: {}", text(&next))
            })?;
        }
        Ok(())
    })])
}

// 19 ------------------------------------------------------------------

/// §8.19/§8.15/§8.16: a mount profile (what snapd makes of a hostile
/// publisher's layouts) aimed at host and system paths, with `..`,
/// a symlink loop, and 100k entries.
pub fn hostile_profile(lab: &Lab) -> Result<(), String> {
    let s = "/snap/hello/x1";
    let many = |n: usize| -> String {
        (0..n)
            .map(|i| format!("tmpfs /usr/share/demo/d{i} tmpfs x-snapd.origin=layout 0 0\n"))
            .collect()
    };
    // 100k lines ending in one the parser must refuse (a bad dump field):
    // refused whole, in bounded time. 2000 valid ones: applied in bounded
    // time (100k valid ones take minutes of real mounts: not a test).
    let big_bad = format!(
        "{}tmpfs /usr/share/demo/bad tmpfs x-snapd.origin=layout zero 0\n",
        many(100_000)
    );
    let big_good = many(2000);
    // (profile, target, applied inside the sandbox like snapd's
    // snap-update-ns does: the gate for those is snapd's layout validation,
    // `snapcell_core::layout::OFF_LIMITS`; the host must stay untouched).
    let cases: Vec<(String, &str, bool)> = vec![
        (
            format!(
                "{s}/conf /etc/ld.so.preload none bind,rw,x-snapd.kind=file,x-snapd.origin=layout 0 0\n"
            ),
            "/etc/ld.so.preload",
            true,
        ),
        (
            format!("{s}/data /proc/sys/kernel none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/proc/sys/kernel",
            true,
        ),
        (
            format!("{s}/data /sys/kernel none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/sys/kernel",
            true,
        ),
        (
            format!("{s}/data /usr/lib/snapd none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/usr/lib/snapd",
            true,
        ),
        (
            format!("{s}/data /run/snapd none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/run/snapd",
            true,
        ),
        // Cleaned to /etc, as snapd's NeededChanges cleans every target.
        (
            format!("{s}/data /usr/share/../../etc none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/etc",
            true,
        ),
        (
            format!("{s}/../../../etc /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"),
            "/usr/share/demo",
            false,
        ),
        (
            "/var/snap/hello/x1/loop /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"
                .to_owned(),
            "/usr/share/demo",
            false,
        ),
        (
            "/var/snap/hello/x1/up/etc /usr/share/demo none rbind,rw,x-snapd.origin=layout 0 0\n"
                .to_owned(),
            "/usr/share/demo",
            false,
        ),
        (big_bad, "/usr/share/demo/d99999", false),
        (big_good, "/usr/share/demo/d99999", false),
    ];
    all(cases.into_iter().map(|(fstab, target, sandbox_only)| {
        lab.world(|_| {
            fs::create_dir_all("/var/snap/hello/x1").unwrap();
            let _ = std::os::unix::fs::symlink("loop", "/var/snap/hello/x1/loop");
            let _ = std::os::unix::fs::symlink("../../../..", "/var/snap/hello/x1/up");
            // A first, harmless launch prepares the host (shared /snap,
            // /run/snapd/ns) as designed; then the hostile profile.
            let warm = lab.launch("true");
            check(warm.status.success(), || format!("cannot launch: {}", text(&warm)))?;
            reset();
            fs::create_dir_all("/var/lib/snapd/mount").unwrap();
            fs::write("/var/lib/snapd/mount/snap.hello.fstab", &fstab).unwrap();
            // The host's mounts without propagation (the launcher makes
            // the snap mounts shared, as snapd does).
            let host = || -> Vec<String> {
                let mut v: Vec<String> = world_mounts()
                    .into_iter()
                    .filter(|m| !m.starts_with("/run/snapd/ns"))
                    .map(|m| m.rsplit_once(' ').map(|(a, _)| a.to_owned()).unwrap_or(m))
                    .collect();
                v.sort();
                v
            };
            let host_before = host();
            let host_files = || root_sh("ls -la /etc /usr/lib/snapd /run/snapd /proc/sys/kernel/hostname /sys/kernel | grep -v ' ns$'");
            let files_before = host_files();
            let t = Instant::now();
            let out = lab.launch("cat /proc/self/mountinfo; echo ===; cat /etc/ld.so.preload 2>&1; ls /usr/lib/snapd");
            let first = format!("{} ({} lines)", fstab.lines().next().unwrap_or_default(), fstab.lines().count());
            clean(&out).map_err(|e| format!("`{first}`: {e}"))?;
            check(!Path::new("/etc/ld.so.preload").exists(), || {
                format!("`{first}`: the host has an /etc/ld.so.preload")
            })?;
            check(host_files() == files_before, || {
                format!("`{first}`: the host's /etc, /usr/lib/snapd, /run/snapd, /proc or /sys changed")
            })?;
            let app = stdout(&out);
            let (table, rest) = app.split_once("===").unwrap_or((&app, ""));
            let mut at = app_mounts_at(table, target);
            // The host's own directory bound at its place is normal.
            at.retain(|m| m.split(' ').nth(3) != Some(target));
            if sandbox_only {
                check(at.iter().all(|m| m.split(' ').nth(5).unwrap_or_default().starts_with("ro")), || {
                    format!("`{first}`: a writable mount at {target}: {at:?}")
                })?;
            } else {
                let hostile_source = target == "/usr/share/demo" && !at.is_empty();
                check(at.is_empty() || (out.status.success() && !hostile_source && target.starts_with("/usr/share/demo/")), || {
                    format!("`{first}`: mounted at {target}: {at:?}")
                })?;
            }
            let bound_conf = !sandbox_only && rest.contains("conf\n");
            check(sandbox_only || (!rest.contains("hello.txt") && !bound_conf), || {
                format!("`{first}`: the snap's or the host's files appeared at a system path: {rest}")
            })?;
            let host_after = host();
            check(host_before == host_after, || {
                let gone: Vec<_> = host_before.iter().filter(|m| !host_after.contains(m)).collect();
                let new: Vec<_> = host_after.iter().filter(|m| !host_before.contains(m)).collect();
                format!("`{first}`: the host's mounts changed: gone {gone:?}, new {new:?}")
            })?;
            check(t.elapsed() < Duration::from_secs(LAUNCH_TIMEOUT_S as u64), || {
                format!("`{first}`: the launch took {:?}", t.elapsed())
            })
        })
    }))
}

// 23 ------------------------------------------------------------------

/// Parallel cold launches of one snap.
pub const PARALLEL_LAUNCHES: usize = 20;

/// §8.23 (and a second launcher during construction): parallel cold
/// launches agree on one namespace; while the app runs, the snap lock is
/// free.
pub fn parallel_launches(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        // Sequential launches share the namespace (else the parallel test
        // means nothing here).
        let a = lab.launch("readlink /proc/self/ns/mnt");
        let b = lab.launch("readlink /proc/self/ns/mnt");
        assert!(
            a.status.success() && stdout(&a) == stdout(&b),
            "sequential launches do not share a namespace: {}\n{}",
            text(&a),
            text(&b)
        );
        reset();
        let children: Vec<_> = (0..PARALLEL_LAUNCHES)
            .map(|_| {
                let mut c = lab.launch_cmd("readlink /proc/self/ns/mnt");
                c.stdout(Stdio::piped()).stderr(Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        let outs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for out in &outs {
            check(out.status.success(), || {
                format!("a parallel launch failed: {}", text(out))
            })?;
        }
        let mut nss: Vec<String> = outs.iter().map(stdout).collect();
        nss.sort();
        nss.dedup();
        check(nss.len() == 1, || {
            format!("parallel launches made several namespaces: {nss:?}")
        })?;
        let mut app = lab.launch_cmd("sleep 2");
        let mut app = app
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let lock = Command::new("flock")
            .args(["-n", "/run/snapd/lock/hello.lock", "true"])
            .status()
            .unwrap();
        let _ = app.wait();
        check(lock.success(), || {
            "the running app holds the snap lock".to_owned()
        })
    })])
}

// 25 ------------------------------------------------------------------

/// §8.25: umask 0000 and 0777: the app sees the caller's umask and the
/// private /tmp has exactly its modes.
pub fn umask_extremes(lab: &Lab) -> Result<(), String> {
    all(["0000", "0777"].map(|mask| {
        lab.world(|_| {
            let out = launch_after(lab, &format!("umask {mask}"), "umask");
            check(out.status.success(), || format!("umask {mask}: cannot launch: {}", text(&out)))?;
            check(stdout(&out).trim() == mask, || {
                format!("umask {mask}: the app sees umask {}", stdout(&out).trim())
            })?;
            let modes = root_sh(
                "stat -c '%n %u %g %a' /tmp/snap-private-tmp /tmp/snap-private-tmp/snap.hello /tmp/snap-private-tmp/snap.hello/tmp",
            );
            let want = "/tmp/snap-private-tmp 0 0 700\n/tmp/snap-private-tmp/snap.hello 0 0 700\n/tmp/snap-private-tmp/snap.hello/tmp 0 0 1777\n";
            check(modes == want, || format!("umask {mask}: the private /tmp is\n{modes}"))
        })
    }))
}

// 8 -------------------------------------------------------------------

/// §8.8: root hard-links the set-user-ID launcher into a directory of the
/// attacker's holding fake helpers (`snap-update-ns`, `snap-exec`,
/// `snap-discard-ns`, `snap-seccomp`, `snap-device-helper`) that leave a
/// marker; the attacker runs the link: no helper of its ever runs, and its
/// directory never becomes the sandbox's `/usr/lib/snapd`.
pub fn hardlinked_launcher(lab: &Lab) -> Result<(), String> {
    let dir = lab.fx.dir.path().join("attacker");
    fs::create_dir_all(&dir).unwrap();
    let dir_s = dir.to_str().unwrap().to_owned();
    let marker = format!("{dir_s}/marker");
    all([lab.world(|_| {
        root_sh(&format!("chown {NOBODY}:{NOBODY} {dir_s}"));
        for helper in [
            "snap-update-ns",
            "snap-exec",
            "snap-discard-ns",
            "snap-seccomp",
            "snap-device-helper",
        ] {
            attacker_sets_up(&format!(
                "printf '#!/bin/sh\\necho ran >> {marker}\\necho ran > /run/hl-marker\\n' > {dir_s}/{helper} && chmod 755 {dir_s}/{helper}"
            ));
        }
        // The link is to the set-user-ID file itself.
        let source = match lab.which {
            Impl::Ours => lab.setuid_path().to_string_lossy().into_owned(),
            Impl::Snapd257 => CONFINE.to_owned(),
        };
        root_sh(&format!("ln {source} {dir_s}/snap-confine"));
        let out = lab.run({
            let mut c = attacker(Command::new("timeout"));
            c.args(["-s", "KILL", "30", &format!("{dir_s}/snap-confine")])
                .args(["--base", "core", TAG, "/bin/sh", "-c", "ls /usr/lib/snapd"])
                .env_clear()
                .envs(snap_env())
                .current_dir("/")
                .stdin(Stdio::null());
            c
        });
        clean(&out)?;
        check(!Path::new(&marker).exists() && !Path::new("/run/hl-marker").exists(), || {
            format!("a helper beside the hard link ran: {}", text(&out))
        })?;
        // The base's /usr/lib/snapd is empty.
        check(!stdout(&out).contains("snap-update-ns"), || {
            format!("the attacker's directory is the sandbox's /usr/lib/snapd: {}", text(&out))
        })
    })])
}

// 13 ------------------------------------------------------------------

/// §8.13: the host's `/` made recursively shared; a cold start, a warm
/// start: the host's mount table is as before (besides the designed
/// `/run/snapd/ns` and shared `/snap`), the scratch root never visible.
pub fn shared_host_root(lab: &Lab) -> Result<(), String> {
    all([lab.world(|_| {
        root_sh("mount --make-rshared /");
        let warm = lab.launch("true");
        check(warm.status.success(), || {
            format!("cannot launch: {}", text(&warm))
        })?;
        reset();
        let before = world_mounts();
        let out = lab.launch("cat /snap/hello/x1/data/hello.txt");
        check(out.status.success(), || {
            format!("cannot launch: {}", text(&out))
        })?;
        let out = lab.launch("cat /snap/hello/x1/data/hello.txt");
        check(out.status.success(), || {
            format!("cannot launch: {}", text(&out))
        })?;
        let after = world_mounts();
        let new: Vec<&String> = after
            .iter()
            .filter(|m| !before.contains(m) && !m.starts_with("/run/snapd/ns"))
            .collect();
        check(new.is_empty(), || {
            format!("mounts of the sandbox propagated to the host: {new:?}")
        })
    })])
}
