// skiff beside runc and crun, each verb on its own and the lifecycle an engine drives, on the same
// bundle, interleaved (skiff, runc, crun, skiff, ...) so that a busy machine slows all alike.
// Prints means and medians per verb and the ratio of the means to runc's. A benchmark, never a test.
// Usage: sudo node test/bench/runtime.mjs [iterations]
import { spawnSync } from 'node:child_process';
import { existsSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 10);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });

const which = (cmd) => ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'].map((d) => join(d, cmd)).find(existsSync);
// skiff as it ships (create, run and exec served by the warm server, which the probe run starts),
// and with SKIFF_SERVER=0 (each of those calls a Node process of its own).
const candidates = [
  ['skiff', join(root, 'bin/skiff'), { SKIFF_SERVER: '1' }],
  ['skiff-node', join(root, 'bin/skiff'), { SKIFF_SERVER: '0' }],
  ['runc', which('runc')],
  ['crun', which('crun')],
].filter(([, path]) => path);

function bundle(args) {
  const cfg = JSON.parse(readFileSync(join(root, 'bundles/busybox/config.json'), 'utf8'));
  cfg.root = { path: rootfs, readonly: true };
  cfg.process.args = args;
  cfg.ociVersion = '1.0.2'; // crun 1.8 refuses versions it does not know
  // crun 1.8 refuses a cgroup namespace on a hybrid v1/v2 host.
  cfg.linux.namespaces = cfg.linux.namespaces.filter((ns) => ns.type !== 'cgroup');
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

// No pipes: a created container inherits the runtime's stdio, and a pipe would not close until it
// exits. stderr goes to a file, read when a call fails.
const errFile = join(mkdtempSync(join(tmpdir(), 'skiff-bench-')), 'stderr');
const errFd = openSync(errFile, 'w+');
function call(bin, args, env) {
  ftruncateSync(errFd, 0);
  const t = process.hrtime.bigint();
  const r = spawnSync(bin, args, { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, ...env } });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status}: ${readFileSync(errFile, 'utf8').trim()}`);
  return ms;
}

const trueBundle = bundle(['true']);
const sleepBundle = bundle(['sleep', '600']);
const VERBS = ['run', 'create', 'start', 'state', 'list', 'exec', 'kill', 'delete', 'lifecycle'];
const runtimes = [];
const unavailable = {};
for (const [name, bin, env] of candidates) {
  const state = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const g = ['--root', state];
  // A runtime that cannot run here (crun 1.8 refuses hybrid hosts with v2 controllers) is reported, not timed.
  const probe = spawnSync(bin, [...g, 'run', '--bundle', trueBundle, 'probe'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } }); // `true` keeps no pipe
  spawnSync(bin, [...g, 'delete', '--force', 'probe'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    unavailable[name] = probe.stderr.trim().split('\n').pop();
    rmSync(state, { recursive: true, force: true });
    continue;
  }
  runtimes.push({ name, bin, env, g, state, times: Object.fromEntries(VERBS.map((v) => [v, []])) });
}

/** Wait (untimed, bounded) until the container's init is gone, as an engine learns from its shim. */
function waitStopped(rt, id) {
  for (let i = 0; i < 500; i++) {
    const r = spawnSync(rt.bin, [...rt.g, 'state', id], { encoding: 'utf8', env: { ...process.env, ...rt.env } });
    if (r.status !== 0 || JSON.parse(r.stdout).status === 'stopped') return;
  }
  throw new Error(`${rt.name}: ${id} did not stop`);
}

for (let i = 0; i < N; i++) {
  for (const rt of runtimes) {
    const t = rt.times;
    const c = (args) => call(rt.bin, [...rt.g, ...args], rt.env);
    t.run.push(c(['run', '--bundle', trueBundle, `r${i}`]));
    t.create.push(c(['create', '--bundle', sleepBundle, `c${i}`]));
    t.start.push(c(['start', `c${i}`]));
    t.state.push(c(['state', `c${i}`]));
    t.list.push(c(['list']));
    t.exec.push(c(['exec', `c${i}`, 'true']));
    t.kill.push(c(['kill', `c${i}`, 'KILL']));
    waitStopped(rt, `c${i}`);
    t.delete.push(c(['delete', `c${i}`]));
    // What an engine does per container: create, start, a state poll, delete --force.
    t.lifecycle.push(c(['create', '--bundle', sleepBundle, `l${i}`]) + c(['start', `l${i}`]) + c(['state', `l${i}`]) + c(['delete', '--force', `l${i}`]));
  }
}
for (const rt of runtimes) rmSync(rt.state, { recursive: true, force: true });
rmSync(trueBundle, { recursive: true, force: true });
rmSync(sleepBundle, { recursive: true, force: true });
rmSync(join(errFile, '..'), { recursive: true, force: true });

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const node0 = mean(Array.from({ length: 5 }, () => call(process.execPath, ['-e', '0'])));
console.log(`${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${N} iterations, interleaved; node -e 0: ${node0.toFixed(1)} ms`);
console.log('mean ms (median ms), ratio of means to runc');
console.log(['verb'.padEnd(10), ...runtimes.map((r) => r.name.padEnd(25))].join(''));
const base = runtimes.find((r) => r.name === 'runc');
for (const v of VERBS) {
  const cells = runtimes.map((rt) => {
    const m = mean(rt.times[v]);
    const ratio = base ? ` ${(m / mean(base.times[v])).toFixed(2)}×` : '';
    return `${m.toFixed(1)} (${median(rt.times[v]).toFixed(1)})${ratio}`.padEnd(25);
  });
  console.log([v.padEnd(10), ...cells].join(''));
}
for (const [name, why] of Object.entries(unavailable)) console.log(`${name}: cannot run on this host: ${why}`);
