#!/bin/sh
# Make a busybox rootfs for the example bundle and the tests from Debian's busybox-static
# (installed here when missing). Usage: make-rootfs.sh DIR
set -eu
dir=${1:?usage: make-rootfs.sh DIR}
busybox=/bin/busybox
# Debian's busybox-static: one static binary that works inside any rootfs.
if [ ! -x "$busybox" ] || ! ldd "$busybox" 2>&1 | grep -q 'not a dynamic'; then
  if [ "$(id -u)" != 0 ]; then echo "make-rootfs: busybox-static is missing: apt-get install busybox-static" >&2; exit 1; fi
  echo "make-rootfs: installing busybox-static" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq busybox-static >/dev/null 2>&1 || { apt-get update -qq >/dev/null && apt-get install -y -qq busybox-static >/dev/null; }
fi
[ -x "$dir/bin/busybox" ] && exit 0
tmp="$dir.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp/bin" "$tmp/etc" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/root" "$tmp/home" "$tmp/var" "$tmp/run"
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
done
mkdir -p "$tmp/usr"; ln -s ../bin "$tmp/usr/bin"; ln -s bin "$tmp/sbin"; ln -s ../bin "$tmp/usr/sbin"
chmod 1777 "$tmp/tmp"
cat > "$tmp/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
user:x:1000:1000:user:/home/user:/bin/sh
P
cat > "$tmp/etc/group" <<'G'
root:x:0:
daemon:x:1:
users:x:100:
nogroup:x:65534:
user:x:1000:
G
echo skiff > "$tmp/etc/hostname"
mkdir -p "$(dirname "$dir")"
mv "$tmp" "$dir"
