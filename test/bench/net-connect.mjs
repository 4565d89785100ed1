// Bench: what bridge networking with one port mapping costs, inside a network namespace made for the
// bench (the machine's own interfaces and firewall are never touched).
//
//   node test/bench/net-connect.mjs [iterations]        (root; npm run build first)
//
// dock: the network library in-process (bundled from src/ with esbuild): connect a fresh netns to
// a user-defined bridge network and publish 8080:80, then detach; time per step and the processes
// each step spawned (the library counts every spawn it makes;
// cross-checked with strace in the README's numbers).
// podman: `podman run --rm --network bridge -p 8080:80 IMAGE true` against `--network none`, run
// inside the same kind of namespace (podman's netavark makes its bridge and rules there); the
// difference is what podman's networking adds to a run.
//
// Prints medians and means. No thresholds: a benchmark, not a test.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 20);
const repo = join(import.meta.dirname, '..', '..');
const work = mkdtempSync('/tmp/sknb-');
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();
const nsName = `skiff-b-${process.pid}`;
const nsPath = `/run/netns/${nsName}`;
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
const fmt = (a) => `median ${median(a).toFixed(1)} ms, mean ${mean(a).toFixed(1)} ms (n=${a.length})`;

// The library, bundled once from the sources, where the bundle finds the addon (../../../build)
// and the helper scripts (../../../dist) as a test bundle does.
const esbuild = await import('esbuild');
const cache = join(repo, 'node_modules', '.cache', 'skiff-test');
mkdirSync(cache, { recursive: true });
const lib = join(cache, `net-bench-${process.pid}.cjs`);
await esbuild.build({ entryPoints: [join(repo, 'src/engine/network/index.ts')], outfile: lib, bundle: true, platform: 'node', format: 'cjs', external: ['better-sqlite3'], logLevel: 'error' });
const { createRequire } = await import('node:module');
const require = createRequire(join(repo, 'package.json'));
const net = require(lib);
const { openDb } = require(await (async () => {
  const out = join(cache, `db-bench-${process.pid}.cjs`);
  await esbuild.build({ entryPoints: [join(repo, 'src/engine/store/db.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs', external: ['better-sqlite3'], logLevel: 'error' });
  return out;
})());

sh('ip', ['netns', 'add', nsName]);
sh('ip', ['-n', nsName, 'link', 'set', 'lo', 'up']);
const holders = [];
try {
  // dock and podman iterations are interleaved, so that both see the same machine load.
  const mgr = new net.NetworkManager({ db: openDb(join(work, 'images.db')), root: work, hostNetns: nsPath });
  await mgr.createNetwork({ name: 'bench', subnet: '10.99.0.0/24' });
  const connectMs = [];
  const publishMs = [];
  const detachMs = [];
  const spawns = { connect: [], publish: [], detach: [] };
  async function dockOnce(i) {
    const holder = spawnSync('sh', ['-c', 'unshare --net sleep 120 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    const pid = Number(holder.stdout.trim());
    holders.push(pid);
    for (let k = 0; k < 50 && sh('readlink', [`/proc/${pid}/ns/net`]) === sh('readlink', ['/proc/self/ns/net']); k++) spawnSync('sleep', ['0.02']);
    const c = { id: `bench${i}`, name: `bench${i}`, netnsPath: `/proc/${pid}/ns/net` };
    let s0 = net.spawnCount();
    let t0 = performance.now();
    await mgr.connect(c, 'bench');
    connectMs.push(performance.now() - t0);
    spawns.connect.push(net.spawnCount() - s0);
    s0 = net.spawnCount();
    t0 = performance.now();
    await mgr.publishPorts(c, net.parsePortSpec('8080:80'));
    publishMs.push(performance.now() - t0);
    spawns.publish.push(net.spawnCount() - s0);
    s0 = net.spawnCount();
    t0 = performance.now();
    await mgr.detachContainer(c.id);
    detachMs.push(performance.now() - t0);
    spawns.detach.push(net.spawnCount() - s0);
    process.kill(pid, 'SIGKILL');
  }

  const podmanOk = spawnSync('sh', ['-c', 'command -v podman'], { stdio: 'ignore' }).status === 0;
  const pod = ['--root', join(work, 'podman', 'root'), '--runroot', join(work, 'podman', 'run'), '--tmpdir', join(work, 'podman', 'tmp')];
  const podman = (args) => spawnSync('nsenter', [`--net=${nsPath}`, 'podman', ...pod, ...args], { encoding: 'utf8', timeout: 120_000 });
  // crun (podman's default here) refuses hybrid cgroup hosts; runc, podman's other runtime, works.
  const ul = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', '--runtime', 'runc'];
  const run = (netArgs) => {
    const t0 = performance.now();
    const r = podman(['run', '--rm', ...ul, ...netArgs, 'bench/net:1', 'true']);
    if (r.status !== 0) throw new Error(`podman run ${netArgs.join(' ')}: ${r.stderr}`);
    return performance.now() - t0;
  };
  let backend = '';
  if (podmanOk) {
    backend = podman(['info', '--format', '{{.Host.NetworkBackend}}']).stdout.trim();
    const imp = spawnSync('sh', ['-c', `tar -C ${join(repo, 'test/.rootfs')} -c . | nsenter --net=${nsPath} podman ${pod.join(' ')} import - bench/net:1`], { encoding: 'utf8' });
    if (imp.status !== 0) throw new Error(`podman import: ${imp.stderr}`);
    run(['--network', 'none']);
    run(['--network', 'bridge', '-p', '8080:80']);
  }
  const none = [];
  const bridge = [];
  const loadStart = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  for (let i = 0; i < N; i++) {
    await dockOnce(i);
    if (podmanOk) {
      none.push(run(['--network', 'none']));
      bridge.push(run(['--network', 'bridge', '-p', '8080:80']));
    }
  }
  await mgr.removeNetwork('bench');
  const total = connectMs.map((x, i) => x + publishMs[i]);
  console.log(`load average ${loadStart} -> ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]} (2 cores); firewall backend: ${mgr.firewallBackend()}`);
  console.log(`dock connect (veth, address, route; netlink):   ${fmt(connectMs)}; processes spawned: ${[...new Set(spawns.connect)].join('/')}`);
  console.log(`dock publish 8080:80 (proxy + nft rules):       ${fmt(publishMs)}; processes spawned: ${[...new Set(spawns.publish)].join('/')}`);
  console.log(`dock connect + publish:                         ${fmt(total)}`);
  console.log(`dock detach (rules, proxy, veth, address):      ${fmt(detachMs)}; processes spawned: ${[...new Set(spawns.detach)].join('/')}`);
  if (!podmanOk) {
    console.log('podman: not installed, skipped');
  } else {
    const added = median(bridge) - median(none);
    console.log(`podman network backend: ${backend}`);
    console.log(`podman run --network none:                      ${fmt(none)}`);
    console.log(`podman run --network bridge -p 8080:80:         ${fmt(bridge)}`);
    console.log(`podman: networking adds (median difference)     ${added.toFixed(1)} ms`);
    console.log(`ratio dock connect+publish / podman's addition: ${(median(total) / added).toFixed(3)}`);
    podman(['rmi', '-af']); // not `system reset`: it wipes /run/libpod for every podman on the machine
  }
} finally {
  for (const pid of holders) spawnSync('kill', ['-9', String(pid)]);
  for (const p of spawnSync('ip', ['netns', 'pids', nsName], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) spawnSync('kill', ['-9', p]);
  spawnSync('ip', ['netns', 'del', nsName]);
  rmSync(work, { recursive: true, force: true });
  rmSync(lib, { force: true });
  rmSync(join(cache, `db-bench-${process.pid}.cjs`), { force: true });
}
