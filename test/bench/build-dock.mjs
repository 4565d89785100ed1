// Bench: the same Dockerfile (several RUN and COPY steps, two stages) built by `dock build` and
// by `buildah bud`, each cold (empty cache: a fresh root / --layers with a fresh storage) and then
// warm (everything cached), in private roots, on one locally made busybox image. One run each.
//
//   node test/bench/build-dock.mjs          (root; the packages of scripts/test-setup.sh)
//
// buildah runs with --layers (its layer cache, the analogue of dock's), --isolation oci with runc
// (real containers like dock's; crun refuses cgroup v1 hybrid hosts)
// and --network none, --ulimit nofile/nproc (its default rlimits need CAP_SYS_RESOURCE, which a
// sandboxed host may lack); storage driver overlay (BENCH_BUILDAH_DRIVER=vfs for vfs).
//
// Prints the times and the ratios dock/buildah. No thresholds: a benchmark, not a test.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const repo = join(import.meta.dirname, '..', '..');
const DOCK = join(repo, 'dist', 'dock.js');

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}
// buildah, umoci, skopeo and busybox-static come from scripts/test-setup.sh; the bench installs nothing.
const missing = ['buildah', 'umoci', 'skopeo', 'busybox'].filter((c) => !has(c));
if (missing.length) {
  console.error(`build-dock.mjs: missing ${missing.join(', ')}: run scripts/test-setup.sh (as root) first`);
  process.exit(1);
}

const work = mkdtempSync('/tmp/dkbb-');
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString();

// The base image: busybox with its applets, as a docker-archive both tools load.
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

// The context: a few hundred small files and one larger one; the Dockerfile: two stages.
const ctx = join(work, 'ctx');
for (let i = 0; i < 300; i++) {
  mkdirSync(join(ctx, 'src', `d${i % 10}`), { recursive: true });
  writeFileSync(join(ctx, 'src', `d${i % 10}`, `f${i}.txt`), `file ${i}\n`.repeat(20));
}
writeFileSync(join(ctx, 'big.bin'), Buffer.alloc(8 << 20, 7));
writeFileSync(join(ctx, 'app.sh'), '#!/bin/sh\necho app\n');
writeFileSync(
  join(ctx, 'Dockerfile'),
  [
    'FROM bench/busybox:1 AS builder',
    'RUN mkdir -p /out && seq 1 20000 > /out/numbers',
    'COPY src/ /src/',
    'RUN find /src -type f | sort | xargs cat | md5sum > /out/sum',
    '',
    'FROM bench/busybox:1',
    'ENV APP=/app',
    'WORKDIR /app',
    'COPY --from=builder /out/ ./out/',
    'COPY big.bin app.sh ./',
    'RUN chmod +x app.sh && wc -c big.bin > size.txt',
    "RUN echo 'appuser:x:1000:1000::/app:/bin/sh' >> /etc/passwd && echo done > /app/done",
    'USER appuser',
    'CMD ["./app.sh"]',
  ].join('\n'),
);

// buildah's storage: overlay (kernel overlayfs, as dock) unless BENCH_BUILDAH_DRIVER says vfs.
const DRIVER = process.env.BENCH_BUILDAH_DRIVER ?? 'overlay';
const dockRoot = join(work, 'dock');
const dock = (args) => spawnSync(process.execPath, [DOCK, ...args], { env: { ...process.env, DOCK_ROOT: dockRoot }, encoding: 'utf8' });
const bh = ['--root', join(work, 'buildah', 'root'), '--runroot', join(work, 'buildah', 'run'), '--storage-driver', DRIVER];
const buildah = (args) => spawnSync('buildah', [...bh, ...args], { encoding: 'utf8', env: { ...process.env, TMPDIR: join(work, 'buildah-tmp') } });
mkdirSync(join(work, 'buildah-tmp'), { recursive: true });

function check(res, what) {
  if (res.status !== 0) throw new Error(`${what} failed (${res.status}): ${res.stderr}\n${res.stdout}`);
  return res.stdout;
}
check(dock(['load', '-q', '-i', archive]), 'dock load');
check(buildah(['pull', '-q', `docker-archive:${archive}`]), 'buildah pull');

function time(fn) {
  const t = process.hrtime.bigint();
  const out = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, out };
}

const dockBuild = () => check(dock(['build', '--network', 'none', '-t', 'bench/built:1', ctx]), 'dock build');
const buildahBuild = () =>
  check(
    buildah(['bud', '--layers', '--isolation', 'oci', '--runtime', 'runc', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=4096:4096', '-t', 'bench/built:1', ctx]),
    'buildah bud',
  );

try {
  const dCold = time(dockBuild);
  const dWarm = time(dockBuild);
  const bCold = time(buildahBuild);
  const bWarm = time(buildahBuild);
  const cached = (dWarm.out.match(/^CACHED /gm) ?? []).length;
  const bCached = (bWarm.out.match(/Using cache/g) ?? []).length;
  const version = sh('buildah', ['--version']).trim();
  const fmt = (x) => `${(x / 1000).toFixed(2)} s`;
  console.log(`dock build vs ${version} (--layers, OCI isolation with runc, ${DRIVER} storage), one run each`);
  console.log(`  Dockerfile: 2 stages, 5 RUN, 3 COPY (300 small files, 8 MiB file); base: busybox`);
  console.log(`  cold:  dock ${fmt(dCold.ms)}   buildah ${fmt(bCold.ms)}   dock/buildah ${(dCold.ms / bCold.ms).toFixed(2)}`);
  console.log(`  warm:  dock ${fmt(dWarm.ms)}   buildah ${fmt(bWarm.ms)}   dock/buildah ${(dWarm.ms / bWarm.ms).toFixed(2)}`);
  console.log(`  warm steps reused: dock ${cached}, buildah ${bCached}`);
} finally {
  buildah(['rmi', '-af']);
  spawnSync('sh', ['-c', `grep -o ' ${work}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
