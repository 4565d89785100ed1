// skiff beside runc for the cgroup commands on one running container each: `update --memory`
// (alternating two limits, so every call writes) and `events --stats`. Same bundle config, same
// rootfs, each runtime with its own --root and bundle directory. Prints medians and the ratios
// to runc; never asserts timings.
// Usage: sudo node test/bench/cgroups.mjs [iterations]
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 30);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });

const which = (cmd) => ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'].map((d) => join(d, cmd)).find(existsSync);
const runtimes = [
  ['skiff', join(root, 'bin/skiff')],
  ['runc', which('runc')],
  ['crun', which('crun')],
].filter(([, path]) => path);

function bundle() {
  const cfg = JSON.parse(readFileSync(join(root, 'bundles/busybox/config.json'), 'utf8'));
  cfg.root = { path: rootfs, readonly: true };
  cfg.process.args = ['sleep', '600'];
  cfg.ociVersion = '1.0.2'; // Debian 12's crun refuses "1.3.0" ("unknown version specified")
  cfg.linux.resources.memory = { limit: 64 << 20 };
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-cg-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

function must(bin, args) {
  const r = spawnSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: exit ${r.status} ${r.stderr ?? ''}`);
  return r.stdout;
}

function time(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
const skipped = {};
const id = `bench-cg-${process.pid}`;
for (const [name, bin] of runtimes) {
  const state = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const dir = bundle();
  const g = ['--root', state];
  try {
    // The container inherits the runtime's stdio: a file, not a pipe, or we would wait for it.
    const errFile = join(dir, 'run.err');
    const errFd = openSync(errFile, 'w');
    const started = spawnSync(bin, [...g, 'run', '--detach', '--bundle', dir, id], { stdio: ['ignore', 'ignore', errFd], timeout: 30_000 });
    closeSync(errFd);
    if (started.status !== 0) {
      // e.g. crun 1.8 on a hybrid cgroup host: "cgroups in hybrid mode not supported"
      skipped[name] = (readFileSync(errFile, 'utf8') || `exit ${started.status}`).trim().split('\n')[0];
      continue;
    }
    const update = [];
    const stats = [];
    for (let i = 0; i < N; i++) update.push(time(() => must(bin, [...g, 'update', '--memory', i % 2 ? '48m' : '56m', id])));
    for (let i = 0; i < N; i++) {
      stats.push(
        time(() => {
          const ev = JSON.parse(must(bin, [...g, 'events', '--stats', id]));
          if (ev.type !== 'stats') throw new Error(`${name} events --stats printed ${JSON.stringify(ev).slice(0, 80)}`);
        }),
      );
    }
    results[name] = { update: median(update), stats: median(stats) };
  } finally {
    spawnSync(bin, [...g, 'delete', '--force', id], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

const node0 = median(Array.from({ length: 10 }, () => time(() => spawnSync(process.execPath, ['-e', '0']))));
console.log(`iterations: ${N}; node -e 0 (floor of a Node CLI): ${node0.toFixed(1)} ms`);
console.log('runtime   update --memory (ms)   events --stats (ms)   ratio to runc (update / stats)');
for (const [name, r] of Object.entries(results)) {
  const base = results.runc;
  const ratio = base ? `${(r.update / base.update).toFixed(2)} / ${(r.stats / base.stats).toFixed(2)}` : 'n/a';
  console.log(`${name.padEnd(9)} ${r.update.toFixed(1).padStart(20)}   ${r.stats.toFixed(1).padStart(19)}   ${ratio}`);
}
for (const [name, why] of Object.entries(skipped)) console.log(`${name.padEnd(9)} not measured: ${why}`);
