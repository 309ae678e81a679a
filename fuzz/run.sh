#!/usr/bin/env bash
# Run one fuzz target for a while, seeded from snapd's vectors when ../shared is there.
#   fuzz/run.sh profile|mountinfo|snap_yaml|seccomp_lang [SECONDS]
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
PY
fi
if [ "$target" = seccomp_lang ]; then
    # Seeds: one rule of each form, and the default template when snapd is installed.
    printf '# c\n@complain\nread\nsocket AF_NETLINK - NETLINK_ROUTE\nsetpriority PRIO_PROCESS 0 <=19\nmknodat - - |S_IFIFO -\nchown - u:root -1\n~ioctl - 4294967295|TIOCSTI\n' >"$corpus/forms"
    for f in /var/lib/snapd/seccomp/bpf/*.src; do
        if [ -f "$f" ]; then cp "$f" "$corpus/$(basename "$f")"; fi
    done
fi
RUSTC_BOOTSTRAP=1 exec cargo fuzz run "$target" "$corpus" -- -max_total_time="$secs" -max_len=65536 -timeout=10
