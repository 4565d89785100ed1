// `podman run --rm IMAGE true` with skiff as the OCI runtime, beside runc and crun, one run, same
// image and storage. Prints medians and ratios to runc. Usage: sudo node test/bench/podman.mjs [N]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 10);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });
if (!existsSync('/usr/bin/podman')) spawnSync('apt-get', ['install', '-y', '-qq', 'podman'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });

const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-podman-'));
const conf = join(dir, 'containers.conf');
writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\ntmp_dir = "${join(dir, 'tmp')}"\n`);
const env = { ...process.env, CONTAINERS_CONF: conf };
const podman = (runtime, args) =>
  spawnSync('podman', ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...(runtime ? ['--runtime', runtime] : []), ...args], { env, encoding: 'utf8' });

execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
podman(null, ['import', join(dir, 'rootfs.tar'), 'localhost/bench:latest']);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const [name, bin] of [['skiff', join(root, 'bin/skiff')], ['runc', '/usr/sbin/runc'], ['crun', '/usr/bin/crun']]) {
  if (!existsSync(bin)) continue;
  const probe = podman(bin, ['run', '--rm', 'localhost/bench:latest', 'true']);
  if (probe.status !== 0) {
    results[name] = { error: probe.stderr.trim().split('\n').pop() };
    continue;
  }
  const times = [];
  for (let i = 0; i < N; i++) {
    const t = process.hrtime.bigint();
    podman(bin, ['run', '--rm', 'localhost/bench:latest', 'true']);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  results[name] = { ms: median(times) };
}
podman(null, ['rmi', '-af']);
rmSync(dir, { recursive: true, force: true });
console.log(`podman run --rm true, median of ${N}`);
for (const [name, r] of Object.entries(results)) {
  if (r.error) console.log(`${name.padEnd(6)} cannot run here: ${r.error}`);
  else console.log(`${name.padEnd(6)} ${r.ms.toFixed(1).padStart(8)} ms   ratio to runc ${results.runc?.ms ? (r.ms / results.runc.ms).toFixed(2) : 'n/a'}`);
}
