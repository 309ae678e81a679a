#!/bin/bash
# snap-seccomp benchmark: snapcell's compiler and filters against Debian
# snapd 2.57's, in one interleaved run. See benches/seccomp/README.md.
#
#   compile   spawn to reaped exit of `snap-seccomp compile IN OUT` (process
#             start included) for three profiles: header only; snapd 2.57's
#             default template as snapd writes it (plus the bare privilege
#             drop rules and bind); the same plus interface-like snippets.
#   overhead  thread-CPU ns per system call of tight loops (overhead.c)
#             under the last profile compiled by each, as each launcher
#             loads it (snapd 2.57: the raw .bin and snapd's global.bin;
#             ours: the terminal-injection filter and the .bin2's deny and
#             allow programs composed into one filter; also the three
#             loaded separately, and the .bin2 alone), minus the same
#             loop with no filter; plus fixed-cost stacks, and the BPF
#             instructions each call runs (bpfcount.py).
# Rounds rotate the order of the contenders. All files are in a temporary
# directory, on a tmpfs mounted over it in a private mount namespace
# (unshare), so that the two fsyncs each compiler makes cost little and the
# same (DISK=1: leave the directory on the disk).
#
# usage: benches/seccomp/run.sh [ROUNDS]          (default 30)
#   OURS=path      our snap-seccomp (default: target/release/snap-seccomp, built here)
#   STATIC=1       build ours linked statically (glibc static-pie and libseccomp.a,
#                  in target/TRIPLE/release) and time that; with BASELINE=target/release/snap-seccomp
#                  the default (dynamic) build is timed in the same rounds
#   SNAPD=path     (default: /usr/lib/snapd/snap-seccomp)
#   BASELINE=path  another build of ours, one more contender (A/B)
#   CALLS=N        calls per timed loop (default 50000), REPS=R loops per process (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-30}
SNAPD=${SNAPD:-/usr/lib/snapd/snap-seccomp}
if [ -z "${OURS:-}" ] && [ "${STATIC:-}" = 1 ]; then
    # As README.md's "Static build" says. An explicit --target keeps RUSTFLAGS
    # off build scripts and proc-macros.
    triple=$(rustc -vV | sed -n 's/^host: //p')
    LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$(dirname "$(gcc -print-file-name=libseccomp.a)") \
        RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --release --locked -q -p snap-seccomp --target "$triple"
    OURS=$PWD/target/$triple/release/snap-seccomp
elif [ -z "${OURS:-}" ]; then
    cargo build --release --locked -q -p snap-seccomp
    OURS=$PWD/target/release/snap-seccomp
fi
# The terminal-injection filter and the composition snap-confine loads.
cargo build --release --locked -q -p snapcell-sys --example seccomp_stack
STACK=$PWD/target/release/examples/seccomp_stack
[ -x "$SNAPD" ] || { echo "snapd's snap-seccomp not found at $SNAPD (apt-get install snapd)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/seccomp-bench.XXXXXX)
gcc -O2 -Wall -o "$WORK.overhead" benches/seccomp/overhead.c
trap 'rm -rf "$WORK" "$WORK.overhead"' EXIT
echo "machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "snapd: $SNAPD ($(dpkg-query -W -f='${Version}' snapd 2>/dev/null || echo '?')); ours: $OURS; libseccomp $("$SNAPD" library-version); bpf_jit_enable $(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null || echo '?')"
export STACK OVERHEAD="$WORK.overhead" WORK ROUNDS SNAPD OURS BASELINE="${BASELINE:-}" CALLS="${CALLS:-50000}" REPS="${REPS:-5}"
if [ -n "${DISK:-}" ]; then
    python3 benches/seccomp/bench.py
else
    unshare -m --propagation private sh -c 'mount -n -t tmpfs -o mode=0700 seccomp-bench "$WORK" && exec python3 benches/seccomp/bench.py'
fi
