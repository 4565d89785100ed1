// Bench: pull + unpack of a multi-layer image from a local docker-registry, one run each of
//   dock pull                          (fresh engine root)
//   podman pull                        (fresh storage, overlay driver)
//   skopeo copy + umoci unpack         (registry → OCI layout → rootfs)
// Same registry, same image, same run; prints wall times and ratios. Never asserts timings.
//
//   node test/bench/pull.mjs [--layers N] [--mb-per-layer M]
//
// Needs root (podman storage, device nodes) and docker-registry/skopeo/umoci/podman, which
// scripts/test-setup.sh installs; the bench installs nothing (test/fixtures/images/tools.ts).

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync, chmodSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const esbuild = require('esbuild');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const LAYERS = opt('--layers', 6);
const MB = opt('--mb-per-layer', 8);

const work = mkdtempSync(join(tmpdir(), 'skiff-bench-pull-'));
const cleanup = [];
const sh = (cmd, a, o = {}) => execFileSync(cmd, a, { stdio: ['ignore', 'pipe', 'pipe'], ...o });

function time(label, fn) {
  const t0 = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`${label.padEnd(34)} ${(ms / 1000).toFixed(2)} s`);
  return ms;
}

try {
  // Test fixtures (TypeScript) bundled for this script: registry start/stop and the tool check
  // (the tools come from scripts/test-setup.sh; nothing is installed here).
  const fixtures = join(work, 'fixtures.cjs');
  await esbuild.build({
    stdin: {
      contents: `export * from './test/fixtures/images/registry'; export * from './test/fixtures/images/tools';`,
      resolveDir: repo,
      loader: 'ts',
    },
    outfile: fixtures,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['better-sqlite3', '@napi-rs/xattr', '*.node'],
    logLevel: 'error',
  });
  const { startRegistry, ensureTools } = require(fixtures);
  ensureTools(['docker-registry', 'skopeo', 'umoci', 'podman', 'busybox']);

  const dockJs = join(work, 'dock.js');
  await esbuild.build({
    entryPoints: [join(repo, 'src/cli/dock.ts')],
    outfile: dockJs,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['better-sqlite3', '@napi-rs/xattr', '*.node'],
    logLevel: 'error',
    nodePaths: [join(repo, 'node_modules')],
  });

  // The image: busybox base + LAYERS layers, each with MB of mixed content (incompressible
  // random files and many small text files, so both bytes and metadata count).
  const layout = join(work, 'oci');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:bench`]);
  for (let i = 0; i <= LAYERS; i++) {
    const bundle = join(work, `bundle${i}`);
    sh('umoci', ['unpack', '--image', `${layout}:bench`, bundle]);
    const r = join(bundle, 'rootfs');
    if (i === 0) {
      mkdirSync(join(r, 'bin'), { recursive: true });
      copyFileSync('/bin/busybox', join(r, 'bin/busybox'));
      chmodSync(join(r, 'bin/busybox'), 0o755);
      for (const l of ['sh', 'ls', 'cat']) symlinkSync('busybox', join(r, 'bin', l));
    } else {
      const d = join(r, `layer${i}`);
      mkdirSync(join(d, 'small'), { recursive: true });
      const randomBytesTotal = Math.floor(MB * 1e6 * 0.6);
      for (let k = 0; k < 4; k++) writeFileSync(join(d, `blob${k}.bin`), randomBytes(randomBytesTotal / 4));
      const text = 'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(20);
      const smallCount = Math.floor((MB * 1e6 * 0.4) / text.length);
      for (let k = 0; k < smallCount; k++) writeFileSync(join(d, 'small', `f${k}.txt`), `${k} ${text}`);
    }
    sh('umoci', ['repack', '--image', `${layout}:bench`, bundle]);
    rmSync(bundle, { recursive: true, force: true });
  }

  const reg = await startRegistry();
  cleanup.push(() => reg.stop());
  const ref = `${reg.host}/bench/multi:latest`;
  sh('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', '--format', 'v2s2', `oci:${layout}:bench`, `docker://${ref}`]);
  const inspect = JSON.parse(sh('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]).toString());
  const total = inspect.layers.reduce((a, l) => a + l.size, 0);
  console.log(`image: ${inspect.layers.length} layers, ${(total / 1e6).toFixed(1)} MB compressed, registry ${reg.host}\n`);

  // dock
  const dockRoot = join(work, 'dock-root');
  const dockMs = time('dock pull', () =>
    sh(process.execPath, [dockJs, '--root', dockRoot, 'pull', '-q', ref], { env: { ...process.env, NODE_PATH: join(repo, 'node_modules') } }),
  );

  // podman
  const pr = join(work, 'podman');
  const p = ['--root', join(pr, 'root'), '--runroot', join(pr, 'run'), '--storage-driver', 'overlay'];
  let podmanMs = null;
  try {
    podmanMs = time('podman pull', () => sh('podman', [...p, 'pull', '-q', '--tls-verify=false', ref]));
  } catch (e) {
    console.log(`podman pull failed: ${String(e.stderr ?? e.message).trim().split('\n').pop()}`);
  } finally {
    spawnSync('podman', [...p, 'rmi', '-af'], { stdio: 'ignore' }); // not `system reset` (shared /run/libpod)
  }

  // skopeo + umoci
  const sl = join(work, 'skopeo-oci');
  const umociMs = time('skopeo copy + umoci unpack', () => {
    sh('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${sl}:bench`]);
    sh('umoci', ['unpack', '--image', `${sl}:bench`, join(work, 'umoci-bundle')]);
  });

  console.log('');
  if (podmanMs) console.log(`dock / podman pull:             ${(dockMs / podmanMs).toFixed(2)}x the time`);
  console.log(`dock / (skopeo copy + umoci):    ${(dockMs / umociMs).toFixed(2)}x the time`);
} finally {
  for (const c of cleanup.reverse()) await c();
  rmSync(work, { recursive: true, force: true });
}
