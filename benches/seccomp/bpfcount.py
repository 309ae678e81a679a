#!/usr/bin/env python3
"""How many BPF instructions a system call makes the kernel run under a
compiled profile: a classic-BPF interpreter over seccomp_data, with the
kernel's action cache (Linux 5.11+) modelled. A machine-independent
companion to overhead.c's timings.

    bpfcount.py FILE...      (one stack, loaded in this order: each a .bin2,
                              deny then allow as snap-confine loads them,
                              or a raw program such as a .bin or global.bin)

The kernel skips every filter for a (arch, nr) that each filter of the stack
allows whatever the arguments (it emulates each filter once with the
arguments unknown when it is loaded); otherwise it runs them all. So a call
costs 0 instructions when cached, and the sum over the stack otherwise."""
import struct
import sys

X86_64, I386 = 0xC000003E, 0x40000003


def programs(path):
    data = open(path, "rb").read()
    if data == b"@unrestricted\n":
        return []
    if data[:3] == b"SC\x01":
        if data[3] & 1:
            return []
        alen, dlen = struct.unpack_from("=II", data, 8)
        allow, deny = data[128:128 + alen], data[128 + alen:128 + alen + dlen]
        return [decode(p) for p in (deny, allow) if p]  # load order
    return [decode(data)]


def decode(raw):
    return [struct.unpack_from("=HBBI", raw, i) for i in range(0, len(raw), 8)]


def run(prog, arch, nr, args):
    """(return value, instructions executed)."""
    a = x = 0
    mem = [0] * 16
    pc = n = 0
    M = 0xFFFFFFFF
    while True:
        code, jt, jf, k = prog[pc]
        n += 1
        pc += 1
        cls = code & 7
        if cls == 0:  # LD
            mode = code & 0xE0
            if mode == 0x20:  # ABS
                if k == 0:
                    a = nr
                elif k == 4:
                    a = arch
                elif k >= 16:
                    i, hi = (k - 16) // 8, (k - 16) % 8 == 4
                    a = (args[i] >> 32) & M if hi else args[i] & M
                else:
                    a = 0  # instruction pointer
            elif mode == 0x00:
                a = k
            elif mode == 0x60:
                a = mem[k]
            elif mode == 0x80:
                a = 64
            else:
                raise ValueError(f"ld mode {code:#x}")
        elif cls == 1:  # LDX
            mode = code & 0xE0
            x = k if mode == 0x00 else mem[k] if mode == 0x60 else 64
        elif cls == 2:
            mem[k] = a
        elif cls == 3:
            mem[k] = x
        elif cls == 4:  # ALU
            op, v = code & 0xF0, (x if code & 8 else k)
            a = {0x00: lambda: a + v, 0x10: lambda: a - v, 0x20: lambda: a * v,
                 0x30: lambda: a // v, 0x40: lambda: a | v, 0x50: lambda: a & v,
                 0x60: lambda: a << v, 0x70: lambda: a >> v, 0x80: lambda: -a,
                 0x90: lambda: a % v, 0xA0: lambda: a ^ v}[op]() & M
        elif cls == 5:  # JMP
            op, v = code & 0xF0, (x if code & 8 else k)
            if op == 0x00:
                pc += k
                continue
            taken = {0x10: a == v, 0x20: a > v, 0x30: a >= v, 0x40: (a & v) != 0}[op]
            pc += jt if taken else jf
        elif cls == 6:  # RET
            return (a if code & 0x10 else k), n
        elif cls == 7:
            if code & 0xF8 == 0x80:
                a = x
            else:
                x = a
        else:
            raise ValueError(f"code {code:#x}")


def const_allow(prog, arch, nr):
    """The kernel's seccomp_is_const_allow: only loads of nr and arch,
    constant jumps, AND and RET K; anything else: not cached."""
    a = pc = 0
    while pc < len(prog):
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            if k not in (0, 4):
                return False
            a = nr if k == 0 else arch
        elif code == 0x06:
            return k == 0x7FFF0000
        elif code == 0x05:
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):
            taken = {0x10: a == k, 0x20: a > k, 0x30: a >= k, 0x40: (a & k) != 0}[code & 0xF0]
            pc += jt if taken else jf
        elif code == 0x54:
            a &= k
        else:
            return False
        pc += 1
    return False


def cost(progs, arch, nr, args):
    """(instructions the kernel runs, final action word)."""
    cached = all(const_allow(p, arch, nr) for p in progs)
    results = [run(p, arch, nr, args) for p in progs]
    if not results:
        return 0, 0x7FFF0000
    # The strictest action wins (lower action value), as the kernel decides;
    # among equal actions the newest filter's (the last loaded).
    final = min((r for r, _ in reversed(results)), key=lambda r: (r & 0xFFFF0000) ^ 0x80000000)
    return (0 if cached else sum(n for _, n in results)), final


# The calls overhead.c times (x86_64), plus some through the i386 entry.
PROBES = [
    ("getppid", X86_64, 110, [0] * 6),
    ("close_range", X86_64, 436, [0xFFFFFFFF, 0xFFFFFFFF, 0, 0, 0, 0]),
    ("ioctl(-1,FIONREAD)", X86_64, 16, [0xFFFFFFFF, 0x541B, 0, 0, 0, 0]),
    ("socket(AF_INET6,99)", X86_64, 41, [10, 99, 0, 0, 0, 0]),
    ("setpriority(0,0,n)", X86_64, 141, [0, 0, 0, 0, 0, 0]),
    ("fchown(-1,0,0)", X86_64, 93, [0xFFFFFFFF, 0, 0, 0, 0, 0]),
    ("mknodat(S_IFIFO)", X86_64, 259, [0xFFFFFFFF, 0, 0o10600, 0, 0, 0]),
    ("mount (denied)", X86_64, 165, [0] * 6),
    ("i386 getpid", I386, 20, [0] * 6),
    ("i386 ioctl(FIONREAD)", I386, 54, [0xFFFFFFFF, 0x541B, 0, 0, 0, 0]),
    ("i386 socket(AF_INET6)", I386, 359, [10, 1, 0, 0, 0, 0]),
]


def table(stacks, labels):
    """Per probe, (instructions, action) for each stack (a list of files)."""
    stacks = [[prog for f in files for prog in programs(f)] for files in stacks]
    rows = []
    for name, arch, nr, args in PROBES:
        rows.append((name, [cost(s, arch, nr, args) for s in stacks]))
    return labels, rows


if __name__ == "__main__":
    labels, rows = table([sys.argv[1:]], [" ".join(sys.argv[1:])])
    print(f"{'call':<24}" + "".join(f"{l[-24:]:>26}" for l in labels))
    for name, cells in rows:
        print(f"{name:<24}" + "".join(f"{n:>14} {ret:#010x} " for n, ret in cells))
