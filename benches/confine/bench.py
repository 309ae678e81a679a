#!/usr/bin/env python3
"""The launch benchmark's driver, run by world.sh inside the throwaway world.

MODE=bench: ROUNDS interleaved rounds. In each round the three launchers
(snapd's snap-confine, ours, bwrap) take turns in a rotating order; each
makes one cold start then three warm starts (bwrap: four launches, each
building a namespace). A cold start of a snap-confine is preceded by its own
snap-discard-ns (untimed). A failed cold start of the reference (snapd 2.57
fails some with EINVAL on kernel 6.18) is counted and retried; its time is
not recorded. The app is /bin/true of the base (busybox); an exec of that
binary without any launcher is timed in the same rounds as the floor.

MODE=stages: ours only, with SNAPD_DEBUG=1: the median of each stage.

Launches are spawned with posix_spawn (stdout to /dev/null, stderr to a
memfd read only on failure) and timed from spawn to reaped exit.
"""
import os
import platform
import re
import statistics
import subprocess
import sys
import time

SNAP, APP = "hello", "hello"
BASE_DIR = "/snap/core/x1"
MODE = os.environ.get("MODE", "bench")
ROUNDS = int(os.environ.get("ROUNDS", "50"))
REF = os.environ["SNAPD_CONFINE"]
OURS_DIR = os.environ["OURS_DIR"]
BWRAP = os.environ["BWRAP"]
# Another build of ours (a directory with snap-confine and snap-discard-ns),
# timed in the same rounds: to measure the effect of a change.
BASELINE = os.environ.get("BASELINE_DIR", "")
MAX_TRIES = 20

ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "SNAP_INSTANCE_NAME": SNAP,
    "SNAP_NAME": SNAP,
    "SNAP": f"/snap/{SNAP}/x1",
    "SNAP_REVISION": "x1",
}

devnull = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
errbuf = os.memfd_create("stderr", os.MFD_CLOEXEC)


def spawn(argv, env=ENV):
    """Run argv; return (seconds, exit status, stderr text)."""
    os.ftruncate(errbuf, 0)
    os.lseek(errbuf, 0, os.SEEK_SET)
    actions = [
        (os.POSIX_SPAWN_DUP2, devnull, 1),
        (os.POSIX_SPAWN_DUP2, errbuf, 2),
    ]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    dt = (time.perf_counter_ns() - t0) / 1e9
    rc = os.waitstatus_to_exitcode(status)
    err = ""
    if rc != 0 or "SNAPD_DEBUG" in env:
        os.lseek(errbuf, 0, os.SEEK_SET)
        err = os.read(errbuf, 1 << 20).decode(errors="replace")
    return dt, rc, err


def confine_argv(binary):
    return [binary, "--base", "core", f"snap.{SNAP}.{APP}", "/bin/true"]


def discard(directory):
    dt, rc, err = spawn([f"{directory}/snap-discard-ns", SNAP])
    if rc != 0:
        sys.exit(f"{directory}/snap-discard-ns failed: {err.strip()}")


def bwrap_argv():
    """bwrap with the base read-only as / and snap-confine's host directories."""
    argv = [BWRAP, "--ro-bind", BASE_DIR, "/", "--dev", "/dev", "--proc", "/proc"]
    # snap-confine's HOST_DIRS minus /dev, /proc (new ones above) and /tmp
    # (a tmpfs below); like snap-confine, skip one missing on either side.
    for d in ["/etc", "/home", "/root", "/sys", "/var/snap", "/var/lib/snapd", "/var/tmp",
              "/run", "/lib/modules", "/lib/firmware", "/usr/src", "/var/log", "/media",
              "/run/netns", "/mnt", "/var/lib/extrausers", "/snap"]:
        inside = d if d.startswith("/run/") else BASE_DIR + d
        if os.path.isdir(d) and os.path.isdir(inside):
            argv += ["--bind", d, d]
    # the base's own /etc entries back over the host's /etc, as snap-confine does
    for e in ["/etc/alternatives", "/etc/nsswitch.conf"]:
        argv += ["--ro-bind", BASE_DIR + e, e]
    argv += ["--tmpfs", "/tmp", "/bin/true"]
    return argv


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    distro = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass

    def version(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True, env=ENV)
            return (out.stdout + out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    snapd = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "snapd"],
                           capture_output=True, text=True).stdout or "?"
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "kernel": platform.release(),
        "distro": distro,
        "date": time.strftime("%Y-%m-%d"),
        "snapd": snapd,
        "ours": version([f"{OURS_DIR}/snap-confine", "--version"]),
        "bwrap": version([BWRAP, "--version"]),
    }


def med(xs):
    return statistics.median(xs) * 1e3 if xs else float("nan")


def pct(xs, p):
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))] * 1e3


def bench():
    true_argv = [f"{BASE_DIR}/bin/busybox", "true"]
    launchers = {
        "snapd": ("/usr/lib/snapd" if REF == "/usr/lib/snapd/snap-confine" else os.path.dirname(REF), REF),
        "ours": (OURS_DIR, f"{OURS_DIR}/snap-confine"),
    }
    if BASELINE:
        launchers["baseline"] = (BASELINE, f"{BASELINE}/snap-confine")
    times = {k: [] for k in ("snapd-cold", "snapd-warm", "ours-cold", "ours-warm", "bwrap", "floor",
                             "baseline-cold", "baseline-warm")}
    failures = {k: 0 for k in times}
    last_error = {}
    order = ["snapd", "ours", "bwrap"] + (["baseline"] if BASELINE else [])
    bw = bwrap_argv()
    # Warm-up, untimed: page cache, the loop devices' caches.
    for who, (d, binary) in launchers.items():
        discard(d)
        for _ in range(3):
            spawn(confine_argv(binary))
        discard(d)
    spawn(bw)
    for r in range(ROUNDS):
        rot = order[r % len(order):] + order[:r % len(order)]
        if r % 2:
            rot.reverse()
        for who in rot:
            if who == "bwrap":
                for _ in range(4):
                    dt, rc, err = spawn(bw)
                    if rc == 0:
                        times["bwrap"].append(dt)
                    else:
                        failures["bwrap"] += 1
                        last_error["bwrap"] = err
                continue
            d, binary = launchers[who]
            for _ in range(MAX_TRIES):
                discard(d)
                dt, rc, err = spawn(confine_argv(binary))
                if rc == 0:
                    times[f"{who}-cold"].append(dt)
                    break
                failures[f"{who}-cold"] += 1
                last_error[f"{who}-cold"] = err
            else:
                sys.exit(f"{who}: {MAX_TRIES} cold starts in a row failed: {err.strip()}")
            for _ in range(3):
                dt, rc, err = spawn(confine_argv(binary))
                if rc == 0:
                    times[f"{who}-warm"].append(dt)
                else:
                    failures[f"{who}-warm"] += 1
                    last_error[f"{who}-warm"] = err
            discard(d)
        dt, rc, err = spawn(true_argv)
        times["floor"].append(dt)

    m = machine()
    print(f"machine: {m['cpu']}; kernel {m['kernel']}; {m['distro']}; {m['date']}")
    print(f"snapd {m['snapd']}; {m['ours']}; {m['bwrap']}; {ROUNDS} rounds")
    print()
    print("| launcher | cold start, median (p10–p90) | warm start, median (p10–p90) | failed |")
    print("|---|---|---|---|")

    def cell(k):
        xs = times[k]
        return f"{med(xs):.2f} ms ({pct(xs, .1):.2f}–{pct(xs, .9):.2f})"

    def failed(*ks):
        runs = sum(len(times[k]) + failures[k] for k in ks)
        return ", ".join(f"{k.split('-')[-1]} {failures[k]}/{len(times[k]) + failures[k]}"
                         for k in ks) if runs else "-"
    print(f"| snapd {m['snapd']} snap-confine | {cell('snapd-cold')} | {cell('snapd-warm')} | "
          f"{failed('snapd-cold', 'snapd-warm')} |")
    print(f"| snapcell snap-confine | {cell('ours-cold')} | {cell('ours-warm')} | "
          f"{failed('ours-cold', 'ours-warm')} |")
    if BASELINE:
        print(f"| baseline ({BASELINE}) | {cell('baseline-cold')} | {cell('baseline-warm')} | "
              f"{failed('baseline-cold', 'baseline-warm')} |")
    print(f"| bwrap ({m['bwrap']}), every launch builds | {cell('bwrap')} | – | {failed('bwrap')} |")
    print(f"| no launcher: exec of the base's /bin/true | – | {cell('floor')} | – |")
    print()
    mc, mw = med(times["ours-cold"]), med(times["ours-warm"])
    print(f"ours/snapd: cold {mc / med(times['snapd-cold']):.2f}x (target ≤ 0.50), "
          f"warm {mw / med(times['snapd-warm']):.2f}x (target ≤ 0.35)")
    print(f"ours/bwrap: cold {mc / med(times['bwrap']):.2f}x, warm {mw / med(times['bwrap']):.2f}x")
    if BASELINE:
        print(f"ours/baseline: cold {mc / med(times['baseline-cold']):.2f}x, "
              f"warm {mw / med(times['baseline-warm']):.2f}x")
    for k, e in last_error.items():
        print(f"last failure of {k}: {e.strip().splitlines()[-1] if e.strip() else '?'}")


STAGE = re.compile(r"^DEBUG: stage (.+?): ([0-9.]+) ms \(total ([0-9.]+) ms\)$")


def stages():
    binary = f"{OURS_DIR}/snap-confine"
    env = dict(ENV, SNAPD_DEBUG="1")
    for kind in ("cold", "warm"):
        per = {}
        order = []
        totals = []
        wall = []
        for _ in range(ROUNDS):
            if kind == "cold":
                discard(OURS_DIR)
            else:
                spawn(confine_argv(binary))  # make sure one is preserved
            dt, rc, err = spawn(confine_argv(binary), env)
            if rc != 0:
                sys.exit(f"ours failed: {err.strip()}")
            wall.append(dt)
            for line in err.splitlines():
                mt = STAGE.match(line)
                if mt:
                    name = mt.group(1)
                    if name not in per:
                        per[name] = []
                        order.append(name)
                    per[name].append(float(mt.group(2)))
                    last_total = float(mt.group(3))
            totals.append(last_total)
        print(f"{kind} start, {ROUNDS} runs with SNAPD_DEBUG=1 (median of each stage):")
        for name in order:
            print(f"  {name:32s} {statistics.median(per[name]):7.3f} ms")
        print(f"  {'total inside snap-confine':32s} {statistics.median(totals):7.3f} ms")
        print(f"  {'wall, spawn to exit of the app':32s} {statistics.median(wall) * 1e3:7.3f} ms")
    discard(OURS_DIR)


if __name__ == "__main__":
    bench() if MODE == "bench" else stages()
