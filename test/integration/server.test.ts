// The warm skiff server (src/cli/server.ts, addon/front-remote.c) against the CLI on Node: the same
// stdout, stderr, status and files for create, run and exec, their failures included; the
// container's processes are the caller's children with signals forwarded; concurrent calls; what
// it must leave to Node (a terminal of its own, a caller in other namespaces). SKIFF_SERVER=1 makes
// skiff-front insist on the server (it fails instead of falling back), SKIFF_SERVER=0 refuses it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { baseConfig, makeBundle, run, Skiff, SKIFF, tmp, until } from '../helpers';

const SERVER = { ...process.env, SKIFF_SERVER: '1' };
const NODE = { ...process.env, SKIFF_SERVER: '0' };


describe.skipIf(skipWhen(needRoot()))('the warm skiff server', () => {
  let sk: Skiff;
  let dirs: string[];
  const bundle = (args: string[], edit: (c: Record<string, any>) => void = () => {}) => {
    const cfg = baseConfig(args);
    edit(cfg);
    const dir = makeBundle(cfg);
    dirs.push(dir);
    return dir;
  };
  /** The same command through the server and through Node, in a cwd of its own each. */
  const both = (args: (cwd: string) => string[], prepare: (cwd: string) => void = () => {}) =>
    [SERVER, NODE].map((env) => {
      const cwd = mkdtempSync(join(tmp('skiff-cwd-'), 'c'));
      dirs.push(cwd);
      prepare(cwd);
      return { cwd, ...run(SKIFF, ['--root', sk.root, ...args(cwd)], { env, cwd }) };
    });

  beforeEach(() => {
    sk = new Skiff();
    dirs = [];
  });
  afterEach(() => {
    sk.cleanup();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('run in the foreground: the same output, stderr and status as on Node', () => {
    const b = bundle(['sh', '-c', 'echo out; echo err >&2; echo "$X|$(pwd)"; exit 7'], (c) => {
      c.process.env.push('X=ünï');
      c.process.cwd = '/tmp';
    });
    let n = 0;
    const [a, z] = both(() => ['run', '-b', b, `fg${n++}`]);
    expect(a.status).toBe(7);
    expect({ out: a.stdout, err: a.stderr, status: a.status }).toEqual({ out: z.stdout, err: z.stderr, status: z.status });
    expect(a.stdout).toBe('out\nünï|/tmp\n');
  });

  it('failures: the same one line and status, and nothing left', () => {
    const cases: [string, (c: Record<string, any>) => void][] = [
      ['schema', (c) => (c.process.args = [])],
      ['rootfs', (c) => (c.root.path = '/nonexistent/rootfs')],
      ['hook', (c) => (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo broken >&2; exit 3'] }] })],
      ['exec', (c) => (c.process.args = ['no-such-program'])],
    ];
    for (const [name, edit] of cases) {
      const b = bundle(['true'], edit);
      const [a, z] = both((cwd) => ['--log', 'log.json', '--log-format', 'json', 'run', '-b', b, `bad-${name}-${cwd.slice(-6)}`]);
      expect(a.status, name).not.toBe(0);
      expect({ err: a.stderr, status: a.status }, name).toEqual({ err: z.stderr, status: z.status });
      expect(a.stderr.trim().split('\n'), name).toHaveLength(1);
      // --log relative to the caller's directory, in its format, with the same message.
      const msg = (cwd: string) => JSON.parse(readFileSync(join(cwd, 'log.json'), 'utf8').trim().split('\n').pop()!).msg;
      expect(msg(a.cwd), name).toBe(msg(z.cwd));
    }
    expect(JSON.parse(sk.ok(['list', '--format', 'json']))).toEqual([]);
  });

  it('create, start and exec: the same answers, pid files relative to the caller, its umask', () => {
    const b = bundle(['sleep', '600']);
    for (const [env, id] of [
      [SERVER, 's1'],
      [NODE, 'n1'],
    ] as const) {
      const cwd = tmp('skiff-cwd-');
      dirs.push(cwd);
      // umask 077 for the caller: the pid file it asks for is its own.
      const r = run('sh', ['-c', `umask 077; exec "$0" "$@"`, SKIFF, '--root', sk.root, 'create', '-b', b, '--pid-file', 'init.pid', id], { env, cwd, detached: true });
      expect(r.status, r.stderr).toBe(0);
      const pid = Number(readFileSync(join(cwd, 'init.pid'), 'utf8'));
      expect(JSON.parse(sk.ok(['state', id])).pid).toBe(pid);
      expect(statSync(join(cwd, 'init.pid')).mode & 0o777).toBe(0o600);
      sk.ok(['start', id]);
    }
    const execs = (args: string[]) =>
      ([
        [SERVER, 's1'],
        [NODE, 'n1'],
      ] as const).map(([env, id]) => run(SKIFF, ['--root', sk.root, 'exec', ...args.map((a) => (a === 'ID' ? id : a))], { env }));
    for (const args of [
      ['-e', 'Y=1', '--cwd', '/etc', 'ID', 'sh', '-c', 'echo $Y $(pwd); echo to-err >&2; exit 4'],
      ['ID', 'no-such-program'],
      ['--user', 'bogus', 'ID', 'true'],
      ['missing-container', 'true'],
    ]) {
      const [a, z] = execs(args);
      expect({ out: a.stdout, err: a.stderr, status: a.status }, args.join(' ')).toEqual({ out: z.stdout, err: z.stderr, status: z.status });
    }
    expect(execs(['ID', 'sh', '-c', 'echo $Y $(pwd)'])[0].stdout).toBe('/\n');
  });

  it("the container's process is the caller's child, and the caller's signals reach it", async () => {
    const b = bundle(['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.05; done']);
    const p = spawn(SKIFF, ['--root', sk.root, 'run', '-b', b, 'child'], { env: SERVER, stdio: 'ignore' });
    const closed = once(p, 'close');
    try {
      await until(() => existsSync(join(sk.root, 'child', 'state.json')) && JSON.parse(sk.ok(['state', 'child'])).status === 'running', 'the container to run');
      const pid = JSON.parse(sk.ok(['state', 'child'])).pid;
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
      expect(ppid).toBe(p.pid); // bin/skiff execs skiff-front: the same process
      p.kill('SIGTERM');
      const [code] = await closed;
      expect(code).toBe(42);
      expect(existsSync(join(sk.root, 'child'))).toBe(false); // deleted after the exit, as run does
    } finally {
      p.kill('SIGKILL');
    }
  });

  it('concurrent calls are served at once, each with its own output', async () => {
    // With a prestart hook: workers then wait on their inits at the same time (the addon once
    // received every init's messages into one static buffer).
    const b = bundle(['sh', '-c', 'sleep 0.3; echo "$0"', 'arg'], (c) => (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'cat >/dev/null'] }] }));
    const calls = Array.from({ length: 16 }, (_, i) => {
      const p = spawn(SKIFF, ['--root', sk.root, 'run', '-b', b, `c${i}`], { env: SERVER, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      return once(p, 'close').then(([code]) => ({ code, out, err }));
    });
    const results = await Promise.all(calls);
    for (const r of results) expect(r, JSON.stringify(r)).toMatchObject({ code: 0, err: '' });
    expect(results.map((r) => r.out)).toEqual(Array(16).fill('arg\n'));
  });

  it('a terminal of its own is left to the CLI on Node', () => {
    const b = bundle(['sleep', '600']);
    sk.ok(['run', '-d', '-b', b, 't1']);
    // No console socket: skiff holds the pty itself, which only the CLI process can.
    const r = run(SKIFF, ['--root', sk.root, 'exec', '-t', 't1', 'sh', '-c', 'tty; exit 5'], { env: SERVER });
    expect(r.status, r.stderr).toBe(5);
    expect(r.stdout).toMatch(/^\/dev\/pts\/\d+/);
  });

  it.skipIf(skipWhen(needTools('unshare')))("a caller in another network namespace: served, its hooks run in the caller's", () => {
    const cwd = tmp('skiff-cwd-');
    dirs.push(cwd);
    const b = bundle(['true'], (c) => (c.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `readlink /proc/self/ns/net > ${cwd}/hook`] }] }));
    const r = run('unshare', ['-n', 'sh', '-c', `readlink /proc/self/ns/net > ${cwd}/caller; exec "$0" "$@"`, SKIFF, '--root', sk.root, 'run', '-b', b, 'ns1'], { env: SERVER });
    expect(r, r.stderr).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(join(cwd, 'hook'), 'utf8')).toBe(readFileSync(join(cwd, 'caller'), 'utf8'));
    expect(readFileSync(join(cwd, 'hook'), 'utf8')).not.toBe(`${readlinkSync('/proc/self/ns/net')}\n`); // not the server's (nor ours)
  });

  it.skipIf(skipWhen(needTools('unshare')))('a caller in another mount namespace is served by Node, never by the server', () => {
    const b = bundle(['sh', '-c', 'echo in-mntns']);
    const forced = run('unshare', ['-m', SKIFF, '--root', sk.root, 'run', '-b', b, 'ns2'], { env: SERVER });
    expect(forced.stderr).toBe('skiff: SKIFF_SERVER=1: the skiff server cannot serve this caller (other namespaces, root or privileges)\n');
    expect(forced.status).toBe(1);
    const auto = run('unshare', ['-m', SKIFF, '--root', sk.root, 'run', '-b', b, 'ns3'], { env: { ...process.env, SKIFF_SERVER: '' } });
    expect(auto).toMatchObject({ status: 0, stdout: 'in-mntns\n' });
  });

  it('a config too large for a request is run by Node', () => {
    const b = bundle(['sh', '-c', 'echo "${#BIG}"']);
    // 240 KB of environment (one variable may hold 128 KB at most).
    const big = Object.fromEntries(Array.from({ length: 4 }, (_, i) => [`BIG${i}`, 'x'.repeat(60 * 1024)]));
    const forced = run(SKIFF, ['--root', sk.root, 'run', '-b', b, 'big1'], { env: { ...SERVER, ...big } });
    expect(forced.stderr).toMatch(/^skiff: SKIFF_SERVER=1: the call does not fit in a request/);
    const auto = run(SKIFF, ['--root', sk.root, 'run', '-b', b, 'big2'], { env: { ...process.env, SKIFF_SERVER: '', ...big } });
    expect(auto).toMatchObject({ status: 0, stdout: '0\n' }); // the container has its own environment
  });
});

describe.skipIf(skipWhen(needRoot(), needTools('python3')))('a private server (SKIFF_SERVER_DIR): its start and its end', () => {
  let sk: Skiff;
  let dir: string;
  let seq = 0;
  const lockPid = () => {
    const lock = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.lock')) : undefined;
    return lock ? Number(readFileSync(join(dir, lock), 'utf8').trim()) : 0;
  };
  const alive = (pid: number) => pid > 0 && existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  const env = (extra: Record<string, string>) => ({ ...process.env, SKIFF_SERVER_DIR: dir, ...extra });
  beforeEach(() => {
    sk = new Skiff();
    dir = `/run/skiff-t-${process.pid}-${seq++}`;
  });
  afterEach(() => {
    const pid = lockPid();
    if (alive(pid)) process.kill(pid, 'SIGTERM'); // ours: started for this test in its own directory
    sk.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ends by itself after SKIFF_SERVER_IDLE seconds without a call, its socket removed', async () => {
    const b = makeBundle(baseConfig(['true']));
    try {
      const r = run(SKIFF, ['--root', sk.root, 'run', '-b', b, 'idle1'], { env: env({ SKIFF_SERVER: '1', SKIFF_SERVER_IDLE: '1' }) });
      expect(r, r.stderr).toMatchObject({ status: 0, stderr: '' });
      const pid = lockPid();
      expect(alive(pid)).toBe(true);
      await until(() => !alive(pid), 'the idle server to exit', 30_000);
      expect(readdirSync(dir).filter((f) => f.endsWith('.sock'))).toEqual([]);
    } finally {
      rmSync(b, { recursive: true, force: true });
    }
  });

  it("is not left in an engine's tree: under a child subreaper it is started by systemd, or not at all", async () => {
    const b = makeBundle(baseConfig(['sh', '-c', 'echo served']));
    try {
      // As conmon or containerd's shim: a child subreaper (PR_SET_CHILD_SUBREAPER = 36) runs skiff.
      const reaper = 'import ctypes, subprocess, sys; ctypes.CDLL(None).prctl(36, 1, 0, 0, 0); sys.exit(subprocess.call(sys.argv[1:]))';
      const r = run('python3', ['-c', reaper, SKIFF, '--root', sk.root, 'run', '-b', b, 'reaped1'], { env: env({ SKIFF_SERVER: '' }) });
      expect(r).toMatchObject({ status: 0, stdout: 'served\n' }); // by Node: no server was running
      const mark = () => {
        const f = existsSync(dir) ? readdirSync(dir).find((e) => e.endsWith('.start')) : undefined;
        return f ? readFileSync(join(dir, f), 'utf8') : '';
      };
      await until(() => mark() !== '', 'the front to decide', 30_000);
      if (existsSync('/run/systemd/system')) {
        expect(mark()).toMatch(/^under the child subreaper \d+: started by systemd-run\n$/);
        await until(() => alive(lockPid()), 'the server under systemd', 30_000);
        expect(readFileSync(`/proc/${lockPid()}/status`, 'utf8')).toMatch(/^PPid:\s+1$/m);
      } else {
        expect(mark()).toMatch(/^not started: under the child subreaper \d+, which would wait for it \(no systemd to start it\)\n$/);
        expect(lockPid()).toBe(0);
      }
    } finally {
      rmSync(b, { recursive: true, force: true });
    }
  });
});
