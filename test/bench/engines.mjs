// Engines driving each runtime, one run, interleaved (runc, skiff, crun, runc, ...) on the same
// image and storage: `podman run --rm IMG true` with runc, crun and skiff; `ctr run --rm` with runc
// and skiff where containerd is installed and running; then dock beside podman (dock-run.mjs).
// Prints means and medians and the ratios of the means to runc's. A benchmark, never a test.
// Usage: sudo node test/bench/engines.mjs [iterations]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 10);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });
// podman, crun, containerd come from scripts/test-setup.sh; the bench installs nothing.
if (!existsSync('/usr/bin/podman')) {
  console.error('engines.mjs: podman is missing: run scripts/test-setup.sh (as root) first');
  process.exit(1);
}

const which = (cmd) => ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'].map((d) => join(d, cmd)).find(existsSync);
const runtimes = [
  ['runc', which('runc')],
  ['skiff', join(root, 'bin/skiff')],
  ['crun', which('crun')],
].filter(([, bin]) => bin);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}

/** Time `run(bin)` for each runtime, interleaved; a runtime whose first run fails is reported. */
function compare(title, run) {
  const times = {};
  const errors = {};
  for (const [name, bin] of runtimes) {
    const probe = run(bin);
    if (probe.status !== 0) errors[name] = (probe.stderr || '').trim().split('\n').pop();
    else times[name] = [];
  }
  for (let i = 0; i < N; i++) {
    for (const [name, bin] of runtimes) {
      if (!times[name]) continue;
      const { ms, r } = time(() => run(bin));
      if (r.status !== 0) throw new Error(`${title} with ${name}: ${r.stderr}`);
      times[name].push(ms);
    }
  }
  console.log(`${title}: ${N} interleaved runs each; mean ms (median ms), ratio of means to runc`);
  for (const [name, xs] of Object.entries(times)) {
    const ratio = times.runc ? `${(mean(xs) / mean(times.runc)).toFixed(2)}×` : 'n/a';
    console.log(`  ${name.padEnd(6)} ${mean(xs).toFixed(1).padStart(8)} (${median(xs).toFixed(1)})   ${ratio}`);
  }
  for (const [name, why] of Object.entries(errors)) console.log(`  ${name.padEnd(6)} cannot run here: ${why}`);
}

// podman: private storage, no network, cgroupfs (no systemd here), small rlimits (no CAP_SYS_RESOURCE).
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-engines-'));
const conf = join(dir, 'containers.conf');
writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${join(dir, 'events.log')}"\ntmp_dir = "${join(dir, 'tmp')}"\n`);
const env = { ...process.env, CONTAINERS_CONF: conf };
const podman = (args) => spawnSync('podman', ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args], { env, encoding: 'utf8' });
try {
  execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  podman(['import', join(dir, 'rootfs.tar'), 'localhost/bench:latest']);
  compare('podman run --rm IMG true', (bin) => podman(['--runtime', bin, 'run', '--rm', 'localhost/bench:latest', 'true']));
  podman(['save', '-o', join(dir, 'image.tar'), 'localhost/bench:latest']); // a docker-archive ctr imports
  podman(['rmi', '-af']);

  // containerd: only where it is installed and answering; the bench starts no daemon of its own.
  const ctr = which('ctr');
  if (ctr && spawnSync(ctr, ['version'], { stdio: 'ignore', timeout: 5000 }).status === 0) {
    const c = (args) => spawnSync(ctr, ['-n', 'skiff-bench', ...args], { encoding: 'utf8' });
    c(['image', 'import', join(dir, 'image.tar')]);
    let k = 0;
    compare('ctr run --rm IMG true', (bin) => c(['run', '--rm', '--runc-binary', bin, 'localhost/bench:latest', `bench-${process.pid}-${k++}`, 'true']));
    c(['image', 'rm', 'localhost/bench:latest']);
  } else console.log('ctr run --rm: containerd not installed or not running here (skipped)');
  if (!which('dockerd')) console.log('docker run --rm: dockerd not installed here (skipped)');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// dock beside podman, on its own image (dock-run.mjs).
spawnSync(process.execPath, [join(root, 'test/bench/dock-run.mjs'), String(N)], { stdio: 'inherit' });
