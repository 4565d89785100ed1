#!/bin/sh
# Installs, once, every Debian package the tests use, so that no test installs anything while it
# runs. Run by `npm test` (and so by .ci/run) before the suite. Idempotent: when every package is
# present it costs one dpkg-query and changes nothing; `apt-get update` only runs when one is missing.
# A package that cannot be installed (no root, no archive) is reported here and the tests that need
# it are skipped with the reason (see the skip summary at the end of the run): this script never fails
# the run on its own.
#
# Add a package on a line of its own, with what needs it.
set -u

# A quoted here-document: comments may hold any character (an apostrophe in a quoted string once
# turned the rest of the list into commands).
PACKAGES=$(cat <<'EOF'
busybox-static   # the rootfs every container test runs (scripts/make-rootfs.sh)
util-linux       # setpriv, unshare, nsenter, mount
bsdutils         # script: tests that need a terminal
passwd           # useradd/userdel: rootless tests
python3          # exec-terminal: unix datagram and fd-passing helpers
tar
zstd             # images-unpack: zstd layers
gcc              # security tests compile syscall probes and a seccomp agent
libc6-dev        # headers for gcc; with linux-libc-dev, the x86 syscall tables (seccomp-tables)
linux-libc-dev-armhf-cross  # seccomp-tables: the ARM syscall numbers to check ours against
iproute2         # network tests: ip netns, veths
nftables         # network tests: the firewall lives in a test netns
iptables         # net-iptables: the iptables backend
docker-registry  # images-registry: a local registry (distribution)
apache2-utils    # htpasswd: the registry that wants basic auth
skopeo           # image fixtures: docker-archive and registry copies
umoci            # image fixtures: OCI layouts made locally
podman           # e2e podman, images-archive, build-dock comparisons
buildah          # test/bench/build-dock.mjs: the builder dock's build is compared with
conmon
uidmap
containerd       # e2e containerd (ctr)
runc             # the reference runtime for comparisons
crun
dbus-daemon      # cgroups-systemd: a private bus for the fake systemd manager
debootstrap      # images-bootstrap, build-debian, test:v2 (the guest image)
qemu-system-x86  # test:v2 (scripts/vm): boots the pure cgroup v2 guest
e2fsprogs        # test:v2: mkfs.ext4 -d makes its disks
docker-compose   # compose comparisons
zsh              # cli-docs: the zsh completion script loads and completes
fish             # cli-docs: the fish completion script loads and completes
man-db           # cli-docs: man finds the generated pages
openssl          # dock-extra-ca: a CA and a TLS server for NODE_EXTRA_CA_CERTS
docker.io        # api-docker-cli: the docker CLI (/usr/bin/docker) against dock system service; its daemon is never started
EOF
)

pkgs=$(printf '%s\n' "$PACKAGES" | sed 's/#.*//' | tr -s ' \n' '\n' | grep -v '^$')

# One dpkg-query for all: a package it does not list as installed ("ii") is missing.
# shellcheck disable=SC2086
installed=$(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' $pkgs 2>/dev/null | awk '$1 == "ii" { print $2 }')
missing=''
for p in $pkgs; do
  printf '%s\n' "$installed" | grep -qx "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "test-setup: not root, cannot install:$missing (tests that need them will be skipped)" >&2
  exit 0
fi

echo "test-setup: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt() { apt-get -o DPkg::Lock::Timeout=600 -y -qq "$@" >/dev/null; }
# Packages with daemons (docker.io, containerd) must not start them on this machine: while we
# install, invoke-rc.d is told no (unless the machine has its own policy already).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt update || echo "test-setup: apt-get update failed" >&2
# shellcheck disable=SC2086
if ! apt install --no-install-recommends $missing; then
  # One package the archive lacks must not keep the others out.
  for p in $missing; do apt install --no-install-recommends "$p" || echo "test-setup: could not install $p (tests that need it will be skipped)" >&2; done
fi
exit 0
