#!/usr/bin/env bash
# Run one fuzz target for a while, seeded from snapd's vectors when ../shared is there.
#   fuzz/run.sh TARGET [SECONDS]
# TARGET: profile mountinfo snap_yaml seccomp_lang seccomp_bin2 confine_args
#         apparmor snapd_state devices plan standalone_state
set -euo pipefail
cd "$(dirname "$0")"
target=$1
secs=${2:-600}
corpus=corpus/$target
mkdir -p "$corpus"
vectors=../../shared/spec/vectors
if [ -d "$vectors" ]; then
    python3 - "$target" "$corpus" "$vectors" <<'PY'
import hashlib, json, os, sys
target, corpus, vectors = sys.argv[1:]
def put(text):
    data = text.encode()
    open(os.path.join(corpus, hashlib.sha1(data).hexdigest()), "wb").write(data)
if target == "profile":
    for f in ("fstab_entry_parse.json", "fstab_profile_parse.json"):
        for c in json.load(open(os.path.join(vectors, f)))["cases"]:
            put(c["input"].get("line", c["input"].get("text", "")))
elif target == "mountinfo":
    for c in json.load(open(os.path.join(vectors, "mountinfo_parse.json")))["cases"]:
        put(c["input"]["line"])
elif target == "snap_yaml":
    for f in ("layout_validate.json", "layout_to_fstab.json"):
        for c in json.load(open(os.path.join(vectors, f)))["cases"]:
            if "snap_yaml" in c["input"]:
                put(c["input"]["snap_yaml"])
elif target == "confine_args":
    # argv fields NUL-separated, then an empty field, then KEY=VALUE.
    for c in json.load(open(os.path.join(vectors, "cli_args.json")))["cases"]:
        argv = c["input"].get("argv")
        if argv is None:
            continue
        put("\0".join(argv))
        if c["kind"] == "snap_confine_args":
            put("\0".join(argv) + "\0\0SNAP_INSTANCE_NAME=SNAP_NAME\0SNAP_USER_DATA=/home/u/snap/x/1")
    # Requests that pass validation, so that the fuzzer starts past it.
    sc = "/usr/lib/snapd/snap-confine"
    for argv, env in (
        ([sc, "snap.xy.app", "/usr/lib/snapd/snap-exec", "xy.app", "--arg"], ["SNAP_INSTANCE_NAME=xy"]),
        ([sc, "--base", "core22", "--classic", "snap.xy_k.app", "/bin/true"],
         ["SNAP_INSTANCE_NAME=xy_k", "SNAPD_DEBUG=1", "SNAP_CONFINE_MAX_PROFILE_WAIT=30"]),
        ([sc, "snap.xy+comp.hook.install", "/usr/lib/snapd/snap-exec"],
         ["SNAP_INSTANCE_NAME=xy", "SNAP_COMPONENT_NAME=xy+comp", "SNAP_USER_DATA=/home/u/snap/x/1"]),
        ([sc, "--version"], []),
    ):
        put("\0".join(argv) + "\0\0" + "\0".join(env))
PY
fi
case $target in
seccomp_bin2)
    # A restricted profile of two one-instruction programs, an unrestricted
    # one, and 2.57's @unrestricted .bin.
    python3 - "$corpus" <<'PY'
import os, struct, sys
c = sys.argv[1]
ret = struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000)
hdr = lambda flags, a, d: b"SC" + bytes([1, flags]) + b"\0" * 4 + struct.pack("=II", a, d) + b"\0" * 112
open(os.path.join(c, "restricted"), "wb").write(hdr(0, 8, 8) + ret + ret)
open(os.path.join(c, "unrestricted"), "wb").write(hdr(1, 0, 0))
open(os.path.join(c, "legacy"), "wb").write(b"@unrestricted\n")
PY
    ;;
apparmor)
    printf '#include <tunables/global>\n@{SNAP_NAME}="x"\n@{SNAP_INSTANCE_NAME}="x"\nprofile "snap.x.app" (attach_disconnected,mediate_deleted) {\n  #include <abstractions/base>\n  #include <abstractions/self>\n  #include "/var/lib/snapd/apparmor/snap-confine"\n  /snap/@{SNAP_NAME}/** mrklix,\n  owner @{HOME}/snap/@{SNAP_INSTANCE_NAME}/{,*/,**} rwk,\n  /{dev,run}/shm/snap.@{SNAP_INSTANCE_NAME}.** mrwlkix,\n  deny /etc/shadow r,\n  capability sys_admin,\n  dbus (send) bus=system,\n}\n' >"$corpus/snap-profile"
    for f in /etc/apparmor.d/abstractions/base /etc/apparmor.d/tunables/home /etc/apparmor.d/abstractions/nameservice; do
        if [ -f "$f" ]; then cp "$f" "$corpus/$(basename "$f")"; fi
    done
    ;;
snapd_state)
    printf '{"data":{"conns":{"x:home core:home":{"interface":"home","auto":true},"x:net core:network":{"interface":"network","undesired":true},"x_y:cam core:camera":{"interface":"camera"},"x:dev z:hw":{"interface":"hardware-observe","hotplug-gone":true,"plug-static":{"a":[1,2.5e3,null,false,"\\u00e9"]}}}},"changes":{}}' >"$corpus/state"
    ;;
standalone_state)
    # A state as snapcell saves it (a base, an app with two revisions, one a
    # try directory, connections), an empty one, and one with only defaults.
    printf '{\n  "snaps": {\n    "core22": {\n      "revisions": [\n        {\n          "revision": "x1",\n          "version": "20240111",\n          "type": "base",\n          "base": "",\n          "dangerous": true\n        }\n      ],\n      "current": "x1"\n    },\n    "hello_k": {\n      "revisions": [\n        {\n          "revision": "x1",\n          "version": "1.0",\n          "type": "app",\n          "base": "core22",\n          "dangerous": true\n        },\n        {\n          "revision": "x2",\n          "version": "1.1",\n          "type": "app",\n          "base": "core22",\n          "dangerous": true,\n          "try_dir": "/home/u/src/hello"\n        }\n      ],\n      "current": "x2"\n    }\n  },\n  "connections": {\n    "hello_k:home": {\n      "interface": "home",\n      "slot": "system:home"\n    },\n    "hello_k:shared": {\n      "interface": "content",\n      "slot": "producer:share"\n    }\n  }\n}\n' >"$corpus/state"
    printf '{}' >"$corpus/empty"
    printf '{"snaps":{"a":{"revisions":[{"revision":"x1","version":"\\u00e9","type":"os"}],"current":"x1"}}}' >"$corpus/defaults"
    ;;
devices)
    printf 'self-managed=true\n# c\nnon-strict=false\n' >"$corpus/info"
    printf 'c1:3' >"$corpus/id"
    printf 'MAJOR=1\nMINOR=3\nDEVNAME=null\n' >"$corpus/uevent"
    printf 'S:x\nQ:snap_x_y\nG:snap_x_y\n' >"$corpus/db"
    python3 - "$corpus" <<'PY'
import os, sys
c = sys.argv[1]
open(os.path.join(c, "current"), "wb").write(b"snap_x_y\0snap_x_y\0\0add\0/devices/virtual/mem/null\0" b"1\0" b"3\0mem")
open(os.path.join(c, "legacy"), "wb").write(b"tty\0add\0snap_x__c_hook_h\0/devices/tty\0" b"4:1")
PY
    ;;
esac
if [ "$target" = seccomp_lang ]; then
    # Seeds: one rule of each form, and the default template when snapd is installed.
    printf '# c\n@complain\nread\nsocket AF_NETLINK - NETLINK_ROUTE\nsetpriority PRIO_PROCESS 0 <=19\nmknodat - - |S_IFIFO -\nchown - u:root -1\n~ioctl - 4294967295|TIOCSTI\n' >"$corpus/forms"
    for f in /var/lib/snapd/seccomp/bpf/*.src; do
        if [ -f "$f" ]; then cp "$f" "$corpus/$(basename "$f")"; fi
    done
fi
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" "$corpus" -- -max_total_time="$secs" -max_len=65536 -timeout=10
