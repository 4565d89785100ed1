#!/bin/sh
# `npm run test:v2`: the pure cgroup v2 + systemd test tier. Boots a Debian bookworm guest under
# qemu (software emulation: TCG, no KVM needed) with systemd as PID 1 and only the unified cgroup
# hierarchy, runs test/v2/vitest.config.mts inside on real containers, prints vitest's summary,
# powers the guest off and cleans up. Extra arguments go to vitest inside (e.g. a file or -t NAME).
#
#   SKIFF_VM_CACHE    where the guest image is kept between runs (default /var/cache/skiff-vm)
#   SKIFF_VM_TIMEOUT  seconds the guest may run before it is killed (default 1500)
#   SKIFF_V2_OPTIONAL=1  (.ci/run) a host that cannot run the tier (no qemu, mkfs.ext4 or
#                     debootstrap, or no cached image and no Debian mirror to build one) is a skip:
#                     "test:v2: skipped: <reason>" and exit 0; so is a guest image that cannot be built
#                     or a guest that prints no result within the limit. Test failures still fail.
#
# The guest has no network device at all (-nic none). The project goes in on a second disk made
# per run (mkfs.ext4 -d of a hard-linked copy): its build, node_modules, tests and the host's node.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
unavailable() {
  if [ "${SKIFF_V2_OPTIONAL:-}" = 1 ]; then echo "test:v2: skipped: $*" >&2; exit 0; fi
  echo "test:v2: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || unavailable "must run as root (qemu image build with debootstrap)"
sh scripts/test-setup.sh
for tool in qemu-system-x86_64 mkfs.ext4 debootstrap; do
  command -v "$tool" >/dev/null || unavailable "$tool is missing (scripts/test-setup.sh could not install it)"
done
cache=${SKIFF_VM_CACHE:-/var/cache/skiff-vm}
# No cached image (the key is build-image.sh's: a hash of its recipe): building one needs the mirror.
key=$(cat scripts/vm/build-image.sh scripts/vm/guest/* | sha256sum | cut -c1-16)
if [ ! -f "$cache/$key/ready" ]; then
  mirror=${SKIFF_VM_MIRROR:-http://deb.debian.org/debian}
  node -e 'fetch(process.argv[1], { method: "HEAD", signal: AbortSignal.timeout(20000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$mirror/dists/bookworm/Release" ||
    unavailable "no cached guest image in $cache and the Debian mirror $mirror cannot be reached to build one"
fi
limit=${SKIFF_VM_TIMEOUT:-1500}
t0=$(date +%s)
say() { echo "test:v2: $* ($(( $(date +%s) - t0 )) s)" >&2; }

node scripts/build.mjs
sh scripts/make-rootfs.sh test/.rootfs
# A mirror that answers HEAD can still fail a 150 MB debootstrap half-way: that is the host's
# network, not the tier's result.
image=$(sh scripts/vm/build-image.sh "$cache" | tail -1) || unavailable "building the guest image failed (scripts/vm/build-image.sh: the Debian mirror or the disk)"
[ -n "$image" ] && [ -f "$image/root.img" ] && [ -f "$image/vmlinuz" ] || unavailable "building the guest image failed (no root.img/vmlinuz in '$image')"
say "guest image $image"

work=$(mktemp -d /var/tmp/skiff-v2.XXXXXX)
qpid=''
cleanup() {
  [ -n "$qpid" ] && kill -9 "$qpid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The project disk: hard links where possible (same file system), copies otherwise.
p="$work/project"
mkdir -p "$p/.vm/bin" "$p/build" "$p/test"
for d in bin dist node_modules src schemas scripts bundles package.json tsconfig.json; do
  cp -al "$d" "$p/" 2>/dev/null || cp -a "$d" "$p/"
done
cp -al build/Release "$p/build/" 2>/dev/null || cp -a build/Release "$p/build/"
for d in test/*; do
  cp -al "$d" "$p/test/" 2>/dev/null || cp -a "$d" "$p/test/"
done
cp -al test/.rootfs "$p/test/" 2>/dev/null || cp -a test/.rootfs "$p/test/"
cp "$(command -v node)" "$p/.vm/bin/node"
printf '%s ' "$@" >"$p/.vm/args"
size_mb=$(( $(du -sm "$p" | cut -f1) + 512 ))
truncate -s "${size_mb}M" "$work/project.img"
mkfs.ext4 -q -F -L skiff-project -d "$p" "$work/project.img"
rm -rf "$p"
say "project disk ${size_mb} MB"

# -snapshot: the cached image is never written; -nic none: no network at all; -no-reboot: the
# guest's poweroff (or a panic) ends qemu.
# shellcheck disable=SC2046
timeout -k 10 "$limit" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 3072 -display none -monitor none -serial stdio \
  -no-reboot -nic none -snapshot \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -drive "file=$image/root.img,format=raw,if=virtio" \
  -drive "file=$work/project.img,format=raw,if=virtio" \
  -append "console=ttyS0 root=/dev/vda rw panic=-1 quiet loglevel=3 systemd.show_status=0 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
  </dev/null >"$work/console.log" 2>&1 &
qpid=$!
# Show the console as it comes, without the terminal control sequences of the boot (polling, not
# inotify, which was seen to lag by minutes on a loaded machine).
tail ---disable-inotify -s 1 -f --pid="$qpid" "$work/console.log" 2>/dev/null | sed -u 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g' &
tpid=$!
# Once the result is out, the guest's own shutdown gets 90 s; its disks are thrown away anyway.
done_at=''
while kill -0 "$qpid" 2>/dev/null; do
  if [ -z "$done_at" ] && grep -q 'SKIFF-V2-EXIT=' "$work/console.log"; then done_at=$(date +%s); fi
  if [ -n "$done_at" ] && [ $(( $(date +%s) - done_at )) -gt 90 ]; then
    say "the guest did not power off within 90 s of its result: stopping it"
    kill "$qpid" 2>/dev/null || true
  fi
  sleep 1
done
wait "$qpid" 2>/dev/null || true
qpid=''
wait "$tpid" 2>/dev/null || true
rc=$(tr -d '\r' <"$work/console.log" | sed -n 's/.*SKIFF-V2-EXIT=\([0-9]*\).*/\1/p' | tail -1)
if [ -z "$rc" ]; then
  # No result line: the guest did not get through boot and vitest within the limit (a TCG guest on
  # a busy host can take most of it to boot) or crashed. Under SKIFF_V2_OPTIONAL that is reported as
  # what the run did not prove; a result line with failures always fails.
  grep -q 'Test Files' "$work/console.log" && { say "the guest ran tests but printed no result: see the console above"; exit 1; }
  unavailable "the guest printed no result within ${limit} s (boot too slow on this host, or a crash): see the console above"
fi
say "guest exit $rc"
exit "$rc"
