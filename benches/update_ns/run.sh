#!/bin/bash
# snap-update-ns benchmark: snapcell's against Debian snapd's, interleaved.
#
# Shapes (each at N = 10 100 1000 by default; every entry is a layout
# `rbind` whose source is a directory of the snap, a real squashfs image on a
# loop device):
#   siblings  all N sources (2N with the update's) in one squashfs directory,
#             targets existing directories in $SNAP_DATA
#   mimic     sources ten per squashfs directory, targets all in two
#             read-only directories that need writable mimics
#   deep      sources nine levels down in the squashfs, targets created seven
#             levels deep in $SNAP_DATA
#   mix       sibling sources; targets half in the two mimics, a quarter
#             existing, a quarter deep (the shape of issue 11)
# In a fresh preserved namespace each round:
#   scratch  apply the profile from an empty current profile
#   update   then apply a profile where 10% of the entries changed source
#   noop     then apply the same profile again (all keeps; no mount)
# Rounds alternate which implementation goes first. Prints medians (ms), the
# ratio ours/snapd, the "net" ratio with the cost of starting a process
# through the harness (/bin/true, measured first) taken off both sides, and
# the largest max RSS (KiB) of each side. Everything runs inside a throwaway
# PID + mount namespace (unshare), on tmpfs; the loop devices come from
# /dev/loop-control (losetup -f), auto-clear once mounted, and are detached
# on exit whatever happens (trap); nothing else touches the machine.
#
# usage: benches/update_ns/run.sh [N...]
#   SHAPES=siblings,mimic,deep,mix (default: all four)
#   STRACE=1: count each side's system calls per step (strace -c -f) instead;
#     STRACE=slow: count the calls that take over 30 us
#   PERF=1: perf record of ours (REPEAT=10 runs per step) instead of times;
#     CALLGRAPH=dwarf for user-space stacks, PERF_OUT=dir keeps `perf script`
#   COUNT=1: perf stat of each side per step (task-clock, page faults; mean
#     of REPEAT=10 fresh runs) instead of wall times
#   COLD=1: mount the squashfs afresh before each side's scratch step (no
#     lookup of it cached, as right after a snap is installed); default: warm
#   ROUNDS=R (default: 11 for N<=10, 9 for N<=100, 7 above)
#   OURS=path (default: target/TRIPLE/release/snap-update-ns, built here
#     static with `cargo build-snap-confine`; DYNAMIC=1: target/release's)
#   SNAPD=path (default: /usr/lib/snapd/snap-update-ns)
set -euo pipefail
if [ "${1:-}" = "--inner" ]; then
    shift
    exec python3 - "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time

ours, snapd = sys.argv[1], sys.argv[2]
loops_file = sys.argv[3]
shapes = sys.argv[4].split(",")
sizes = [int(n) for n in sys.argv[5:]]
ncpu = os.cpu_count() or 1
SNAP = "/snap/bench/x1"
DATA = "/var/snap/bench/x1"

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

# World: fresh tmpfs over everything snap-update-ns reads or writes.
for d in ["/run", "/snap", "/var/lib/snapd", "/var/snap", "/tmp", "/srv"]:
    sh(f"mount -n -t tmpfs -o mode=0755 bench {d}")  # -n: no utab in the host's /run
sh("mkdir -p /run/snapd/ns /run/snapd/lock /var/lib/snapd/mount")

# Where each entry of a shape takes its source (in the squashfs) and where it
# lands. i is the entry, alt whether it is the changed (update) variant.
def src_of(shape, i, alt, n):
    leaf = f"{'alt' if alt else 'src'}-{i}"
    if shape in ("siblings", "mix"):
        return f"{SNAP}/lib/{leaf}"                      # n (2n) siblings in one directory
    if shape == "mimic":
        return f"{SNAP}/g{i // 10}/{leaf}"               # ten per directory
    return f"{SNAP}/d{i // 10}/a/b/c/d/e/f/{leaf}"       # deep: nine levels down

def dst_of(shape, i, n):
    if shape == "siblings":
        return f"{DATA}/t-{i}"                           # exists: no mimic
    if shape == "mimic":
        return f"/srv/ro-{i % 2}/l-{i}"                  # two read-only directories
    if shape == "deep":
        return f"{DATA}/d{i // 10}/a/b/c/d/e/f/t-{i}"   # created, seven levels each
    k = i % 4                                            # mix
    if k == 0:
        return f"{DATA}/t-{i}"
    if k == 3:
        return f"{DATA}/d{i // 10}/a/b/c/d/e/f/t-{i}"
    return f"/srv/ro-{i % 2}/l-{i}"

def record_loop(dev):
    with open(loops_file, "a") as f:
        f.write(dev + "\n")

def teardown():
    sh(f"umount -R {SNAP} 2>/dev/null || true; rm -rf /snap/bench /var/snap/bench /tmp/stage /tmp/bench.sqfs")
    sh("umount -R /srv 2>/dev/null || true; mount -t tmpfs -o mode=0755 bench /srv")

def setup(shape, n):
    """The snap as a squashfs image on a loop device, $SNAP_DATA, and the
    read-only directories that need writable mimics."""
    teardown()
    stage = "/tmp/stage"
    os.makedirs(stage)
    for i in range(n):
        for alt in (False, True):
            src = stage + src_of(shape, i, alt, n)[len(SNAP):]
            os.makedirs(src)
            open(f"{src}/f", "w").write(src)
        if dst_of(shape, i, n).startswith(f"{DATA}/t-"):
            os.makedirs(dst_of(shape, i, n))
    os.makedirs(DATA, exist_ok=True)
    for g in range(2):
        d = f"/srv/ro-{g}"
        os.makedirs(f"{d}/sub")
        for f in ("a", "b", "c"):
            open(f"{d}/{f}", "w").write(f)
    sh("mount -o remount,ro /srv")
    sh(f"mksquashfs {stage} /tmp/bench.sqfs -quiet -no-progress -noappend -comp gzip >/dev/null")
    sh(f"rm -rf {stage}")
    os.makedirs(SNAP)
    mount_snap()

def mount_snap():
    """Mount the image on a loop device of its own: a new superblock, so no
    squashfs lookup is in the dentry cache yet (as just after installing or
    refreshing the snap)."""
    sh(f"umount -l {SNAP} 2>/dev/null || true")
    dev = subprocess.run(["losetup", "-f", "--show", "-r", "/tmp/bench.sqfs"], check=True,
                         capture_output=True, text=True).stdout.strip()
    record_loop(dev)
    try:
        sh(f"mount -t squashfs -o ro {dev} {SNAP}")
    finally:
        # Auto-clear: released as soon as the last mount of it goes (at the
        # latest when this namespace and the preserved ones die).
        subprocess.run(["losetup", "-d", dev], stderr=subprocess.DEVNULL)

def profile(shape, n, changed):
    return "".join(f"{src_of(shape, i, i in changed, n)} {dst_of(shape, i, n)} none rbind,rw,x-snapd.origin=layout 0 0\n"
                   for i in range(n))

def preserve():
    """A namespace like a snap's (/ read-only), bound at /run/snapd/ns/bench.mnt.
    Kernel 6.18's per-CPU namespace ids: try each CPU in turn."""
    open("/run/snapd/ns/bench.mnt", "w").close()
    for attempt in range(8 * ncpu):
        p = subprocess.Popen(["taskset", "-c", str(attempt % ncpu), "unshare", "-m", "--propagation", "private",
                              "sh", "-c", "mount -o remount,bind,ro / && echo ready && exec sleep 3600"],
                             stdout=subprocess.PIPE)
        assert p.stdout.readline().strip() == b"ready"
        if subprocess.run(["mount", "--bind", f"/proc/{p.pid}/ns/mnt", "/run/snapd/ns/bench.mnt"],
                          stderr=subprocess.DEVNULL).returncode == 0:
            return p
        p.kill(); p.wait()
    raise SystemExit("cannot preserve a namespace")

def discard(p):
    p.kill(); p.wait()
    sh("umount -l /run/snapd/ns/bench.mnt; rm -f /run/snapd/ns/bench.mnt /run/snapd/ns/snap.bench.fstab; rm -rf /tmp/.snap")

def timed(binary):
    """Wall time (s) of one run."""
    t = time.perf_counter()
    r = subprocess.run([binary] + (["bench"] if "snap-update-ns" in binary else []), env={},
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{binary} failed: {r.stderr.decode(errors='replace')[-500:]}")
    return dt

def max_rss(binary):
    """Max RSS (KiB) of one run, through /usr/bin/time (a small process:
    a child forked from this Python would count Python's pages)."""
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", "/tmp/rss", binary, "bench"], env={},
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"{binary} failed: {r.stderr.decode(errors='replace')[-500:]}")
    return int(open("/tmp/rss").read().split()[-1])

def perf_fold(text):
    """Summarise `perf script -F ip,sym` output (one stack a block): the
    share of samples each function is in (self and inclusive), top 45."""
    import collections
    stacks = [[(l.strip().split(None, 1) + ["?"])[1] for l in b.splitlines() if l.strip()]
              for b in text.split("\n\n") if b.strip()]
    incl, leaf = collections.Counter(), collections.Counter()
    for st in stacks:
        leaf[st[0]] += 1
        for f in set(st):
            incl[f] += 1
    n = len(stacks) or 1
    print(f"   {n} samples; self% / in-stack% by function")
    for f, c in incl.most_common(45):
        print(f"   {100 * leaf[f] / n:5.1f} {100 * c / n:5.1f}  {f[:120]}")

def write(text):
    open("/var/lib/snapd/mount/snap.bench.fstab", "w").write(text)

base = statistics.median(timed("/bin/true") for _ in range(31)) * 1000
print(f"process start baseline (/bin/true through this harness): {base:.2f} ms")
print(f"{'shape':<9} {'N':>5} {'step':<8} {'snapd ms':>9} {'ours ms':>9} {'ratio':>6} {'net':>6} {'snapd KiB':>10} {'ours KiB':>9}")
steps = ("scratch", "update", "noop")
cold = bool(os.environ.get("COLD"))
if cold:
    print("cold: the snap's squashfs is mounted afresh (empty dentry cache) before each side's scratch")
try:
    for shape in shapes:
        for n in sizes:
            setup(shape, n)
            rounds = int(os.environ.get("ROUNDS", 11 if n <= 10 else 9 if n <= 100 else 7))
            p1 = profile(shape, n, set())
            p2 = profile(shape, n, set(range(0, n, 10)))
            if os.environ.get("PERF"):
                # Where ours spends each step: perf record of REPEAT fresh runs.
                reps = int(os.environ.get("REPEAT", "10"))
                holder = preserve(); write(p1); timed(ours); write(p2); timed(ours); discard(holder)  # warm the dentry cache
                for step in steps:
                    files = []
                    for k in range(reps):
                        holder = preserve()
                        write(p1)
                        if step != "scratch":
                            timed(ours)
                            write(p2)
                            if step == "noop":
                                timed(ours)
                        f = f"/tmp/perf-{step}-{k}.data"
                        subprocess.run(["perf", "record", "-q", "-F", "20000", "--call-graph", os.environ.get("CALLGRAPH", "fp"), "-o", f, ours, "bench"], env={},
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                        files.append(f)
                        discard(holder)
                    out = subprocess.run(f"for f in {' '.join(files)}; do perf script -i $f -F ip,sym 2>/dev/null; done",
                                         shell=True, capture_output=True, text=True).stdout
                    print(f"== {shape} N={n} {step}: ours, perf samples by function (leaf and callers)")
                    perf_fold(out)
                    if step == "noop":
                        # CPU time of the no-op (less sensitive to a busy machine than wall time).
                        holder = preserve(); write(p1); timed(ours); write(p2); timed(ours)
                        for who, binary in (("snapd", snapd), ("ours", ours)):
                            r = subprocess.run(["perf", "stat", "-r", "20", "-x,", "-e", "task-clock", binary, "bench"],
                                               env={}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                            print(f"   no-op task-clock, {who}: {r.stderr.strip().split(',')[0]} ms (mean of 20)")
                        discard(holder)
                    if os.environ.get("PERF_OUT"):
                        open(f"{os.environ['PERF_OUT']}/{shape}-{n}-{step}.txt", "w").write(out)
                continue
            if os.environ.get("COUNT"):
                # CPU counts per step instead of wall times (steadier on a busy
                # machine): perf stat of each side, mean of REPEAT fresh runs.
                reps = int(os.environ.get("REPEAT", "10"))
                # (No hardware counters on this VM: instructions are <not supported>.)
                events = "task-clock,page-faults"
                for who, binary in (("snapd", snapd), ("ours", ours)):
                    for step in steps:
                        tot = {}
                        for k in range(reps):
                            holder = preserve()
                            write(p1)
                            if step != "scratch":
                                timed(binary)
                                write(p2)
                                if step == "noop":
                                    timed(binary)
                            r = subprocess.run(["perf", "stat", "-x,", "-e", events, binary, "bench"], env={},
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                            for line in r.stderr.splitlines():
                                f = line.split(",")
                                if len(f) > 2 and f[0].replace(".", "").isdigit():
                                    tot[f[2]] = tot.get(f[2], 0) + float(f[0])
                            discard(holder)
                        print(f"{shape:<9} {n:>5} {step:<8} {who:<6} task-clock {tot.get('task-clock', 0) / reps:8.3f} ms"
                              f"  page-faults {tot.get('page-faults', 0) / reps:8.1f}")
                        sys.stdout.flush()
                continue
            if os.environ.get("STRACE"):
                # System calls per step instead of times: strace -c -f of each side.
                for who, binary in (("snapd", snapd), ("ours", ours)):
                    if cold:
                        mount_snap()
                    holder = preserve()
                    for step, text in zip(steps, (p1, p2, p2)):
                        write(text)
                        if os.environ.get("STRACE") == "slow":
                            # Which calls take long (> 30 us: a squashfs lookup missing the cache).
                            subprocess.run(["strace", "-f", "-T", "-o", "/tmp/strace.txt", binary, "bench"],
                                           env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                            import collections, re
                            slow, calls = collections.Counter(), collections.Counter()
                            for line in open("/tmp/strace.txt"):
                                m = re.search(r"^\d+\s+(\w+)\(.*<(\d+\.\d+)>$", line.strip())
                                if m:
                                    calls[m.group(1)] += 1
                                    if float(m.group(2)) > 30e-6:
                                        slow[m.group(1)] += 1
                            print(f"== {shape} N={n} {step}: {who}: calls over 30 us (of all): " +
                                  ", ".join(f"{k} {v} ({calls[k]})" for k, v in slow.most_common(8)))
                            continue
                        subprocess.run(["strace", "-f", "-c", "-w", "-U", "name,calls,errors,time-total", "-o", "/tmp/strace.txt", binary, "bench"],
                                       env={}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
                        print(f"== {shape} N={n} {step}: {who}")
                        print(open("/tmp/strace.txt").read())
                    discard(holder)
                continue
            res = {(who, step): [] for who in ("snapd", "ours") for step in steps}
            rss = {(who, step): [] for who in ("snapd", "ours") for step in steps}
            mounts = {}
            for r in range(rounds):
                order = [("snapd", snapd), ("ours", ours)]
                if r % 2:
                    order.reverse()
                for who, binary in order:
                    if cold:
                        mount_snap()
                    holder = preserve()
                    for step, text in zip(steps, (p1, p2, p2)):
                        write(text)
                        res[(who, step)].append(timed(binary))
                    mounts[who] = sum(1 for _ in open(f"/proc/{holder.pid}/mountinfo"))
                    discard(holder)
            # Peak memory: one more (untimed) pass of each under /usr/bin/time.
            for who, binary in (("snapd", snapd), ("ours", ours)):
                holder = preserve()
                for step, text in zip(steps, (p1, p2, p2)):
                    write(text)
                    rss[(who, step)].append(max_rss(binary))
                discard(holder)
            for step in steps:
                s = statistics.median(res[("snapd", step)]) * 1000
                o = statistics.median(res[("ours", step)]) * 1000
                print(f"{shape:<9} {n:>5} {step:<8} {s:>9.2f} {o:>9.2f} {o / s:>6.2f} {(o - base) / (s - base):>6.2f}"
                      f" {max(rss[('snapd', step)]):>10} {max(rss[('ours', step)]):>9}")
            print(f"          ({rounds} rounds; mounts in the namespace at the end: snapd {mounts['snapd']}, ours {mounts['ours']})")
            sys.stdout.flush()
finally:
    teardown()
PY
fi

cd "$(dirname "$0")/../.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10 100 1000)
SHAPES=${SHAPES:-siblings,mimic,deep,mix}
SNAPD=${SNAPD:-/usr/lib/snapd/snap-update-ns}
if [ -z "${OURS:-}" ]; then
    # Static, as it ships (the alias in .cargo/config.toml); DYNAMIC=1 for
    # cargo build --release's dynamically linked one.
    if [ -n "${DYNAMIC:-}" ]; then
        cargo build --release -q --locked -p snap-update-ns
        OURS=$PWD/target/release/snap-update-ns
    else
        cargo build-snap-confine -q --locked
        OURS=$PWD/target/$(rustc -vV | sed -n 's/^host: //p')/release/snap-update-ns
    fi
fi
[ -x "$SNAPD" ] || { echo "snapd's snap-update-ns not found at $SNAPD (apt-get install snapd)" >&2; exit 1; }
command -v mksquashfs >/dev/null || { echo "mksquashfs not found (apt-get install squashfs-tools)" >&2; exit 1; }
# The loop devices the inner run attached (one a line): detached on exit if
# they still hold our image (auto-clear normally released them already).
LOOPS=$(mktemp)
detach_loops() {
    while read -r dev; do
        backing=$(cat "/sys/block/${dev#/dev/}/loop/backing_file" 2>/dev/null || true)
        case "$backing" in
        /tmp/bench.sqfs*) losetup -d "$dev" 2>/dev/null || true ;;
        esac
    done <"$LOOPS"
    rm -f "$LOOPS"
}
trap detach_loops EXIT
echo "machine: $(nproc) CPUs, kernel $(uname -r); ours: $OURS; snapd: $SNAPD ($(dpkg-query -W -f='${Version}' snapd 2>/dev/null || echo '?'))"
unshare -m -p -f --mount-proc --propagation private "$0" --inner "$OURS" "$SNAPD" "$LOOPS" "$SHAPES" "${SIZES[@]}"
