#!/bin/bash
# snap-update-ns benchmark: snapcell's against Debian snapd's, interleaved.
#
# For N layout entries (default N = 10 100 1000; half of them need writable
# mimics), in a fresh preserved namespace each round:
#   scratch  apply the profile from an empty current profile
#   update   then apply a profile where 10% of the entries changed
#   noop     then apply the same profile again (all keeps: planning, reading,
#            checking; no mount)
# Rounds alternate which implementation goes first. Prints medians (ms), the
# ratio ours/snapd, and the "net" ratio with the cost of starting a process
# through the harness (/bin/true, measured first) taken off both sides. Everything runs inside a throwaway PID + mount
# namespace (unshare), on tmpfs; nothing touches the machine.
#
# usage: benches/update_ns/run.sh [N...]
#   ROUNDS=R (default: 11 for N<=10, 7 for N<=100, 5 above)
#   OURS=path (default: target/release/snap-update-ns, built here)
#   SNAPD=path (default: /usr/lib/snapd/snap-update-ns)
set -euo pipefail
if [ "${1:-}" = "--inner" ]; then
    shift
    exec python3 - "$@" <<'PY'
import os, statistics, subprocess, sys, time

ours, snapd = sys.argv[1], sys.argv[2]
sizes = [int(n) for n in sys.argv[3:]]
ncpu = os.cpu_count() or 1

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

# World: fresh tmpfs over everything snap-update-ns reads or writes.
for d in ["/run", "/snap", "/var/lib/snapd", "/var/snap", "/tmp", "/srv"]:
    sh(f"mount -n -t tmpfs -o mode=0755 bench {d}")  # -n: no utab in the host's /run
sh("mkdir -p /run/snapd/ns /run/snapd/lock /var/lib/snapd/mount")

def setup(n):
    """The snap (read-only, like a squashfs), $SNAP_DATA and the read-only
    directories the mimic half of the layouts goes into."""
    sh("umount /snap/bench/x1 2>/dev/null || true; rm -rf /snap/bench /var/snap/bench; umount -R /srv 2>/dev/null || true; mount -t tmpfs -o mode=0755 bench /srv")
    os.makedirs("/snap/bench/x1")
    groups = max(1, n // 20)
    for i in range(n):
        for src in (f"/snap/bench/x1/src-{i}", f"/snap/bench/x1/alt-{i}"):
            os.makedirs(src)
            open(f"{src}/f", "w").write(src)
        if i % 2 == 0:
            os.makedirs(f"/var/snap/bench/x1/t-{i}")
    for g in range(groups):
        d = f"/srv/ro-{g}"
        os.makedirs(f"{d}/sub")
        for f in ("a", "b", "c"):
            open(f"{d}/{f}", "w").write(f)
    sh("mount --bind /snap/bench/x1 /snap/bench/x1 && mount -o remount,bind,ro /snap/bench/x1")
    sh("mount -o remount,ro /srv")
    return groups

def profile(n, groups, changed):
    lines = []
    for i in range(n):
        src = f"/snap/bench/x1/{'alt' if i in changed else 'src'}-{i}"
        if i % 2 == 0:
            dst = f"/var/snap/bench/x1/t-{i}"          # exists: no mimic
        else:
            dst = f"/srv/ro-{i % groups}/l-{i}"        # read-only parent: mimic
        lines.append(f"{src} {dst} none rbind,rw,x-snapd.origin=layout 0 0\n")
    return "".join(lines)

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
    t = time.perf_counter()
    r = subprocess.run([binary] + (["bench"] if "snap-update-ns" in binary else []), env={}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{binary} failed: {r.stderr.decode(errors='replace')[-500:]}")
    return dt

def write(text):
    open("/var/lib/snapd/mount/snap.bench.fstab", "w").write(text)

# What starting any process costs in this harness (subtracted for the "net" ratio).
base = statistics.median(timed("/bin/true") for _ in range(31)) * 1000
print(f"process start baseline (/bin/true through this harness): {base:.2f} ms")
print(f"{'N':>5} {'step':<8} {'snapd ms':>10} {'ours ms':>10} {'ours/snapd':>10} {'net ratio':>10} {'ours us/entry':>14}")
for n in sizes:
    groups = setup(n)
    rounds = int(os.environ.get("ROUNDS", 11 if n <= 10 else 7 if n <= 100 else 5))
    p1 = profile(n, groups, set())
    p2 = profile(n, groups, set(range(0, n, 10)))
    res = {(who, step): [] for who in ("snapd", "ours") for step in ("scratch", "update", "noop")}
    mounts = {}
    for r in range(rounds):
        order = [("snapd", snapd), ("ours", ours)]
        if r % 2:
            order.reverse()
        for who, binary in order:
            holder = preserve()
            write(p1)
            res[(who, "scratch")].append(timed(binary))
            write(p2)
            res[(who, "update")].append(timed(binary))
            res[(who, "noop")].append(timed(binary))
            mounts[who] = sum(1 for _ in open(f"/proc/{holder.pid}/mountinfo"))
            discard(holder)
    for step in ("scratch", "update", "noop"):
        s = statistics.median(res[("snapd", step)]) * 1000
        o = statistics.median(res[("ours", step)]) * 1000
        print(f"{n:>5} {step:<8} {s:>10.2f} {o:>10.2f} {o / s:>10.2f} {(o - base) / (s - base):>10.2f} {o * 1000 / n:>14.1f}")
    print(f"      ({rounds} rounds, {groups} mimic groups; mounts in the namespace at the end: snapd {mounts['snapd']}, ours {mounts['ours']})")
    sys.stdout.flush()
PY
fi

cd "$(dirname "$0")/../.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10 100 1000)
SNAPD=${SNAPD:-/usr/lib/snapd/snap-update-ns}
if [ -z "${OURS:-}" ]; then
    cargo build --release -q -p snap-update-ns
    OURS=$PWD/target/release/snap-update-ns
fi
[ -x "$SNAPD" ] || { echo "snapd's snap-update-ns not found at $SNAPD (apt-get install snapd)" >&2; exit 1; }
echo "machine: $(nproc) CPUs, kernel $(uname -r); ours: $OURS; snapd: $SNAPD ($(dpkg-query -W -f='${Version}' snapd 2>/dev/null || echo '?'))"
exec unshare -m -p -f --mount-proc --propagation private "$0" --inner "$OURS" "$SNAPD" "${SIZES[@]}"
