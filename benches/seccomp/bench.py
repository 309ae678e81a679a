#!/usr/bin/env python3
"""The seccomp benchmark's driver, run by run.sh (which sets WORK, ROUNDS,
SNAPD, OURS, BASELINE, CALLS, REPS, OVERHEAD: overhead.c built, and STACK:
the seccomp_stack example, writing the terminal-injection filter and the
composed filter snap-confine loads).

Every process is started with posix_spawn (stdout to a memfd, stderr to
another, read only when needed) and timed from spawn to reaped exit."""
import os
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpfcount  # noqa: E402

WORK = os.environ["WORK"]
ROUNDS = int(os.environ["ROUNDS"])
CALLS, REPS = os.environ["CALLS"], os.environ["REPS"]
CONTENDERS = [("snapd", os.environ["SNAPD"]), ("ours", os.environ["OURS"])]
if os.environ.get("BASELINE"):
    CONTENDERS.append(("baseline", os.environ["BASELINE"]))
OVERHEAD = os.environ["OVERHEAD"]
STACK = os.environ["STACK"]
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

out = os.memfd_create("stdout", os.MFD_CLOEXEC)
err = os.memfd_create("stderr", os.MFD_CLOEXEC)


def spawn(argv):
    """Run argv; return (wall seconds, CPU seconds (user + system), stdout
    text). Exits on failure."""
    for fd in (out, err):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
    actions = [(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    t0 = time.perf_counter_ns()
    pid = os.posix_spawn(argv[0], argv, ENV, file_actions=actions)
    _, status, ru = os.wait4(pid, 0)
    dt = (time.perf_counter_ns() - t0) / 1e9
    os.lseek(out, 0, os.SEEK_SET)
    text = os.read(out, 1 << 20).decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        os.lseek(err, 0, os.SEEK_SET)
        sys.exit(f"{argv} failed: {os.read(err, 1 << 20).decode(errors='replace')}")
    return dt, ru.ru_utime + ru.ru_stime, text


def template_257():
    """snapd 2.57's default template, read out of the installed snapd (as
    bins/snap-seccomp/tests/probe.rs does)."""
    data = open("/usr/lib/snapd/snapd", "rb").read()
    start = b"# Description: Allows access to app-specific directories and basic runtime\n#\n# The default seccomp"
    i = data.find(start)
    if i < 0:
        sys.exit("cannot find snapd 2.57's template in /usr/lib/snapd/snapd")
    rest = data[i:]
    end = next(k for k, b in enumerate(rest) if not (b in (9, 10) or 0x20 <= b < 0x7F))
    text = rest[:end].decode()
    if not text.endswith("pwritev\n"):
        sys.exit("snapd's template does not end as 2.57's does")
    return text


# Interface-like snippets, written here in snapd 2.57's language (no `~`, no
# `A|B`), in the spirit of what snapd's interfaces add: servers, netlink
# families, shared memory, device nodes, and lookups of system users.
SNIPPETS = {
    "audio-playback": "shmctl\n",
    "browser-like": "chroot\nsched_setscheduler\nmknod - |S_IFCHR -\nmknodat - - |S_IFCHR -\n",
    "desktop-like": "listen\naccept\naccept4\nsocket AF_NETLINK - NETLINK_KOBJECT_UEVENT\n",
    "network": "bind\nsocket AF_NETLINK - NETLINK_ROUTE\n",
    "network-bind": "accept\naccept4\nbind\nlisten\nsocket AF_NETLINK - NETLINK_ROUTE\n",
    "network-observe": "socket AF_NETLINK - NETLINK_INET_DIAG\nsocket AF_NETLINK - NETLINK_GENERIC\nsocket AF_PACKET\n",
    "system-users": "".join(
        f"setuid u:{u}\nsetgid g:{g}\nsetresuid u:{u} u:{u} u:{u}\nsetresgid g:{g} g:{g} g:{g}\n"
        f"chown - u:{u} g:{g}\nfchown - u:{u} g:{g}\nlchown - u:{u} g:{g}\n"
        for u, g in (("daemon", "daemon"), ("bin", "bin"), ("nobody", "nogroup"))
    ) + "setgroups 0 -\n",
}
HEADER = "# snap-seccomp version information:\n# 0 2.5.4 0 bpf-actlog\n"
# What generateContent appends without system-usernames and without AppArmor.
TAIL = "".join(f"{s}\n" for s in (
    "setgid setgid32 setregid setregid32 setresgid setresgid32 setresuid "
    "setresuid32 setreuid setreuid32 setuid setuid32 bind").split())


def profiles():
    t = template_257()
    snippets = "".join(SNIPPETS[k] for k in sorted(SNIPPETS))
    return {
        "header only": HEADER,
        "2.57 template": HEADER + t + TAIL,
        "template + 7 snippets": HEADER + t + snippets + TAIL,
    }


def global_bin():
    """snapd 2.57's global.bin (19 instructions: ioctl TIOCSTI with the upper
    bits of the request ignored → EPERM), which 2.57's snap-confine loads
    with every confined profile; read out of the installed snapd."""
    data = open("/usr/lib/snapd/snapd", "rb").read()
    ld_arch = struct.pack("=HBBI", 0x20, 0, 0, 4)
    at = data.find(ld_arch)
    while at >= 0:
        prog = [struct.unpack_from("=HBBI", data, at + 8 * i) for i in range(19)]
        if prog[1][3] == 0xC000003E and prog[16][3] == 0x5412 and prog[18] == (6, 0, 0, 0x7FFF0000):
            return data[at:at + 8 * 19]
        at = data.find(ld_arch, at + 1)
    sys.exit("cannot find snapd 2.57's global.bin program in /usr/lib/snapd/snapd")


def rules(src):
    return sum(1 for l in src.splitlines() if l.strip() and not l.startswith("#") and not l.startswith("@"))


def out_name(who, name):
    return f"{WORK}/{who}-{name.replace(' ', '_')}" + (".bin" if who == "snapd" else ".bin2")


def med(xs):
    return statistics.median(xs)


def main():
    profs = profiles()
    srcs = {}
    for name, src in profs.items():
        srcs[name] = f"{WORK}/{name.replace(' ', '_')}.src"
        open(srcs[name], "w").write(src)
    # Correctness first: each compiles each; the sizes.
    sizes = {}
    for who, binary in CONTENDERS:
        for name in profs:
            spawn([binary, "compile", srcs[name], out_name(who, name)])
            sizes[(who, name)] = os.path.getsize(out_name(who, name))
    last = list(profs)[-1]
    # What each launcher loads: snapd 2.57's snap-confine the .bin and
    # global.bin; current snapd's and ours the .bin2's deny and allow
    # programs. Then the fixed costs, and ours in 2.57's format.
    glob = f"{WORK}/global.bin"
    open(glob, "wb").write(global_bin())
    spawn([CONTENDERS[1][1], "compile", "--format=bin", srcs[last], f"{WORK}/ours-bin.bin"])
    # Ours as snap-confine loads it: the terminal-injection filter, the deny
    # and the allow program, composed into one filter; and the three loaded
    # one by one (what it loaded before the composition).
    spawn([STACK, out_name("ours", last), WORK])
    tty, composed = f"{WORK}/tty.bin", f"{WORK}/composed.bin"
    filters = [("none", []), ("allow-all", ["allow-all"]), ("tiny", ["tiny"]),
               ("tiny x2", ["tiny", "tiny"]), ("tiny x3", ["tiny", "tiny", "tiny"]),
               ("snapd", [out_name("snapd", last), glob]),
               ("ours", [composed]), ("ours x3", [tty, out_name("ours", last)]),
               ("ours .bin2", [out_name("ours", last)])]
    if len(CONTENDERS) > 2:
        filters.append(("baseline", [out_name("baseline", last)]))
    filters += [("snapd .bin", [out_name("snapd", last)]),
                ("ours .bin", [f"{WORK}/ours-bin.bin", glob])]

    compile_t = {(who, name): [] for who, _ in CONTENDERS for name in profs}
    compile_cpu = {(who, name): [] for who, _ in CONTENDERS for name in profs}
    ns = {}  # (filter, probe) -> [ns per call]
    probes = []
    for r in range(ROUNDS):
        k = r % len(CONTENDERS)
        for name in profs:
            for who, binary in CONTENDERS[k:] + CONTENDERS[:k]:
                dt, cpu, _ = spawn([binary, "compile", srcs[name], f"{WORK}/scratch"])
                compile_t[(who, name)].append(dt)
                compile_cpu[(who, name)].append(cpu)
        k = r % len(filters)
        for label, path in filters[k:] + filters[:k]:
            _, _, text = spawn([OVERHEAD, CALLS, REPS] + path)
            for line in text.splitlines():
                probe, v = line.rsplit(" ", 1)
                if probe not in probes:
                    probes.append(probe)
                ns.setdefault((label, probe), []).append(float(v))
        print(f"\rround {r + 1}/{ROUNDS}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    whos = [w for w, _ in CONTENDERS]

    def q(xs):
        xs = sorted(xs)
        d = statistics.quantiles(xs, n=10) if len(xs) > 1 else [xs[0]] * 9
        return f"{med(xs) * 1e3:.2f} ({d[0] * 1e3:.2f}-{d[-1] * 1e3:.2f})"

    print(f"\n## Compile time over {ROUNDS} rounds: wall (spawn to reaped exit) median (p10-p90), "
          "CPU (user + system) median, ms; output bytes")
    print(f"{'profile':<22} {'rules':>5} " + " ".join(f"{w + ' wall':>22} {'cpu':>6} {'bytes':>6}" for w in whos)
          + f" {'ours/snapd wall':>15} {'cpu':>5}")
    for name in profs:
        cells = [f"{q(compile_t[(w, name)]):>22} {med(compile_cpu[(w, name)]) * 1e3:>6.2f} {sizes[(w, name)]:>6}"
                 for w in whos]
        rw = med(compile_t[("ours", name)]) / med(compile_t[("snapd", name)])
        rc = med(compile_cpu[("ours", name)]) / med(compile_cpu[("snapd", name)])
        print(f"{name:<22} {rules(profs[name]):>5} " + " ".join(cells) + f" {rw:>15.2f} {rc:>5.2f}")

    print(f"\n## Filter overhead, profile \"{last}\": thread CPU ns per call, median over {ROUNDS} rounds "
          f"(each the median of {REPS} loops of {CALLS} calls)")
    print("stacks: none; allow-all (1 insn, skipped by the action cache); tiny (4 insns, run for ioctl); "
          "tiny x2; tiny x3; snapd = 2.57 .bin + global.bin (what 2.57's snap-confine loads); ours = "
          "terminal-injection filter + .bin2 deny + allow composed into one filter (what ours loads); "
          "ours x3 = the same three loaded separately; ours .bin2 = deny + allow;" + (" baseline = .bin2;" if len(CONTENDERS) > 2 else "") +
          " snapd .bin = without global.bin; ours .bin = --format=bin + global.bin")
    labels = [l for l, _ in filters]
    print(f"{'probe':<20} " + " ".join(f"{l:>10}" for l in labels) +
          f" {'+snapd':>7} {'+ours':>7} {'+ours x3':>8} {'ours/snapd':>10} {'x3/snapd':>8}")
    for p in probes:
        m = {l: med(ns[(l, p)]) for l in labels}
        over = {w: m[w] - m["none"] for w in ("snapd", "ours", "ours x3")}
        ratio = {w: over[w] / over["snapd"] if abs(over["snapd"]) > 0.5 else float("nan")
                 for w in ("ours", "ours x3")}
        print(f"{p:<20} " + " ".join(f"{m[l]:>10.1f}" for l in labels) +
              f" {over['snapd']:>7.1f} {over['ours']:>7.1f} {over['ours x3']:>8.1f}"
              f" {ratio['ours']:>10.2f} {ratio['ours x3']:>8.2f}")
    stacks = [(l, f) for l, f in filters if not any(x in ("allow-all", "tiny") for x in f) and f]
    names, rows = bpfcount.table([f for _, f in stacks], [l for l, _ in stacks])
    print("\nBPF instructions the kernel runs per call (bpfcount.py; 0: skipped by the action cache):")
    print(f"{'call':<24}" + "".join(f"{l:>12}" for l in names))
    for name, cells in rows:
        print(f"{name:<24}" + "".join(f"{n:>12}" for n, _ in cells))
    differ = [name for name, cells in rows if len({ret for _, ret in cells[:2]}) > 1]
    print("snapd and ours decide alike on these calls" if not differ else f"DECISIONS DIFFER on {differ}")
    i, j = names.index("ours"), names.index("ours x3")
    differ = [name for name, cells in rows if cells[i][1] != cells[j][1]]
    print("ours composed and ours x3 return the same on these calls" if not differ
          else f"COMPOSED DIFFERS on {differ}")

main()
