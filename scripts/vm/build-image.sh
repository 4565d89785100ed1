#!/bin/sh
# Build (or reuse) the Debian bookworm guest of the pure cgroup v2 test tier: systemd as PID 1,
# Debian's kernel, podman and containerd (with its runc shim). Usage: build-image.sh CACHE_DIR
#
# The result lives outside the git tree in CACHE_DIR/<key>/ (root.img, vmlinuz, initrd.img), where
# <key> is a hash of this script: changing the recipe builds a new image, and a machine without the
# cache (a clean checkout on a new machine) builds it. Everything of the project (build, tests,
# node) goes in per run on a second disk (see run-vm.sh), so the image does not depend on it.
#
# Needs (scripts/test-setup.sh installs them): debootstrap, e2fsprogs (mkfs.ext4 -d).
# Chroot steps run in a private mount namespace (unshare -m): their /proc, /sys and /dev mounts
# vanish with it, whatever happens.
set -eu
cache=${1:?usage: build-image.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
key=$(cat "$0" "$here/guest/"* | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi
mirror=${SKIFF_VM_MIRROR:-http://deb.debian.org/debian}
for tool in debootstrap mkfs.ext4 unshare; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing: run scripts/test-setup.sh" >&2; exit 1; }
done

mkdir -p "$cache"
work="$cache/build.$$"
rm -rf "$work"
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work"
root="$work/root"
log="$work/build.log"
t0=$(date +%s)
say() { echo "build-image: $* ($(( $(date +%s) - t0 )) s)" >&2; }

say "debootstrap bookworm (minbase, systemd)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,udev,dbus,kmod,util-linux,iproute2,procps \
  bookworm "$root" "$mirror" >"$log" 2>&1 || { tail -20 "$log" >&2; echo "build-image: debootstrap failed (log above)" >&2; exit 1; }

say "kernel and podman in the chroot"
cat >"$root/tmp/inside.sh" <<'EOF'
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount --rbind /dev /dev
apt-get -qq update
# initramfs-tools: the stock initrd holds virtio_blk, virtio_pci and ext4.
apt-get -qq install -y --no-install-recommends linux-image-amd64 initramfs-tools podman conmon crun containerd \
  containernetworking-plugins busybox-static e2fsprogs ca-certificates >/dev/null
apt-get -qq clean
rm -rf /var/lib/apt/lists/*
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
unshare -m --propagation private chroot "$root" sh /tmp/inside.sh >>"$log" 2>&1 || { tail -30 "$log" >&2; echo "build-image: chroot install failed (log above)" >&2; exit 1; }
rm -f "$root/tmp/inside.sh"

say "guest configuration"
echo skiff-v2 >"$root/etc/hostname"
: >"$root/etc/resolv.conf"
printf '/dev/vda / ext4 rw,noatime 0 1\n' >"$root/etc/fstab"
# The test runner unit, its script, and podman's configuration (see guest/).
install -m 0755 "$here/guest/skiff-v2-run" "$root/usr/local/sbin/skiff-v2-run"
install -m 0644 "$here/guest/skiff-v2.service" "$root/etc/systemd/system/skiff-v2.service"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants" "$root/etc/containers"
ln -sf /etc/systemd/system/skiff-v2.service "$root/etc/systemd/system/multi-user.target.wants/skiff-v2.service"
install -m 0644 "$here/guest/containers.conf" "$root/etc/containers/containers.conf"
# Nothing else on the console, nothing that waits for a network or a clock.
for u in serial-getty@ttyS0.service getty@tty1.service getty.target systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer \
  e2scrub_all.timer e2scrub_reap.service fstrim.timer podman-restart.service podman-auto-update.timer; do
  ln -sf /dev/null "$root/etc/systemd/system/$u"
done
kver=$(ls "$root/lib/modules" | head -1)
[ -n "$kver" ] && [ -f "$root/boot/vmlinuz-$kver" ] && [ -f "$root/boot/initrd.img-$kver" ] || { echo "build-image: no kernel or initrd in the image" >&2; exit 1; }
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"

say "ext4 image"
size_mb=$(( $(du -sm "$root" | cut -f1) + 1536 ))
truncate -s "${size_mb}M" "$work/root.img"
mkfs.ext4 -q -F -L skiff-v2 -d "$root" "$work/root.img" >>"$log" 2>&1 || { tail -10 "$log" >&2; echo "build-image: mkfs.ext4 failed" >&2; exit 1; }
rm -rf "$root"
rm -rf "$out"
mkdir -p "$out"
mv "$work/root.img" "$work/vmlinuz" "$work/initrd.img" "$out/"
echo "$kver" >"$out/ready"
# Older images of other recipes are removed: only the current one is ever used.
for d in "$cache"/*/; do
  [ "${d%/}" = "$out" ] || case "$(basename "$d")" in build.*) ;; *) rm -rf "$d" ;; esac
done
say "image ready in $out"
echo "$out"
