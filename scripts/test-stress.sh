#!/bin/sh
# The suite with a CPU hog beside it: HOGS busy loops (default 4) run for the whole of `npm test`,
# then are killed by their pids. Tests must wait on conditions, not on time: this shows where one
# does not. Usage: npm run test:stress [-- vitest args]; HOGS=8 npm run test:stress
set -u
cd "$(dirname "$0")/.."
n=${HOGS:-4}
pids=''
stop() {
  for p in $pids; do kill "$p" 2>/dev/null; done
  pids=''
}
trap 'stop; exit 130' INT TERM
i=0
while [ "$i" -lt "$n" ]; do
  sh -c 'while :; do :; done' &
  pids="$pids $!"
  i=$((i + 1))
done
echo "test:stress: $n busy loops beside the suite (pids$pids), load before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
npm test -- "$@"
rc=$?
stop
echo "test:stress: exit $rc after $(($(date +%s) - start)) s with $n busy loops; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
