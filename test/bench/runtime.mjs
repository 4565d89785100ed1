// skiff beside runc and crun, same bundle, same machine, one run: `run` of `true`, and
// create + start + delete of `sleep`. Prints medians and the ratios to runc.
// Usage: sudo node test/bench/runtime.mjs [iterations]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 20);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });

const which = (cmd) => ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'].map((d) => join(d, cmd)).find(existsSync);
const runtimes = [
  ['skiff', join(root, 'bin/skiff')],
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

function time(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

// stdio to /dev/null: a created container inherits it, and a pipe would not close until it exits.
function must(bin, args) {
  const r = spawnSync(bin, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} exited ${r.status}`);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const trueBundle = bundle(['true']);
const sleepBundle = bundle(['sleep', '60']);
const results = {};
const unavailable = {};
for (const [name, bin] of runtimes) {
  const state = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const g = ['--root', state];
  // A runtime that cannot run here (crun 1.8 refuses hybrid hosts with v2 controllers) is reported, not timed.
  const probe = spawnSync(bin, [...g, 'run', '--bundle', trueBundle, 'probe'], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (probe.status !== 0) {
    unavailable[name] = probe.stderr.trim().split('\n').pop();
    spawnSync(bin, [...g, 'delete', '--force', 'probe'], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
    continue;
  }
  const run = [];
  const lifecycle = [];
  for (let i = 0; i < N; i++) {
    run.push(time(() => must(bin, [...g, 'run', '--bundle', trueBundle, `r${i}`])));
    must(bin, [...g, 'delete', '--force', `r${i}`]); // runc/crun keep nothing after run; skiff neither: no-op
  }
  for (let i = 0; i < N; i++) {
    lifecycle.push(
      time(() => {
        must(bin, [...g, 'create', '--bundle', sleepBundle, `c${i}`]);
        must(bin, [...g, 'start', `c${i}`]);
        must(bin, [...g, 'delete', '--force', `c${i}`]);
      }),
    );
  }
  results[name] = { run: median(run), lifecycle: median(lifecycle) };
  rmSync(state, { recursive: true, force: true });
}
rmSync(trueBundle, { recursive: true, force: true });
rmSync(sleepBundle, { recursive: true, force: true });

const node0 = median(Array.from({ length: 10 }, () => time(() => spawnSync(process.execPath, ['-e', '0']))));
console.log(`iterations: ${N}; node -e 0 (floor of a Node CLI): ${node0.toFixed(1)} ms`);
console.log('runtime   run true (ms)   create+start+delete (ms)   ratio to runc (run / lifecycle)');
for (const [name, r] of Object.entries(results)) {
  const base = results.runc;
  const ratio = base ? `${(r.run / base.run).toFixed(2)} / ${(r.lifecycle / base.lifecycle).toFixed(2)}` : 'n/a';
  console.log(`${name.padEnd(9)} ${r.run.toFixed(1).padStart(13)}   ${r.lifecycle.toFixed(1).padStart(24)}   ${ratio}`);
}
for (const [name, why] of Object.entries(unavailable)) console.log(`${name.padEnd(9)} cannot run on this host: ${why}`);
