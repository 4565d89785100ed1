// dock calls served by the warm server (src/cli/dock-serve.ts, skiff-front --dock) against dock on
// Node: the same stdout, stderr and status; the caller's stdin; signals reach the command as they
// would reach Node (sig-proxy to the container, or death by an unhandled one); a killed caller
// ends its call; the commands that stay on Node; and nothing of a call stays in the server (fds,
// namespaces, zombie children). SKIFF_SERVER=1 makes the front insist on the server.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { until } from '../helpers';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { ok, ops, type TestImage, useDockRoot } from './dock-helpers';

const DOCK = join(__dirname, '..', '..', 'bin', 'dock');
const SERVER_JS = join(__dirname, '..', '..', 'bin', 'skiff-server.js');

let img: TestImage;
let root: string;

const env = (server: '0' | '1', extra: Record<string, string> = {}) => ({ ...process.env, DOCK_ROOT: root, SKIFF_SERVER: server, ...extra });

/** `dock ARGS` through bin/dock, served (1) or on Node (0). */
function dock(server: '0' | '1', args: string[], input = '') {
  const r = spawnSync(DOCK, args, { env: env(server), input, encoding: 'utf8', timeout: ops(1) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same command served and on Node. */
function both(args: (n: number) => string[], input = '') {
  return [dock('1', args(1), input), dock('0', args(0), input)];
}

/** The pid of this checkout's server (the lock file names it). */
function serverPid(): number {
  dock('1', ['version']); // starts it if it is not running
  for (const f of readdirSync('/run/skiff-server').filter((e) => e.endsWith('.lock'))) {
    const pid = Number(readFileSync(join('/run/skiff-server', f), 'utf8').trim());
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] === SERVER_JS) return pid;
    } catch {
      // gone
    }
  }
  throw new Error('no server of this checkout');
}

/** What of `files` (by path) and `netns` (by inode) the server holds open, and its zombie children. */
function holdings(pid: number, files: string[], netns: string) {
  const held: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const what = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (files.includes(what) || what === netns) held.push(what);
    } catch {
      // closed meanwhile
    }
  }
  const zombies = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).filter((c) => {
    try {
      return readFileSync(`/proc/${c}/stat`, 'utf8').split(') ')[1].startsWith('Z');
    } catch {
      return false;
    }
  });
  return { held, zombies };
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock through the warm server', () => {
  useDockRoot((i, r) => {
    img = i;
    root = r;
  });

  it('ps, run, inspect and mistakes: the same output, stderr and status as on Node', () => {
    const [a, z] = both((n) => ['run', '--rm', '--network', 'none', '--name', `fg${n}`, img.name, 'sh', '-c', 'echo out; echo err >&2; echo "$(pwd)"; exit 7']);
    expect(a).toEqual(z);
    expect(a).toEqual({ status: 7, stdout: 'out\n/work-image\n', stderr: 'err\n' });
    for (const args of [['ps', '-a'], ['images', '--format', '{{.Repository}}:{{.Tag}}'], ['inspect', 'nosuch'], ['nosuch'], ['run', '--bogus', img.name], ['version']]) {
      const [s, n] = both(() => args);
      expect(s, args.join(' ')).toEqual(n);
    }
  }, ops(12));

  it("the caller's stdin: run -i reads it, exec without -i leaves it to the caller", async () => {
    const [a, z] = both((n) => ['run', '-i', '--rm', '--network', 'none', '--name', `in${n}`, img.name, 'sh', '-c', 'cat; echo end'], 'one\ntwo\n');
    expect(a).toEqual(z);
    expect(a.stdout).toBe('one\ntwo\nend\n');
    await ok(root, ['run', '-d', '--network', 'none', '--name', 'box', img.name, 'sleep', '600']);
    // A `while read` loop over dock exec keeps every line.
    const loop = spawnSync('sh', ['-c', `while read l; do "${DOCK}" exec box echo "got $l"; done`], { env: env('1'), input: 'a\nb\nc\n', encoding: 'utf8', timeout: ops(3) });
    expect([loop.status, loop.stdout, loop.stderr]).toEqual([0, 'got a\ngot b\ngot c\n', '']);
    const [e, f] = both(() => ['exec', 'box', 'sh', '-c', 'echo $((6*7)); exit 3']);
    expect(e).toEqual(f);
    expect(e).toEqual({ status: 3, stdout: '42\n', stderr: '' });
  }, ops(10));

  it('signals: a foreground run proxies them to the container; an unhandled one ends the call as it ends Node', async () => {
    const child = spawn(DOCK, ['run', '--rm', '--network', 'none', '--name', 'sig', img.name, 'sh', '-c', 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done'], { env: env('1'), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    const closed = new Promise<[number | null, string | null]>((res) => child.on('close', (c, s) => res([c, s])));
    await until(() => out.includes('ready'), 'the container to trap TERM', ops(1));
    child.kill('SIGTERM');
    expect(await closed).toEqual([5, null]);
    expect(out).toBe('ready\ngot TERM\n');
    // `dock wait` handles no signal: SIGINT ends it as it ends Node, by the signal.
    await ok(root, ['run', '-d', '--network', 'none', '--name', 'long', img.name, 'sleep', '600']);
    const w = spawn(DOCK, ['wait', 'long'], { env: env('1'), stdio: 'ignore' });
    const ended = new Promise<[number | null, string | null]>((res) => w.on('close', (c, s) => res([c, s])));
    await until(() => readFileSync(`/proc/${w.pid}/comm`, 'utf8').trim() === 'skiff-front', 'the front to run', ops(1));
    // The call has reached its worker once the front ignores SIGPIPE (dock_started).
    await until(() => (BigInt(`0x${/SigIgn:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${w.pid}/status`, 'utf8'))![1]}`) & (1n << 12n)) !== 0n, 'the call to start', ops(1));
    w.kill('SIGINT');
    expect(await ended).toEqual([null, 'SIGINT']);
    await ok(root, ['rm', '-f', 'long']);
  }, ops(10));

  it('a killed caller ends its call, and leaves no lock held', async () => {
    const child = spawn(DOCK, ['run', '--network', 'none', '--name', 'victim', img.name, 'sh', '-c', 'echo up; sleep 600'], { env: env('1'), stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    await until(() => out.includes('up'), 'the container to run', ops(1));
    child.kill('SIGKILL');
    await new Promise((res) => child.on('close', res));
    // As with a killed dock on Node: the container runs on, and every command on it still works.
    expect(dock('1', ['inspect', '-f', '{{.State.Running}}', 'victim']).stdout).toBe('true\n');
    expect(dock('1', ['rm', '-f', 'victim'])).toEqual({ status: 0, stdout: 'victim\n', stderr: '' });
  }, ops(6));

  it("the next call starts clean: the last one's options, environment and directory are gone", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dock-clean-'));
    try {
      await ok(root, ['run', '-d', '--network', 'none', '--name', 'clean', img.name, 'sleep', '600']);
      writeFileSync(join(dir, 'vars'), 'FROM_FILE=1\n');
      // Calls in quick succession are served by the same few workers, one after another.
      const calls: [string[], Record<string, string>, string | undefined][] = [
        [['ps', '--format', '{{.Names}}', '--filter', 'name=clean'], {}, undefined],
        [['ps', '--filter', 'name=clean'], {}, undefined],
        [['run', '--rm', '--network', 'none', '-e', 'PASSED', '--env-file', 'vars', img.name, 'sh', '-c', 'echo "${PASSED-unset} ${FROM_FILE-unset}"'], { PASSED: 'yes' }, dir],
        [['exec', '-e', 'PASSED', 'clean', 'sh', '-c', 'echo "${PASSED-unset} ${FROM_FILE-unset}"'], {}, undefined],
        [['run', '--rm', '--network', 'none', '--env-file', 'vars', img.name, 'true'], {}, tmpdir()],
      ];
      const out = calls.map(([args, extra, cwd]) => spawnSync(DOCK, args, { env: env('1', extra), cwd, encoding: 'utf8', timeout: ops(1) }));
      expect(out.map((r) => [r.status, r.stdout.split('\n')[0], r.stderr.replace(/:.*/s, '')])).toEqual([
        [0, 'clean', ''],
        [0, expect.stringMatching(/^CONTAINER ID +IMAGE/), ''],
        [0, 'yes 1', ''],
        [0, ' unset', ''],
        [125, '', expect.stringMatching(/^dock/)],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, ops(8));

  it('what stays on Node gives the same answers (volumes, networks)', () => {
    for (const args of [['volume', 'ls'], ['network', 'ls', '--format', '{{.Name}}']]) {
      const [s, n] = both(() => args);
      expect(s, args.join(' ')).toEqual(n);
      expect(s.status, args.join(' ')).toBe(0);
    }
  }, ops(4));

  it('nothing of a call stays in the server: not its stdio, its namespaces, or a zombie child', async () => {
    const pid = serverPid();
    const dir = mkdtempSync(join(tmpdir(), 'dock-held-'));
    try {
      // Calls from a network namespace of their own, with stdio on files of their own: once they
      // have ended, the server holds neither (nor lets a child of theirs become a zombie).
      const files = ['in', 'out', 'err'].map((f) => join(dir, f));
      writeFileSync(files[0], 'x\n');
      const script = `for i in 1 2 3; do "${DOCK}" run --rm --network none ${img.name} true && "${DOCK}" ps -a; done; readlink /proc/self/ns/net >&2`;
      const r = spawnSync('unshare', ['-n', 'sh', '-c', `{ ${script}; } <${files[0]} >${files[1]} 2>${files[2]}; echo $?`], { env: env('1'), encoding: 'utf8', timeout: ops(8) });
      expect(r.stdout).toBe('0\n');
      const netns = readFileSync(files[2], 'utf8').trim();
      expect(netns).toMatch(/^net:\[\d+\]$/);
      await until(() => JSON.stringify(holdings(pid, files, netns)) === '{"held":[],"zombies":[]}', 'the calls to be let go of', ops(1)).catch(() => undefined);
      expect(holdings(pid, files, netns)).toEqual({ held: [], zombies: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, ops(10));
});
