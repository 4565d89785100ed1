// Bench: `dock run --rm IMAGE true`, `dock ps -a` and `dock exec C true` against podman's (podman
// with its default runtime) on the same locally made busybox image, interleaved, in private roots,
// dock with the warm server and on Node (SKIFF_SERVER=0); then the memory (RSS) of dock's supervisor
// per running container beside podman's conmon.
//
//   node test/bench/dock-run.mjs [iterations]        (root; the packages of scripts/test-setup.sh)
//
// podman runs with --ulimit nofile=/nproc=<ours>: its default rlimits need CAP_SYS_RESOURCE,
// which a sandboxed host may lack (dock sets no rlimit unless asked, as Docker).
//
// Prints medians and means and the ratios. No thresholds: a benchmark, not a test.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 20);
const repo = join(import.meta.dirname, '..', '..');
// bin/dock, as a user runs it: NODE_EXTRA_CA_CERTS set aside, then the bundle through
// bin/launch.js (code cache, early exit).
const DOCK = join(repo, 'bin', 'dock');

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
// podman, umoci, skopeo and busybox-static come from scripts/test-setup.sh; the bench installs nothing.
const missing = ['podman', 'umoci', 'skopeo', 'busybox'].filter((c) => !has(c));
if (missing.length) {
  console.error(`dock-run.mjs: missing ${missing.join(', ')}: run scripts/test-setup.sh (as root) first`);
  process.exit(1);
}

const work = mkdtempSync('/tmp/dkb-');
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();

// The image: busybox with its applets, as a docker-archive both engines load.
const layout = join(work, 'oci');
sh('umoci', ['init', '--layout', layout]);
sh('umoci', ['new', '--image', `${layout}:b`]);
sh('umoci', ['unpack', '--image', `${layout}:b`, join(work, 'bundle')]);
const r = join(work, 'bundle', 'rootfs');
for (const d of ['bin', 'etc', 'tmp']) mkdirSync(join(r, d), { recursive: true });
copyFileSync('/bin/busybox', join(r, 'bin/busybox'));
chmodSync(join(r, 'bin/busybox'), 0o755);
for (const a of sh('/bin/busybox', ['--list']).split('\n').filter(Boolean)) if (a !== 'busybox') symlinkSync('busybox', join(r, 'bin', a));
writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
sh('umoci', ['repack', '--image', `${layout}:b`, join(work, 'bundle')]);
sh('umoci', ['config', '--image', `${layout}:b`, '--config.cmd', 'sh', '--config.env', 'PATH=/bin', '--architecture', 'amd64', '--os', 'linux']);
const archive = join(work, 'b.tar');
sh('skopeo', ['copy', '--quiet', `oci:${layout}:b`, `docker-archive:${archive}:bench/busybox:1`]);
const IMAGE = 'bench/busybox:1';
// podman's default rlimits (RLIMIT_NOFILE 1048576, RLIMIT_NPROC) need CAP_SYS_RESOURCE, which a
// sandboxed host may lack: give it small ones (dock sets none unless asked, as Docker does).
const ULIMIT = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

const dockRoot = join(work, 'dock');
const dock = (args, opts = {}, server = '') => spawnSync(DOCK, args, { env: { ...process.env, DOCK_ROOT: dockRoot, SKIFF_SERVER: server }, encoding: 'utf8', ...opts });
const dockNode = (args) => dock(args, {}, '0');
const pod = ['--root', join(work, 'podman', 'root'), '--runroot', join(work, 'podman', 'run'), '--tmpdir', join(work, 'podman', 'tmp')];
const podman = (args, opts = {}) => spawnSync('podman', [...pod, ...args], { encoding: 'utf8', ...opts });

function check(r, what) {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
check(dock(['load', '-q', '-i', archive]), 'dock load');
check(podman(['load', '-q', '-i', archive]), 'podman load');
// podman's default runtime (crun on Debian) refuses hybrid cgroup hosts ("cgroups in hybrid mode not
// supported"): then the bench uses runc, podman's other runtime, and says so.
let RUNTIME = [];
{
  const probe = podman(['run', '--rm', ...ULIMIT, '--network', 'none', IMAGE, 'true']);
  if (probe.status !== 0) {
    if (!/hybrid mode/.test(probe.stderr)) throw new Error(`podman run failed: ${probe.stderr}`);
    RUNTIME = ['--runtime', 'runc'];
  }
}
const runtime = podman(['info', '--format', '{{.Host.OCIRuntime.Name}} {{.Host.OCIRuntime.Version}}']).stdout.trim().split('\n')[0] + (RUNTIME.length ? ' unusable here (hybrid cgroups): runc' : '');

// CPU of a call: what this process's waited-for children used (cutime + cstime), plus, for a call
// the warm server serves, what the server used meanwhile (its threads and the children it reaped).
// Neither counts the per-container keeper and what it starts (podman's conmon and runtime, dock's
// supervisor and skiff-init): they are detached, nobody here waits for them.
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
const ticks = (pid, from) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ').slice(from, from + 4).map(Number);
function server() {
  const dir = '/run/skiff-server';
  for (const f of existsSync(dir) ? readdirSync(dir).filter((e) => e.endsWith('.lock')) : []) {
    const pid = readFileSync(join(dir, f), 'utf8').trim();
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === join(repo, 'bin', 'skiff-server.js')) return pid;
    } catch {
      /* gone */
    }
  }
  return undefined;
}
function cpu(fn) {
  const srv = server();
  const [, , cu0, cs0] = ticks('self', 11);
  const s0 = srv ? ticks(srv, 11) : [0, 0, 0, 0];
  fn();
  const [, , cu1, cs1] = ticks('self', 11);
  const s1 = srv && existsSync(`/proc/${srv}`) ? ticks(srv, 11) : s0;
  return (cu1 - cu0 + cs1 - cs0 + s1.reduce((a, b) => a + b, 0) - s0.reduce((a, b) => a + b, 0)) * TICK_MS;
}

function time(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0] };
};

// One running container each for exec.
check(dock(['run', '-d', '--name', 'exec-target', '--network', 'none', IMAGE, 'sleep', '600']), 'dock run -d');
check(podman(['run', '-d', '--name', 'exec-target', ...RUNTIME, ...ULIMIT, '--network', 'none', IMAGE, 'sleep', '600']), 'podman run -d');
const cases = {
  'podman run --rm --network none': () => check(podman(['run', '--rm', ...RUNTIME, ...ULIMIT, '--network', 'none', IMAGE, 'true']), 'podman run'),
  'dock run --rm --network none': () => check(dock(['run', '--rm', '--network', 'none', IMAGE, 'true']), 'dock run'),
  'dock run --rm (SKIFF_SERVER=0)': () => check(dockNode(['run', '--rm', '--network', 'none', IMAGE, 'true']), 'dock run'),
  'podman ps -a': () => check(podman(['ps', '-a']), 'podman ps'),
  'dock ps -a': () => check(dock(['ps', '-a']), 'dock ps'),
  'dock ps -a (SKIFF_SERVER=0)': () => check(dockNode(['ps', '-a']), 'dock ps'),
  'podman exec C true': () => check(podman(['exec', 'exec-target', 'true']), 'podman exec'),
  'dock exec C true': () => check(dock(['exec', 'exec-target', 'true']), 'dock exec'),
  'dock exec C true (SKIFF_SERVER=0)': () => check(dockNode(['exec', 'exec-target', 'true']), 'dock exec'),
};
// Warm-up (page cache, first-run setup), then interleaved rounds.
for (const f of Object.values(cases)) f();
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
const cpus = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < N; i++)
  for (const [k, f] of Object.entries(cases)) {
    let ms = 0;
    cpus[k].push(cpu(() => (ms = time(f))));
    times[k].push(ms);
  }

console.log(`dock vs podman (${N} interleaved runs each; podman's runtime: ${runtime})`);
for (const [k, xs] of Object.entries(times)) {
  const s = stats(xs);
  console.log(`  ${k.padEnd(36)} median ${s.median.toFixed(0)} ms   mean ${s.mean.toFixed(0)} ms   min ${s.min.toFixed(0)} ms   cpu ${stats(cpus[k]).mean.toFixed(0)} ms`);
}
// Each dock case against podman's for the same verb, by the mean and by the median.
for (const k of Object.keys(cases).filter((c) => c.startsWith('dock'))) {
  const verb = k.split(' ')[1];
  const p = stats(times[Object.keys(cases).find((c) => c.startsWith(`podman ${verb}`))]);
  const s = stats(times[k]);
  const pc = stats(cpus[Object.keys(cases).find((c) => c.startsWith(`podman ${verb}`))]).mean;
  console.log(`  ratio ${k.padEnd(36)} / podman's: ${(s.mean / p.mean).toFixed(2)}x mean, ${(s.median / p.median).toFixed(2)}x median, ${(stats(cpus[k]).mean / pc).toFixed(2)}x cpu`);
}

// Memory of the per-container keeper: dock's supervisor and podman's conmon, K containers each.
const K = 5;
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
function pidsOf(pred) {
  const out = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (pred(readFileSync(`/proc/${p}/cmdline`, 'utf8'))) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}
for (let i = 0; i < K; i++) {
  check(dock(['run', '-d', '--network', 'none', IMAGE, 'sleep', '600']), 'dock run -d');
  check(podman(['run', '-d', ...RUNTIME, ...ULIMIT, '--network', 'none', IMAGE, 'sleep', '600']), 'podman run -d');
}
const sups = pidsOf((c) => c.startsWith(join(repo, 'build/Release/skiff-supervisor')) && c.includes(dockRoot + '/'));
const conmons = pidsOf((c) => c.split('\0')[0].endsWith('conmon') && c.includes(join(work, 'podman')));
const avg = (ps) => ps.map(rss).reduce((a, b) => a + b, 0) / Math.max(1, ps.length);
console.log(`RSS per running container (${K} containers each):`);
console.log(`  skiff-supervisor  ${avg(sups).toFixed(0)} KiB  (${sups.length} processes)`);
console.log(`  conmon            ${avg(conmons).toFixed(0)} KiB  (${conmons.length} processes)`);

// Clean up everything we made.
const ids = dock(['ps', '-aq']).stdout.split('\n').filter(Boolean);
if (ids.length) dock(['rm', '-f', ...ids]);
// (No `podman system reset`: it may reach state shared with other podman users on this machine.)
podman(['rm', '-f', '-a', '-t', '0']);
podman(['rmi', '-a', '-f']);
// podman's overlay driver keeps its storage directory mounted (a private bind): unmount what is left,
// lazily when still busy. Its storage may be mounted again a moment after rm (seen once): bounded
// retries until the tree is gone.
for (let tries = 0; ; tries++) {
  const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p && p.startsWith(work + '/'));
  for (const m of left.sort().reverse()) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  try {
    rmSync(work, { recursive: true, force: true });
    break;
  } catch (e) {
    if (e.code !== 'EBUSY' || tries >= 20) throw e;
    spawnSync('sleep', ['0.1']);
  }
}
