#!/bin/sh
# Runs inside the test guest from the project disk (/skiff), started by the image's skiff-v2-run:
# waits for systemd to finish booting, says what the guest is, runs the tier's vitest config.
# Its exit code is the tier's result.
export PATH=/skiff/.vm/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true NO_COLOR=1
state=$(timeout 180 systemctl is-system-running --wait 2>&1)
echo "skiff-v2: systemd $(systemctl --version | head -1 | cut -d' ' -f2) is $state; kernel $(uname -r); /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)"
echo "skiff-v2: root controllers: $(cat /sys/fs/cgroup/cgroup.controllers); delegated: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
[ "$state" = running ] || systemctl --failed --no-legend --plain | sed 's/^/skiff-v2: failed unit: /'
# The image's own containerd service is not used (test/v2/containerd.test.ts starts one with a
# private root): stop it, so it takes no CPU from the tests.
systemctl stop containerd.service 2>/dev/null
# podman runs skiff (#!/usr/bin/env node) with its own PATH: node must be in /usr/bin (where an unset PATH looks).
ln -sf /skiff/.vm/bin/node /usr/bin/node
cd /skiff || exit 1
# shellcheck disable=SC2046
exec node node_modules/vitest/vitest.mjs run --config test/v2/vitest.config.mts $(cat .vm/args 2>/dev/null)
