// Shared helpers of the container tests: run the real CLI against a private state root, make
// bundles from the shared busybox rootfs, and check that nothing is left behind.
import { type ChildProcess, type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const SKIFF = join(ROOT, 'bin', 'skiff');
export const TEST_ROOTFS = join(ROOT, 'test', '.rootfs');
export const isRoot = process.getuid?.() === 0;

/** Tells the leak check after the test file (test/leak-check.ts) that this state root is the file's. */
export function ownPath(p: string): void {
  (globalThis as { __skiffOwnPath?: (p: string) => void }).__skiffOwnPath?.(p);
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export function tmp(prefix = 'skiff-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunOpts {
  input?: string;
  timeout?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * The command leaves a container running that inherits its stdio (create, run -d): capture
   * through files, not pipes, or waiting for EOF would wait for the container.
   */
  detached?: boolean;
}

export function run(cmd: string, args: string[], opts: RunOpts = {}): Result {
  let files: { dir: string; out: number; err: number } | undefined;
  if (opts.detached) {
    const dir = tmp('skiff-out-');
    files = { dir, out: openSync(join(dir, 'out'), 'w+'), err: openSync(join(dir, 'err'), 'w+') };
  }
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    encoding: 'utf8',
    input: opts.input,
    timeout: opts.timeout ?? 30_000,
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    killSignal: 'SIGKILL',
    stdio: files ? ['ignore', files.out, files.err] : 'pipe',
  });
  if (r.error) throw r.error;
  let stdout = r.stdout;
  let stderr = r.stderr;
  if (files) {
    closeSync(files.out);
    closeSync(files.err);
    stdout = readFileSync(join(files.dir, 'out'), 'utf8');
    stderr = readFileSync(join(files.dir, 'err'), 'utf8');
    rmSync(files.dir, { recursive: true, force: true });
  }
  return { status: r.status ?? 128 + 9, stdout, stderr };
}

/** A private --root so tests never see each other's containers (or the machine's). */
export class Skiff {
  readonly root: string;
  constructor(root?: string) {
    this.root = root ?? tmp('skiff-root-');
    ownPath(this.root);
  }
  run(args: string[], opts: RunOpts = {}): Result {
    const detached = opts.detached ?? (args[0] === 'create' || (['run', 'exec'].includes(args[0]) && (args.includes('-d') || args.includes('--detach'))));
    return run(SKIFF, ['--root', this.root, ...args], { ...opts, detached });
  }
  ok(args: string[], opts: RunOpts = {}): string {
    const r = this.run(args, opts);
    if (r.status !== 0) throw new Error(`skiff ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  }
  /** The container's default cgroup path, relative to a hierarchy: skiff/<hash of root>/<id>. */
  cgroup(id: string): string {
    return `skiff/${createHash('sha256').update(this.root).digest('hex').slice(0, 12)}/${id}`;
  }
  /** Delete every container left in this root, then the root itself. */
  cleanup(): void {
    for (const id of safeReaddir(this.root)) this.run(['delete', '--force', id]);
    rmSync(this.root, { recursive: true, force: true });
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

type Json = Record<string, any>;

/** The config of the example bundle, with the shared rootfs and a few test-friendly defaults. */
export function baseConfig(args: string[] = ['true']): Json {
  const cfg = JSON.parse(readFileSync(join(ROOT, 'bundles/busybox/config.json'), 'utf8'));
  cfg.root = { path: TEST_ROOTFS, readonly: true };
  cfg.process.args = args;
  delete cfg.linux.resources.memory;
  return cfg;
}

/** A bundle directory holding config.json (the rootfs is shared and read-only). */
export function makeBundle(cfg: Json): string {
  const dir = tmp('skiff-bundle-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

export function mountsUnder(prefixes: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && prefixes.some((x) => p.startsWith(x)));
}

export function writeJson(path: string, v: unknown): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(v));
}

/** An `events` stream as a child process, with its lines parsed as they arrive. */
export class EventStream {
  readonly child: ChildProcess;
  readonly events: Record<string, any>[] = [];
  private buf = '';
  stderr = '';
  constructor(root: string, args: string[]) {
    this.child = spawn(SKIFF, ['--root', root, 'events', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.events.push(JSON.parse(this.buf.slice(0, i)));
        this.buf = this.buf.slice(i + 1);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
  }
  async exit(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const [code] = await once(this.child, 'exit');
    return code as number | null;
  }
}

/** Poll `cond` until it holds, at most `ms`: a wait on a condition with a deadline, never a sleep. */
export async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
