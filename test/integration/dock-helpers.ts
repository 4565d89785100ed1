// Shared by the dock container tests: a busybox image made locally with umoci (every applet, users
// and groups, a VOLUME with content, labels, a working directory), loaded into a private engine
// root through a docker-archive made by skopeo; a `dock` runner; and checks that a root is clean.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect } from 'vitest';
import { join } from 'node:path';
import type { RunResult } from '../fixtures/images/dock';
import { constants } from 'node:os';
import { IMAGE_TOOLS, requireTools } from '../fixtures/images/tools';
import { ownPath } from '../helpers';
import { sharedFixtureSync } from '../fixtures/shared';

export const isRoot = process.getuid?.() === 0;
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

export interface TestImage {
  archive: string;
  name: string;
  cleanup(): void;
}

/**
 * busybox image "skiff-test/app:1" as a docker-archive file: made once per run and shared by every
 * test file (test/fixtures/shared.ts); each file loads it into an engine root of its own.
 */
export function buildAppImage(): TestImage {
  requireTools(IMAGE_TOOLS);
  const { dir, shared } = sharedFixtureSync('app-image', makeAppImage, () => mkdtempSync(join(tmpdir(), 'dock-img-')));
  return { archive: join(dir, 'app.tar'), name: 'skiff-test/app:1', cleanup: () => shared || rmSync(dir, { recursive: true, force: true }) };
}

function makeAppImage(dir: string): void {
  const layout = join(dir, 'oci');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:app`]);
  const bundle = join(dir, 'bundle');
  sh('umoci', ['unpack', '--image', `${layout}:app`, bundle]);
  const r = join(bundle, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'data', 'home/app', 'var/empty', 'work-image']) mkdirSync(join(r, d), { recursive: true });
  copyFileSync('/bin/busybox', join(r, 'bin/busybox'));
  chmodSync(join(r, 'bin/busybox'), 0o755);
  for (const applet of sh('/bin/busybox', ['--list']).split('\n').filter(Boolean)) {
    if (applet !== 'busybox') symlinkSync('busybox', join(r, 'bin', applet));
  }
  chmodSync(join(r, 'tmp'), 0o1777);
  writeFileSync(join(r, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app user:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n');
  writeFileSync(join(r, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n');
  writeFileSync(join(r, 'data/seed'), 'from the image\n');
  chownSync(join(r, 'home/app'), 1000, 1000);
  sh('umoci', ['repack', '--image', `${layout}:app`, bundle]);
  sh('umoci', [
    'config', '--image', `${layout}:app`,
    '--config.cmd', '/bin/sh', '--config.cmd', '-c', '--config.cmd', 'echo hello from the image',
    '--config.env', 'PATH=/bin', '--config.env', 'FOO=image', '--config.env', 'KEEP=kept',
    '--config.workingdir', '/work-image', '--config.volume', '/data',
    '--config.label', 'org.test.kind=app', '--config.label', 'org.test.keep=yes',
    '--architecture', 'amd64', '--os', 'linux',
  ]);
  sh('skopeo', ['copy', '--quiet', `oci:${layout}:app`, `docker-archive:${join(dir, 'app.tar')}:skiff-test/app:1`]);
  // Only the archive is used: the layout and the unpacked bundle go.
  rmSync(layout, { recursive: true, force: true });
  rmSync(bundle, { recursive: true, force: true });
}

/** A private engine root with the image loaded. Short paths: unix sockets live in it. */
export async function newRoot(img: TestImage): Promise<string> {
  await dockScript();
  const root = mkdtempSync('/tmp/dk-');
  ownPath(root);
  const r = await d(root, ['load', '-q', '-i', img.archive]);
  if (r.code !== 0) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`dock load: ${r.stderr}`);
  }
  return root;
}

/** Runs `dock ARGS` with its root in `root` (the script from dockScript); never throws on a non-zero exit. */
export async function d(root: string, args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const js = await dockScript();
  const child = spawn(...dockCommand(js, args), { env: { ...process.env, DOCK_ROOT: root, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (x) => (stdout += x));
  child.stderr.on('data', (x) => (stderr += x));
  // A command that does not read its input may have exited before it is written: EPIPE is no error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number>((r) => child.on('close', (c, sig) => r(c ?? (sig ? 128 + (constants.signals[sig] as number) : -1))));
  return { code, stdout, stderr };
}

/** dock ARGS that must succeed; returns stdout. */
export async function ok(root: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  const r = await d(root, args, opts);
  if (r.code !== 0) throw new Error(`dock ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const repo = join(__dirname, '..', '..');
let script: string | undefined;

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * The dock script to run: dist/dock.js when it is newer than the sources, else a bundle of our own
 * (as the images fixture does), so that tests never run stale code.
 */
export async function dockScript(): Promise<string> {
  if (script) return script;
  const shipped = join(repo, 'dist', 'dock.js');
  const src = Math.max(newest(join(repo, 'src')), 0);
  if (existsSync(shipped) && statSync(shipped).mtimeMs >= src) return (script = shipped);
  const dir = join(repo, 'node_modules', '.cache', 'skiff-test');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `dock-helpers-${process.pid}.js`);
  const esbuild = await import('esbuild');
  await esbuild.build({ entryPoints: [join(repo, 'src', 'cli', 'dock.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['better-sqlite3', '@napi-rs/xattr', '*.node'], logLevel: 'error' });
  return (script = out);
}

/**
 * How a test runs dock: as users do, bin/dock (skiff-front, and the warm server for the commands it
 * serves), when the script is the built one; SKIFF_TEST_DOCK=node runs the script on Node instead.
 */
export function dockCommand(js: string, args: string[]): [string, string[]] {
  if (process.env.SKIFF_TEST_DOCK !== 'node' && js === join(repo, 'dist', 'dock.js')) return [join(repo, 'bin', 'dock'), args];
  return [process.execPath, [js, ...args]];
}

/** Starts `dock ARGS` and gives the child (for tests that kill dock or follow logs). */
export function dockChild(root: string, args: string[]) {
  if (!script) throw new Error('call dockScript() (newRoot does) before dockChild');
  const js = script;
  const child = spawn(...dockCommand(js, args), { env: { ...process.env, DOCK_ROOT: root }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (x) => (stdout += x));
  child.stderr.on('data', (x) => (stderr += x));
  return { child, out: () => stdout, err: () => stderr, closed: new Promise<number | null>((res) => child.on('close', (c) => res(c))) };
}

/**
 * The bound for one dock command in a test (a build, a run, an inspect): it guards against a hang,
 * not against a slow machine (one build step takes ~10 s at a load of 30 on 2 cores). A test that
 * runs N commands gets ops(N) as its timeout instead of a guess at the machine.
 */
export const DOCK_OP_MS = 30_000;
export const ops = (n: number): number => n * DOCK_OP_MS;

/** Polls `cond` until it holds; the default bound is that of the one dock command whose effect it awaits. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = DOCK_OP_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Supervisor processes whose --dir is under `root`. */
export function supervisorsOf(root: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes('skiff-supervisor') && cmd.includes(root + '/')) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && p.startsWith(root + '/'));
}

export function dockCgroups(ids: string[]): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    for (const id of ids) {
      try {
        readdirSync(join('/sys/fs/cgroup', h, 'dock', id));
        out.push(join(h, 'dock', id));
      } catch {
        /* not there */
      }
    }
  }
  return out;
}

/** Removes every container of the root (rm -f), then checks nothing is left, then deletes the root. */
export async function cleanRoot(root: string): Promise<{ mounts: string[]; supervisors: number[]; cgroups: string[] }> {
  const ids = (await d(root, ['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
  if (ids.length) await d(root, ['rm', '-f', '-v', ...ids]);
  await waitFor(() => supervisorsOf(root).length === 0, 'supervisors to leave', 10_000).catch(() => undefined);
  const left = { mounts: mountsUnder(root), supervisors: supervisorsOf(root), cgroups: dockCgroups(ids) };
  for (const pid of left.supervisors) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const m of left.mounts.reverse()) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      /* gone */
    }
  }
  rmSync(root, { recursive: true, force: true });
  return left;
}

/**
 * In a describe block: the app image and a dock root on it, made before its tests and removed after
 * them (the removal checks that no mount, supervisor or cgroup is left). `set` receives both.
 */
export function useDockRoot(set: (img: TestImage, root: string) => void): void {
  let img: TestImage | undefined;
  let root: string | undefined;
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    set(img, root);
  });
  afterAll(async () => {
    try {
      if (root) expect(await cleanRoot(root)).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    } finally {
      img?.cleanup();
    }
  });
}
