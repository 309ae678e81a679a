#!/bin/bash
# The benchmark's world, run by run.sh inside `unshare -m -p -f --mount-proc
# --propagation private`: nothing mounted or created here reaches the host.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)

# Our scratch space: a fresh /tmp (every launcher gives the app its own /tmp).
mount -t tmpfs -o mode=1777 tmpfs /tmp
W=/tmp/snapcell-bench
mkdir -m 0700 "$W"

# Cover DIR with a tmpfs holding binds of everything DIR held (symlinks
# re-created), so that whatever a launcher creates there (snap-confine makes
# /run/snapd and maybe /run/netns) lands in the tmpfs. SKIP is made empty.
mimic() {
    local dir=$1 skip=$2 saved
    saved=$W/mimic$(echo "$dir" | tr / _)
    mkdir "$saved"
    mount --rbind "$dir" "$saved"
    mount -t tmpfs -o "mode=$(stat -c %a "$dir")" tmpfs "$dir"
    while IFS= read -r -d '' name; do
        local src=$saved/$name dst=$dir/$name
        if [ "$name" = "$skip" ]; then
            mkdir -p -m 0755 "$dst"
        elif [ -L "$src" ]; then
            ln -s "$(readlink "$src")" "$dst"
        elif [ -d "$src" ]; then
            mkdir -p -m "$(stat -c %a "$src")" "$dst"  # mount(8) may have made /run/mount
            mount --rbind "$src" "$dst"
        else
            touch "$dst"
            mount --bind "$src" "$dst"
        fi
    done < <(find "$saved" -mindepth 1 -maxdepth 1 -printf '%f\0')
    umount -l "$saved"
}
mimic /run snapd
mkdir -p -m 0755 /run/snapd  # in the tmpfs: absent on a host where snapd never ran
# snapd's snap-confine moves each app into a freezer cgroup it creates on a
# cgroup v1 host (/sys/fs/cgroup/freezer/snap.NAME, on the machine, outside
# any mount namespace). Show it the unified (v2) hierarchy instead, as on a
# default Debian 12 host: it then leaves cgroups alone (and does no work we
# do not do either).
if [ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ]; then
    if [ -d /sys/fs/cgroup/unified ]; then
        mount --rbind /sys/fs/cgroup/unified /sys/fs/cgroup
    else
        mount -t cgroup2 cgroup2 /sys/fs/cgroup
    fi
fi
for d in /snap /var/snap /var/lib/snapd /run/snapd; do
    mount -t tmpfs -o mode=0755 tmpfs "$d"
done
mkdir -p /var/lib/snapd/mount /var/lib/snapd/seccomp/bpf /var/lib/snapd/cookie /var/lib/snapd/hostfs
mkdir -m 0111 /var/lib/snapd/void

# The base (busybox, the mount points snap-confine needs) and the app snap.
mkdir -p "$W/base" "$W/app/meta" "$W/app/bin"
for d in bin dev etc home root proc sys tmp var/snap var/lib/snapd/hostfs var/tmp var/log run \
    lib/modules usr/src usr/lib/snapd media snap mnt etc/alternatives; do
    mkdir -p "$W/base/$d"
done
echo "passwd: files" > "$W/base/etc/nsswitch.conf"
cp /bin/busybox "$W/base/bin/busybox"
for c in sh true cat ls readlink; do ln -s busybox "$W/base/bin/$c"; done
printf 'name: hello\nversion: 1\napps:\n  hello:\n    command: bin/hello\n' > "$W/app/meta/snap.yaml"
printf '#!/bin/sh\nexit 0\n' > "$W/app/bin/hello"
chmod 0755 "$W/app/bin/hello"
mksquashfs "$W/base" "$W/core.snap" -noappend -quiet -all-root >/dev/null
mksquashfs "$W/app" "$W/hello.snap" -noappend -quiet -all-root >/dev/null
mkdir -p /snap/core/x1 /snap/hello/x1
mount -t squashfs -o ro,nodev "$W/core.snap" /snap/core/x1
mount -t squashfs -o ro,nodev "$W/hello.snap" /snap/hello/x1
ln -s x1 /snap/core/current
ln -s x1 /snap/hello/current

# An unrestricted seccomp profile in both formats: .bin for snapd 2.57, .bin2
# (128-byte header, flags bit 0 = unrestricted, no programs) for ours.
echo '@unrestricted' > /var/lib/snapd/seccomp/bpf/snap.hello.hello.src
/usr/lib/snapd/snap-seccomp compile /var/lib/snapd/seccomp/bpf/snap.hello.hello.src \
    /var/lib/snapd/seccomp/bpf/snap.hello.hello.bin
python3 -c "import sys; open(sys.argv[1],'wb').write(b'SC\x01\x01' + bytes(124))" \
    /var/lib/snapd/seccomp/bpf/snap.hello.hello.bin2

# The floor (refrun's floor.c): enter the preserved namespace, exec the app.
gcc -O2 -static -o "$W/floor" "$HERE/floor.c"
# Peak memory of a launch, measured from a small static parent (maxrss.c).
gcc -O2 -static -o "$W/maxrss" "$HERE/maxrss.c"

# --scale: MANY more snaps, snap0 ... snapN-1, each the same image (a bind of
# hello's) with its own seccomp profiles.
if [ "$MODE" = scale ]; then
    for ((i = 0; i < MANY; i++)); do
        mkdir -p "/snap/snap$i/x1"
        mount --bind /snap/hello/x1 "/snap/snap$i/x1"
        ln -s x1 "/snap/snap$i/current"
        for ext in src bin bin2; do
            cp "/var/lib/snapd/seccomp/bpf/snap.hello.hello.$ext" "/var/lib/snapd/seccomp/bpf/snap.snap$i.hello.$ext"
        done
    done
fi

if [ "$MODE" = shell ]; then
    export SNAP_INSTANCE_NAME=hello SNAP_NAME=hello SNAP=/snap/hello/x1 SNAP_REVISION=x1
    exec bash -c "$SHELL_CMD"
fi
exec python3 "$HERE/bench.py"
