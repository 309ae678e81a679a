#!/usr/bin/env python3
"""The launch benchmark's driver, run by world.sh inside the throwaway world.

MODE=bench: ROUNDS interleaved rounds (each warm start followed by the floor,
refrun's floor.c entering the same preserved namespace; peak memory from
untimed launches under maxrss.c). MODE=scale: concurrent cold launches of
one snap, then many snaps launched cold one after another.

MODE=bench in detail: ROUNDS interleaved rounds. In each round the three launchers
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
CONCURRENT = int(os.environ.get("CONCURRENT", "100"))
MANY = int(os.environ.get("MANY", "50"))
OURS_LINK = os.environ.get("OURS_LINK", "dynamic")
# refrun's floor (floor.c, built static by world.sh): setns into the preserved
# namespace, chdir /, exec the app.
MAXRSS = "/tmp/snapcell-bench/maxrss"
FLOOR = [os.environ.get("FLOOR_BIN", "/tmp/snapcell-bench/floor"), f"/run/snapd/ns/{SNAP}.mnt", "/bin/true"]

ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "SNAP_INSTANCE_NAME": SNAP,
    "SNAP_NAME": SNAP,
    "SNAP": f"/snap/{SNAP}/x1",
    "SNAP_REVISION": "x1",
}

devnull = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
errbuf = os.memfd_create("stderr", os.MFD_CLOEXEC)


def spawn(argv, env=ENV, out=devnull):
    """Run argv; return (seconds, exit status, stderr text)."""
    os.ftruncate(errbuf, 0)
    os.lseek(errbuf, 0, os.SEEK_SET)
    actions = [
        (os.POSIX_SPAWN_DUP2, out, 1),
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


rssbuf = os.memfd_create("maxrss", os.MFD_CLOEXEC)


def peak(argv, env=ENV):
    """The max RSS (KiB) of argv, untimed, or None if it failed: measured by
    maxrss.c, which forks it from a small static parent (a child of this
    Python process would start with Python's resident set as its peak). It
    is the peak over the process's life: the launcher and then the app it
    became, and any helper it forked and reaped (snapd's)."""
    os.ftruncate(rssbuf, 0)
    os.lseek(rssbuf, 0, os.SEEK_SET)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, errbuf, 2),
               (os.POSIX_SPAWN_DUP2, rssbuf, 3)]
    pid = os.posix_spawn(MAXRSS, [MAXRSS, *argv], env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return None
    os.lseek(rssbuf, 0, os.SEEK_SET)
    return int(os.read(rssbuf, 64))


def confine_argv(binary, snap=SNAP, app=("/bin/true",)):
    return [binary, "--base", "core", f"snap.{snap}.{APP}", *app]


def env_of(snap):
    return dict(ENV, SNAP_INSTANCE_NAME=snap, SNAP_NAME=snap, SNAP=f"/snap/{snap}/x1")


def discard(directory, snap=SNAP):
    dt, rc, err = spawn([f"{directory}/snap-discard-ns", snap])
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
    exec_argv = [f"{BASE_DIR}/bin/busybox", "true"]
    launchers = {
        "snapd": ("/usr/lib/snapd" if REF == "/usr/lib/snapd/snap-confine" else os.path.dirname(REF), REF),
        "ours": (OURS_DIR, f"{OURS_DIR}/snap-confine"),
    }
    if BASELINE:
        launchers["baseline"] = (BASELINE, f"{BASELINE}/snap-confine")
    keys = ["bwrap", "floor", "exec"] + [f"{w}-{k}" for w in launchers for k in ("cold", "warm")]
    times = {k: [] for k in keys}
    rss = {k: [] for k in keys}
    failures = {k: 0 for k in keys}
    last_error = {}

    def record(k, result):
        dt, rc, err = result
        if rc == 0:
            times[k].append(dt)
        else:
            failures[k] += 1
            last_error[k] = err
        return rc

    order = list(launchers) + ["bwrap"]
    bw = bwrap_argv()
    # Warm-up, untimed: page cache, the loop devices' caches.
    for who, (d, binary) in launchers.items():
        discard(d)
        for _ in range(3):
            spawn(confine_argv(binary))
        spawn(FLOOR)
        discard(d)
    spawn(bw)
    for r in range(ROUNDS):
        rot = order[r % len(order):] + order[:r % len(order)]
        if r % 2:
            rot.reverse()
        for who in rot:
            if who == "bwrap":
                for _ in range(4):
                    record("bwrap", spawn(bw))
                rss["bwrap"].append(peak(bw))
                continue
            d, binary = launchers[who]
            for _ in range(MAX_TRIES):
                discard(d)
                if record(f"{who}-cold", spawn(confine_argv(binary))) == 0:
                    break
            else:
                sys.exit(f"{who}: {MAX_TRIES} cold starts in a row failed: {last_error[who + '-cold'].strip()}")
            # Each warm start is followed by the floor, entering the same
            # preserved namespace: the least a warm launcher must do.
            for _ in range(3):
                record(f"{who}-warm", spawn(confine_argv(binary)))
                record("floor", spawn(FLOOR))
            # Peak memory, untimed: one warm start, the floor, one cold start.
            rss[f"{who}-warm"].append(peak(confine_argv(binary)))
            rss["floor"].append(peak(FLOOR))
            discard(d)
            rss[f"{who}-cold"].append(peak(confine_argv(binary)))
            discard(d)
        record("exec", spawn(exec_argv))
        rss["exec"].append(peak(exec_argv))

    m = machine()
    print(f"machine: {m['cpu']}; kernel {m['kernel']}; {m['distro']}; {m['date']}; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"snapd {m['snapd']}; {m['ours']} ({OURS_LINK}); {m['bwrap']}; {ROUNDS} rounds")
    print()
    floor = med(times["floor"])

    def cell(k):
        xs = times[k]
        return f"{med(xs):.2f} ms ({pct(xs, .1):.2f}–{pct(xs, .9):.2f})"

    def over(k):
        return med(times[k]) - floor

    def maxrss(k):
        xs = [x for x in rss[k] if x is not None]
        return f"{statistics.median(xs) / 1024:.2f} MiB" if xs else "–"

    def failed(*ks):
        return ", ".join(f"{k.split('-')[-1]} {failures[k]}/{len(times[k]) + failures[k]}" for k in ks)
    print("| launcher | cold start, median (p10–p90) | warm start, median (p10–p90) "
          "| warm over the floor | max RSS cold / warm | failed |")
    print("|---|---|---|---|---|---|")
    names = {"snapd": f"snapd {m['snapd']} snap-confine", "ours": f"snapcell snap-confine ({OURS_LINK})",
             "baseline": f"baseline ({BASELINE})"}
    for who in launchers:
        print(f"| {names[who]} | {cell(who + '-cold')} | {cell(who + '-warm')} | "
              f"{over(who + '-warm'):.2f} ms | {maxrss(who + '-cold')} / {maxrss(who + '-warm')} | "
              f"{failed(who + '-cold', who + '-warm')} |")
    print(f"| bwrap ({m['bwrap']}), every launch builds | {cell('bwrap')} | – | – | {maxrss('bwrap')} | "
          f"{failed('bwrap')} |")
    print(f"| floor: setns into the preserved namespace, exec (refrun's floor.c, static) | – | "
          f"{cell('floor')} | 0 | – / {maxrss('floor')} | {failed('floor')} |")
    print(f"| no launcher: exec of the base's /bin/true | – | {cell('exec')} | – | – / {maxrss('exec')} | – |")
    print()
    mc = med(times["ours-cold"])
    print(f"warm over the floor, ours/snapd: {over('ours-warm') / over('snapd-warm'):.2f}x (target ≤ 0.15)")
    # The same at the 10th percentile: less sensitive to bursts of load from
    # other processes on a shared machine.
    p10 = {k: pct(times[k], .1) for k in ("ours-warm", "snapd-warm", "floor", "ours-cold", "snapd-cold")}
    print(f"at p10: warm over the floor ours {p10['ours-warm'] - p10['floor']:.2f} ms, "
          f"snapd {p10['snapd-warm'] - p10['floor']:.2f} ms: "
          f"{(p10['ours-warm'] - p10['floor']) / (p10['snapd-warm'] - p10['floor']):.2f}x; "
          f"cold {p10['ours-cold'] / p10['snapd-cold']:.2f}x")
    print(f"cold, ours/snapd: {mc / med(times['snapd-cold']):.2f}x (target ≤ 0.20); "
          f"ours/bwrap: {mc / med(times['bwrap']):.2f}x (target < 1)")
    print(f"warm, ours/snapd: {med(times['ours-warm']) / med(times['snapd-warm']):.2f}x")
    if BASELINE:
        print(f"ours/baseline: cold {mc / med(times['baseline-cold']):.2f}x, "
              f"warm over the floor {over('ours-warm') / over('baseline-warm'):.2f}x; at p10: cold "
              f"{pct(times['ours-cold'], .1) / pct(times['baseline-cold'], .1):.2f}x, warm over the floor "
              f"{(pct(times['ours-warm'], .1) - pct(times['floor'], .1)) / (pct(times['baseline-warm'], .1) - pct(times['floor'], .1)):.2f}x")
    for k, e in last_error.items():
        print(f"last failure of {k}: {e.strip().splitlines()[-1] if e.strip() else '?'}")


def concurrent(launchers):
    """CONCURRENT cold launches of one snap at once, ROUNDS times per launcher
    (alternating): total time from the first spawn to the last exit; every
    app prints its mount namespace, all must be the one preserved."""
    ns_argv = ("/bin/readlink", "/proc/self/ns/mnt")
    total = {w: [] for w in launchers}
    failed = {w: 0 for w in launchers}
    split = {w: 0 for w in launchers}
    last = {}
    for r in range(ROUNDS):
        for who in (list(launchers) if r % 2 == 0 else list(launchers)[::-1]):
            d, binary = launchers[who]
            discard(d)
            outs = [os.memfd_create(f"out{i}", os.MFD_CLOEXEC) for i in range(CONCURRENT)]
            errs = [os.memfd_create(f"err{i}", os.MFD_CLOEXEC) for i in range(CONCURRENT)]
            argv = confine_argv(binary, app=ns_argv)
            pids = {}
            t0 = time.perf_counter_ns()
            for i in range(CONCURRENT):
                actions = [(os.POSIX_SPAWN_DUP2, outs[i], 1), (os.POSIX_SPAWN_DUP2, errs[i], 2)]
                pids[os.posix_spawn(argv[0], argv, ENV, file_actions=actions)] = i
            codes = {}
            while pids:
                pid, status = os.wait()  # this is PID 1: orphans come here too
                if pid in pids:
                    codes[pids.pop(pid)] = os.waitstatus_to_exitcode(status)
            dt = (time.perf_counter_ns() - t0) / 1e9
            seen = set()
            bad = 0
            for i in range(CONCURRENT):
                os.lseek(outs[i], 0, os.SEEK_SET)
                out = os.read(outs[i], 4096).decode().strip()
                if codes[i] == 0:
                    seen.add(out)
                else:
                    bad += 1
                    os.lseek(errs[i], 0, os.SEEK_SET)
                    last[who] = os.read(errs[i], 1 << 16).decode(errors="replace").strip()
                os.close(outs[i])
                os.close(errs[i])
            preserved = f"/run/snapd/ns/{SNAP}.mnt"
            with open("/proc/self/mountinfo") as f:
                mounts = sum(1 for line in f if line.split()[4] == preserved)
            ino = os.stat(preserved).st_ino if mounts else None
            one = mounts == 1 and seen == {f"mnt:[{ino}]"}
            failed[who] += bad
            total[who].append(dt)
            if not one:
                split[who] += 1
                print(f"{who}, round {r}: {len(seen)} namespaces seen by the apps, "
                      f"{mounts} mounts at {preserved}", file=sys.stderr)
    print(f"{CONCURRENT} concurrent cold launches of one snap, {ROUNDS} rounds per launcher:")
    print()
    print("| launcher | total time, median (min–max) | per launch | failed launches | rounds with more than one namespace |")
    print("|---|---|---|---|---|")
    for who in launchers:
        xs = total[who]
        print(f"| {who} | {med(xs):.1f} ms ({min(xs) * 1e3:.1f}–{max(xs) * 1e3:.1f}) | "
              f"{med(xs) / CONCURRENT:.3f} ms | {failed[who]}/{CONCURRENT * ROUNDS} | {split[who]}/{ROUNDS} |")
    if "snapd" in total and "ours" in total:
        print(f"\nours/snapd, total: {med(total['ours']) / med(total['snapd']):.2f}x")
    for who, e in last.items():
        print(f"last failure of {who}: {e.splitlines()[-1] if e else '?'}")


def many(launchers):
    """MANY snaps (one image, bound at /snap/snapN/x1) launched cold one after
    another, ROUNDS passes per launcher (alternating): the time of the k-th
    launch, with k-1 namespaces already preserved."""
    snaps = [f"snap{i}" for i in range(MANY)]
    per = {w: [[] for _ in snaps] for w in launchers}
    failed = {w: 0 for w in launchers}
    gaveup = {w: 0 for w in launchers}
    last = {}
    for r in range(ROUNDS + 1):  # the first pass warms caches, untimed
        for who in (list(launchers) if r % 2 == 0 else list(launchers)[::-1]):
            d, binary = launchers[who]
            for s in snaps:
                discard(d, s)
            for k, s in enumerate(snaps):
                for _ in range(MAX_TRIES):
                    dt, rc, err = spawn(confine_argv(binary, snap=s), env_of(s))
                    if rc == 0:
                        break
                    failed[who] += 1
                    last[who] = err.strip()
                else:
                    gaveup[who] += 1
                    continue
                if r:
                    per[who][k].append(dt)
            for s in snaps:
                discard(d, s)
    print(f"{MANY} snaps launched cold one after another, {ROUNDS} passes per launcher "
          "(median over the passes of each launch):")
    print()
    q = max(1, MANY // 5)
    print(f"| launcher | launches 1–{q} | launches {MANY - q + 1}–{MANY} | last/first | "
          "slope per preserved namespace | failed (retried) | given up |")
    print("|---|---|---|---|---|---|---|")
    for who in launchers:
        meds = [statistics.median(xs) * 1e3 if xs else float("nan") for xs in per[who]]
        if any(m != m for m in meds):
            print(f"| {who} | – | – | – | – | {failed[who]} | {gaveup[who]} (some launch never succeeded) |")
            continue
        first, lastq = statistics.median(meds[:q]), statistics.median(meds[-q:])
        n = len(meds)
        mx, my = (n - 1) / 2, sum(meds) / n
        slope = sum((k - mx) * (y - my) for k, y in enumerate(meds)) / sum((k - mx) ** 2 for k in range(n))
        print(f"| {who} | {first:.2f} ms | {lastq:.2f} ms | {lastq / first:.2f} | "
              f"{slope * 1e3:+.1f} µs | {failed[who]} | {gaveup[who]} |")
    for who, e in last.items():
        print(f"last failure of {who}: {e.splitlines()[-1] if e else '?'}")


def scale():
    launchers = {
        "snapd": ("/usr/lib/snapd" if REF == "/usr/lib/snapd/snap-confine" else os.path.dirname(REF), REF),
        "ours": (OURS_DIR, f"{OURS_DIR}/snap-confine"),
    }
    m = machine()
    print(f"machine: {m['cpu']}; kernel {m['kernel']}; {m['distro']}; {m['date']}")
    print(f"snapd {m['snapd']}; {m['ours']} ({OURS_LINK})")
    print()
    concurrent(launchers)
    print()
    many(launchers)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


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
    {"bench": bench, "stages": stages, "scale": scale}[MODE]()
