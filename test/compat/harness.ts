// The differential harness: one scenario (a bundle and a script of runtime calls) run under runc,
// skiff and crun side by side, each with its own state root, rootfs copy and cgroup, and what can
// be observed reduced to a comparable record: exit statuses, normalised stdout, whether stderr and
// the --log file carry an error, the `state` fields, the container's own view (printed by VIEW),
// files the scenario's hooks wrote, and the host after the scenario (cgroup directories, mounts).
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadStream } from 'node:tty';
import { native } from '../../src/runtime/native';
import { SKIFF, TEST_ROOTFS } from '../helpers';

export type Json = Record<string, any>;

export interface RuntimeBin {
  name: 'runc' | 'skiff' | 'crun';
  path: string;
  /** Extra global options (crun on a hybrid host needs none that would help: it is probed). */
  globals?: string[];
}

export const RUNTIMES: RuntimeBin[] = [
  { name: 'runc', path: '/usr/sbin/runc' },
  { name: 'skiff', path: SKIFF },
  { name: 'crun', path: '/usr/bin/crun' },
];

/** The context a scenario's functions get for one runtime. */
export interface Ctx {
  rt: RuntimeBin['name'];
  id: string;
  bundle: string;
  /** A scratch directory of this run, outside the bundle (host paths for binds, hook output). */
  scratch: string;
  rootfs: string;
  /** cgroupsPath of the container: /compat-<runtime>-<pid>/<id>. */
  cgroup: string;
}

export type Step =
  /**
   * A runtime call; words may hold $ID, $BUNDLE, $SCRATCH. `console`: pass --console-socket and
   * keep what the container writes on the pty master (read after the last step). `fromScratch`:
   * run the runtime with the scratch directory as its working directory (default: the bundle).
   */
  | { call: string[]; input?: string; env?: Record<string, string>; console?: boolean; fromScratch?: boolean }
  /** Poll `state` until the container has this status (bounded). */
  | { wait: 'running' | 'stopped' | 'created' | 'paused' }
  /** Read files of the container's cgroup from the host: "memory/memory.limit_in_bytes". */
  | { cgroupFiles: string[] }
  /** Read a file of the scratch directory (hooks write there). */
  | { file: string };

export interface Scenario {
  name: string;
  area: 'namespaces' | 'mounts' | 'devices' | 'caps' | 'seccomp' | 'rlimits' | 'users' | 'terminals' | 'hooks' | 'update' | 'pause' | 'exec' | 'kill' | 'errors' | 'cgroups' | 'lifecycle' | 'cli';
  /** Change the `runc spec` config; args default to the VIEW script. */
  config?: (c: Json, ctx: Ctx) => void;
  /** Make files the scenario needs (hook scripts, bind sources) before the first call. */
  setup?: (ctx: Ctx) => void;
  /** Default: one foreground `run`. Every call gets --root, --log and --log-format json. */
  steps?: Step[];
  /** Compare stdout of the calls exactly after normalisation (default) or only its emptiness. */
  stdout?: 'exact' | 'presence';
  /** A difference from runc that stays, with the reason (listed in the README's table). */
  differs?: { reason: string; ignore: (obs: Observation) => void };
  /** crun differs from runc here (runc is the reference): the reason. */
  crunDiffers?: string;
}

export interface CallResult {
  status: number;
  stdout: string;
  stderr: 'empty' | 'text';
  /** An error line reached the --log file during this call. */
  loggedError: boolean;
}

export interface Observation {
  steps: unknown[];
  /** After the scenario and a forced delete: cgroup directories and mounts left on the host. */
  leftovers: string[];
}

/** The container's view, printed by the process itself: status fields, ids, limits, mounts, /dev. */
export const VIEW = [
  "echo '## status'; grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid|Gid|Groups|Umask)' /proc/self/status",
  "echo '## id'; id",
  "echo '## cwd'; pwd",
  "echo '## ulimit'; ulimit -a",
  // mount point, per-mount options, fs type (ids, devices and sources vary between runs)
  "echo '## mounts'; awk '{ for (i = 7; $i != \"-\"; i++); print $5, $6, $(i+1) }' /proc/self/mountinfo | sort",
  "echo '## dev'; for f in /dev/* /dev/pts/* /dev/shm /dev/mqueue; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; stat -c '%n %A %u %g %t:%T' \"$f\"; done",
].join('; ');

export function viewArgs(...extra: string[]): string[] {
  return ['sh', '-c', [VIEW, ...extra].join('; ')];
}

/** Per runtime: a state root, a rootfs copy and the reference config of `runc spec`. */
export class Side {
  readonly dir: string;
  readonly root: string;
  readonly rootfs: string;
  constructor(readonly bin: RuntimeBin, readonly base: Json) {
    this.dir = mkdtempSync(join(tmpdir(), `compat-${bin.name}-`));
    chmodSync(this.dir, 0o755); // a container in a user namespace must reach its rootfs (as under a real engine)
    this.root = join(this.dir, 'state');
    this.rootfs = join(this.dir, 'rootfs');
    cpSync(TEST_ROOTFS, this.rootfs, { recursive: true, verbatimSymlinks: true });
  }

  ctx(id: string): Ctx {
    const bundle = join(this.dir, 'bundles', id);
    const scratch = join(this.dir, 'scratch', id);
    return { rt: this.bin.name, id, bundle, scratch, rootfs: this.rootfs, cgroup: `/compat-${this.bin.name}-${process.pid}/${id}` };
  }

  /** Run one scenario to its observation; cleans the container and its directories up whatever happens. */
  async observe(s: Scenario, id: string): Promise<Observation> {
    const ctx = this.ctx(id);
    mkdirSync(ctx.bundle, { recursive: true });
    mkdirSync(ctx.scratch, { recursive: true });
    const cfg = structuredClone(this.base);
    cfg.root = { path: this.rootfs, readonly: true };
    cfg.process.terminal = false;
    cfg.process.args = viewArgs();
    cfg.linux.cgroupsPath = ctx.cgroup;
    s.setup?.(ctx);
    s.config?.(cfg, ctx);
    writeFileSync(join(ctx.bundle, 'config.json'), JSON.stringify(cfg, null, 1));
    const steps = s.steps ?? [{ call: ['run', '-b', '$BUNDLE', '$ID'] }];
    const outFiles: { out: string; i: number }[] = [];
    const results: unknown[] = [];
    const consoles: { i: number; done: Promise<string> }[] = [];
    try {
      for (const [i, step] of steps.entries()) {
        if ('call' in step) {
          const r = step.console ? await this.callWithConsole(ctx, step, i, consoles) : await this.call(ctx, step, i);
          outFiles.push({ out: r.outPath, i });
          results.push(r.result);
        } else if ('wait' in step) {
          results.push({ wait: step.wait, reached: await this.waitFor(ctx, step.wait) });
        } else if ('cgroupFiles' in step) {
          results.push({ cgroup: readCgroupFiles(ctx.cgroup, step.cgroupFiles) });
        } else {
          const p = join(ctx.scratch, step.file);
          results.push({ file: step.file, text: existsSync(p) ? this.normalize(readFileSync(p, 'utf8'), ctx) : null });
        }
      }
      for (const c of consoles) (results[c.i] as CallResult & { console?: string }).console = this.normalize(await c.done, ctx);
    } finally {
      await this.run(ctx, ['delete', '--force', id], 'cleanup');
    }
    // Output of a container started by create/start lands in create's stdout file: read them last.
    for (const { out, i } of outFiles) {
      const r = results[i] as CallResult;
      const text = this.normalize(readFileSync(out, 'utf8'), ctx);
      r.stdout = s.stdout === 'presence' ? (text ? '<output>' : '') : text;
      if (isStateCall(steps[i])) r.stdout = normalizeState(text);
    }
    const leftovers = hostLeftovers(ctx);
    // Mounts in the rootfs copy on the host (runc without a mount namespace leaves them): reported,
    // then removed so that the next scenario starts clean.
    for (const mp of mountsUnder(this.rootfs).reverse()) {
      leftovers.push(`mount ${mp.replace(this.rootfs, '$ROOTFS')}`);
      spawnSync('umount', ['-l', mp]);
    }
    rmSync(ctx.bundle, { recursive: true, force: true });
    rmSync(ctx.scratch, { recursive: true, force: true });
    return { steps: results, leftovers };
  }

  private async call(ctx: Ctx, step: { call: string[]; input?: string; env?: Record<string, string>; fromScratch?: boolean }, i: number): Promise<{ result: CallResult; outPath: string }> {
    const args = step.call.map((w) => w.replaceAll('$ID', ctx.id).replaceAll('$BUNDLE', ctx.bundle).replaceAll('$SCRATCH', ctx.scratch));
    const r = await this.run(ctx, args, String(i), step.input, step.env, step.fromScratch ? ctx.scratch : undefined);
    return { result: { status: r.status, stdout: '', stderr: r.stderr.trim() ? 'text' : 'empty', loggedError: r.loggedError }, outPath: r.outPath };
  }

  /** A call with --console-socket: the pty master it sends is read until the container closes it. */
  private async callWithConsole(ctx: Ctx, step: { call: string[] }, i: number, consoles: { i: number; done: Promise<string> }[]) {
    const n = native();
    const sock = join(ctx.scratch, `console-${i}.sock`);
    const listen = n.unixListen(sock);
    try {
      const call = this.call(ctx, { call: [step.call[0], '--console-socket', sock, ...step.call.slice(1)] }, i);
      // The runtime connects during create; a failed create never does (accept times out).
      let master = -1;
      const settled = await Promise.race([call.then(() => 'done'), new Promise((res) => setTimeout(res, 200, 'wait'))]);
      try {
        const conn = n.unixAccept(listen, settled === 'done' ? 10 : 10_000);
        try {
          master = n.recvFd(conn).fd;
        } finally {
          n.close(conn);
        }
      } catch {
        // no connection: the call failed before it made a terminal
      }
      if (master >= 0) consoles.push({ i, done: readAll(master) });
      return await call;
    } finally {
      n.close(listen);
    }
  }

  /** One runtime call with stdio in files (a container keeps them open), bounded in time. */
  run(ctx: Ctx, args: string[], tag: string, input?: string, env?: Record<string, string>, cwd?: string) {
    const base = join(ctx.scratch, `.call-${tag}`);
    const log = `${base}.log`;
    const outPath = `${base}.out`;
    let inFd: number | 'ignore' = 'ignore';
    if (input !== undefined) {
      writeFileSync(`${base}.in`, input);
      inFd = openSync(`${base}.in`, 'r');
    }
    const out = openSync(outPath, 'w');
    const err = openSync(`${base}.err`, 'w');
    const argv = [...(this.bin.globals ?? []), '--root', this.root, '--log', log, '--log-format', 'json', ...args];
    return new Promise<{ status: number; stderr: string; loggedError: boolean; outPath: string }>((done, fail) => {
      const child = spawn(this.bin.path, argv, { stdio: [inFd, out, err], cwd: cwd ?? ctx.bundle, env: { ...process.env, ...env } });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
      child.on('exit', (code, sig) => {
        clearTimeout(timer);
        for (const fd of [out, err, inFd]) if (typeof fd === 'number') closeSync(fd);
        const stderr = readFileSync(`${base}.err`, 'utf8');
        const logText = existsSync(log) ? readFileSync(log, 'utf8') : '';
        const loggedError = logText.split('\n').some((l) => l.includes('"level":"error"'));
        // COMPAT_DEBUG=1: every call with its status, stderr and log, to find why runtimes differ.
        if (process.env.COMPAT_DEBUG) console.log(`${this.bin.name} ${args.join(' ')} -> ${code ?? sig}\n${stderr}${logText}`);
        done({ status: code ?? 128 + (sig === 'SIGKILL' ? 9 : 15), stderr, loggedError, outPath });
      });
    });
  }

  private async waitFor(ctx: Ctx, want: string): Promise<boolean> {
    for (let i = 0; i < 40; i++) {
      const r = await this.run(ctx, ['state', ctx.id], `wait-${i}`);
      const got = readFileSync(r.outPath, 'utf8');
      try {
        if (JSON.parse(got).status === want) return true;
      } catch {
        if (want === 'stopped' && r.status !== 0) return false;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    return false;
  }

  /** Make outputs of two runtimes comparable: their paths, ids and the terminal's CR. */
  normalize(text: string, ctx: Ctx): string {
    return text
      .replaceAll('\r\n', '\n')
      .replaceAll(ctx.bundle, '$BUNDLE')
      .replaceAll(ctx.scratch, '$SCRATCH')
      .replaceAll(this.rootfs, '$ROOTFS')
      .replaceAll(this.root, '$ROOT')
      .replaceAll(ctx.cgroup, '$CGROUP')
      .replace(/\bruntime (runc|skiff|crun)\b/g, 'runtime $RT');
  }

  dispose(): void {
    for (const mp of mountsUnder(this.dir).reverse()) spawnSync('umount', ['-l', mp]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Everything written to a pty master until the slave side is closed (EIO), bounded in time. */
function readAll(master: number): Promise<string> {
  return new Promise((done) => {
    const stream = new ReadStream(master);
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      stream.destroy();
      done(Buffer.concat(chunks).toString('utf8'));
    };
    // A guard against a master that never ends; the end comes with the last slave's close (EIO).
    const timer = setTimeout(finish, 60_000);
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('end', finish);
    stream.on('error', finish);
  });
}

function isStateCall(step: Step): boolean {
  return 'call' in step && step.call[0] === 'state' && step.call.length === 2 && !step.call[1].startsWith('-');
}

/** The fields of `state` that must agree: status, pid set or not, bundle, annotations. */
function normalizeState(text: string): string {
  try {
    const s = JSON.parse(text);
    return JSON.stringify({ id: s.id, status: s.status, pid: s.pid > 0 ? 'PID' : s.pid, bundle: s.bundle === undefined ? undefined : '$BUNDLE', annotations: s.annotations ?? {} });
  } catch {
    return text;
  }
}

const CGROUP_ROOT = '/sys/fs/cgroup';

function readCgroupFiles(cgroup: string, files: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of files) {
    const [ctrl, name] = f.split('/');
    const p = join(CGROUP_ROOT, ctrl, cgroup, name);
    try {
      out[f] = readFileSync(p, 'utf8').trim();
    } catch {
      out[f] = null;
    }
  }
  return out;
}

/** Cgroup directories of the container and mounts under its bundle or scratch left on the host. */
function hostLeftovers(ctx: Ctx): string[] {
  const left: string[] = [];
  for (const h of safeReaddir(CGROUP_ROOT)) {
    if (existsSync(join(CGROUP_ROOT, h, ctx.cgroup))) left.push(`cgroup ${h}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp && (mp.startsWith(ctx.bundle) || mp.startsWith(ctx.scratch))) left.push(`mount ${mp.replace(ctx.bundle, '$BUNDLE').replace(ctx.scratch, '$SCRATCH')}`);
  }
  return left;
}

/** Remove the (empty) parent cgroups the runs made. */
export function removeCgroupParents(rt: string): void {
  const parent = `compat-${rt}-${process.pid}`;
  for (const h of safeReaddir(CGROUP_ROOT)) {
    try {
      rmdirSync(join(CGROUP_ROOT, h, parent));
    } catch {
      // not there, or not empty (a leftover the scenario reported)
    }
  }
}

/** Host mount points at or below `dir`, in mount order. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((mp): mp is string => !!mp && (mp === dir || mp.startsWith(dir + '/')));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
