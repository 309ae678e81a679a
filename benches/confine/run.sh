#!/bin/bash
# Launch benchmark (issue 3): snapd's snap-confine, ours and bubblewrap, the
# same scenario for all three, timed in one interleaved run.
#
#   benches/confine/run.sh [ROUNDS]        # default 50 rounds
#   benches/confine/run.sh --stages [N]    # ours only: median of each
#                                          # SNAPD_DEBUG stage over N cold and
#                                          # N warm starts (default 30)
#   benches/confine/run.sh --scale [R]     # R rounds (default 5) of CONCURRENT
#                                          # (100) concurrent cold launches of
#                                          # one snap, then R passes of MANY (50)
#                                          # snaps launched cold one after another
#   benches/confine/run.sh --shell CMD     # run bash -c CMD in the world instead
#
# Environment: SNAPD_CONFINE (default /usr/lib/snapd/snap-confine),
# OURS_DIR (default: ours linked statically, built here with
# `cargo build-snap-confine` into ./target/TRIPLE/release unless NO_BUILD=1),
# DYNAMIC=1 (build and time ours linked dynamically, `cargo build --release`,
# ./target/release), BWRAP (default bwrap), BASELINE_DIR (another build of
# ours, a directory with snap-confine and snap-discard-ns, timed in the same
# rounds as one more row: to measure the effect of a change).
#
# Needs root, Debian's snapd (the reference), bubblewrap, squashfs-tools,
# busybox-static and python3. Everything happens inside a throwaway PID +
# mount namespace: /tmp, /snap, /var/snap, /var/lib/snapd and /run/snapd are
# fresh tmpfs there, /run is a writable mimic (a tmpfs holding binds of the
# host's entries), so nothing is mounted or created on the machine. On a
# cgroup v1 host the world shows the unified (v2) hierarchy at
# /sys/fs/cgroup, so that snapd's snap-confine does not create freezer
# cgroups on the machine (see world.sh).
#
# The scenario: a base snap "core" (busybox: /bin/true is busybox's applet)
# and an app snap "hello" with an unrestricted seccomp profile and no mount
# profile, both squashfs images on loop devices. Each launch runs the base's
# /bin/true, so the time measured is the launcher's.
#   cold: the preserved namespace was discarded (with the launcher's own
#         snap-discard-ns, untimed), so the launcher builds and preserves one;
#   warm: the namespace of the previous launch is entered (setns);
#   bwrap: every launch builds a namespace (bubblewrap preserves nothing):
#         the base read-only as /, snap-confine's host directories bound,
#         a new /proc, a minimal /dev, a tmpfs /tmp.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if [ "${1:-}" = "--inside" ]; then
    shift
    exec bash "$HERE/world.sh" "$@"
fi

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: needs root (it mounts, in a throwaway namespace)" >&2
    exit 1
fi
MODE=bench
SHELL_CMD=
if [ "${1:-}" = "--shell" ]; then
    MODE=shell
    SHELL_CMD=$2
    ROUNDS=0
elif [ "${1:-}" = "--scale" ]; then
    MODE=scale
    shift
    ROUNDS=${1:-5}
elif [ "${1:-}" = "--stages" ]; then
    MODE=stages
    shift
    ROUNDS=${1:-30}
else
    ROUNDS=${1:-50}
fi
SNAPD_CONFINE=${SNAPD_CONFINE:-/usr/lib/snapd/snap-confine}
BWRAP=${BWRAP:-$(command -v bwrap || true)}
BASELINE_DIR=${BASELINE_DIR:+$(cd "$BASELINE_DIR" && pwd)}
for need in "$SNAPD_CONFINE" /bin/busybox /usr/bin/mksquashfs "$BWRAP"; do
    [ -n "$need" ] && [ -x "$need" ] || {
        echo "run.sh: missing ${need:-bwrap}: apt-get install snapd busybox-static squashfs-tools bubblewrap" >&2
        exit 1
    }
done
if [ -z "${OURS_DIR:-}" ] && [ "${DYNAMIC:-}" != 1 ]; then
    # Ours as it should ship: linked statically (glibc static-pie), built by
    # the alias in .cargo/config.toml into ./target/TRIPLE/release.
    triple=$(rustc -vV | sed -n 's/^host: //p')
    if [ "${NO_BUILD:-}" != 1 ]; then
        (cd "$ROOT" && cargo build-snap-confine -q --locked)
    fi
    OURS_DIR=$ROOT/target/$triple/release
else
    OURS_DIR=${OURS_DIR:-$ROOT/target/release}
    if [ "${NO_BUILD:-}" != 1 ] && [ "$OURS_DIR" = "$ROOT/target/release" ]; then
        (cd "$ROOT" && cargo build --release -q --locked -p snap-confine -p snap-discard-ns)
    fi
fi
OURS_DIR=$(cd "$OURS_DIR" && pwd)
CONCURRENT=${CONCURRENT:-100}
MANY=${MANY:-50}
OURS_LINK=$(if readelf -l "$OURS_DIR/snap-confine" | grep -q INTERP; then echo dynamic; else echo static; fi)
export MODE ROUNDS SNAPD_CONFINE OURS_DIR BWRAP SHELL_CMD BASELINE_DIR CONCURRENT MANY OURS_LINK
exec unshare -m -p -f --mount-proc --propagation private bash "$HERE/run.sh" --inside
