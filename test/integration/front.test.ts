// The native front (addon/front.c) against the TypeScript CLI (bin/skiff.js, Node alone): the same
// output, status and side effects for state, start, kill, delete and list, on real containers; what the front does
// not serve reaches the CLI unchanged. Root only.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeFastState } from '../../src/runtime/fast-state';
import { ROOT, Skiff, baseConfig, isRoot, makeBundle, run } from '../helpers';

const FRONT = join(ROOT, 'build', 'Release', 'skiff-front');
const CLI = join(ROOT, 'bin', 'skiff.js');
/** A bound for one skiff command (the Node CLI starts in ~3 s at a load of 30): guards a hang, not speed. */
const CMD_MS = 5_000;

describe.skipIf(!isRoot || !existsSync(FRONT))('native front', () => {
  let sk: Skiff;
  let bundles: string[];
  /** The TypeScript CLI alone, on the same root. */
  const cli = (args: string[]) => run(CLI, ['--root', sk.root, ...args]);
  const front = (args: string[]) => sk.run(args);
  const bundle = (args: string[], edit: (c: Record<string, any>) => void = () => {}) => {
    const cfg = baseConfig(args);
    edit(cfg);
    const dir = makeBundle(cfg);
    bundles.push(dir);
    return dir;
  };
  /** Both answer `state` with the same bytes; returns the status. */
  const sameState = (id: string) => {
    const a = front(['state', id]);
    const b = cli(['state', id]);
    expect(a).toEqual(b);
    return a.status === 0 ? JSON.parse(a.stdout).status : undefined;
  };

  /** Both list the same, in every format (and without Node: the front served it). */
  const sameList = () => {
    for (const args of [['list'], ['list', '-q'], ['list', '--format', 'json'], ['ls', '-f', 'json']]) {
      const a = sk.run(args, { env: { PATH: '/nonexistent' } });
      expect(a, args.join(' ')).toEqual(cli(args));
      expect(a.status).toBe(0);
    }
  };

  beforeEach(() => {
    sk = new Skiff();
    bundles = [];
  });
  afterEach(() => {
    sk.cleanup();
    for (const b of bundles) rmSync(b, { recursive: true, force: true });
  });

  it('answers state, start, kill and delete as the CLI does, in every status', () => {
    const b = bundle(['sleep', '600'], (c) => (c.annotations = { 'org.example/é': 'a "quoted"\nvalue' }));
    sameList(); // empty root
    sk.ok(['create', '--bundle', b, 'f1']);
    sk.ok(['create', '--bundle', bundle(['sleep', '600']), 'f0']);
    sameList();
    const summary = decodeFastState(readFileSync(join(sk.root, 'f1', 'fast-state')));
    expect(summary.get('skiff-fast')).toBe('1');
    expect(summary.get('poststart')).toBe('0');
    expect(sameState('f1')).toBe('created');
    // served without Node: with no node on PATH, only the front can answer
    const noNode = { env: { PATH: '/nonexistent' } };
    expect(sk.run(['state', 'f1'], noNode)).toEqual(cli(['state', 'f1']));
    expect(sk.run(['start', 'f1'], noNode).status).toBe(0);
    expect(sameState('f1')).toBe('running');
    // start again: the front hands over, and the CLI refuses
    expect(front(['start', 'f1'])).toEqual(cli(['start', 'f1']));
    sk.ok(['pause', 'f1']);
    expect(sameState('f1')).toBe('paused');
    sameList();
    sk.ok(['resume', 'f1']);
    expect(sk.run(['kill', 'f1', 'sigkill'], noNode).status).toBe(0);
    // Wait on the front alone: comparing both while the process exits can catch one on each side.
    const statusOf = () => JSON.parse(front(['state', 'f1']).stdout).status;
    for (const deadline = Date.now() + 30_000; statusOf() !== 'stopped' && Date.now() < deadline; ) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    expect(sameState('f1')).toBe('stopped');
    sameList();
    sk.ok(['delete', '--force', 'f0']); // f1 is then the last container of the root's parent cgroup
    // kill of a stopped container and start of one: the CLI's errors and statuses, through the front
    expect(front(['kill', 'f1', 'KILL'])).toEqual(cli(['kill', 'f1', 'KILL']));
    expect(front(['start', 'f1'])).toEqual(cli(['start', 'f1']));
    // delete of the stopped container, served without Node: its cgroups and state directory go
    const cgroupDir = join('/sys/fs/cgroup/pids', sk.cgroup('f1'));
    const summary2 = decodeFastState(readFileSync(join(sk.root, 'f1', 'fast-state')));
    expect(summary2.get('cgroup.plan')).toBe('1');
    expect(existsSync(cgroupDir) || !existsSync('/sys/fs/cgroup/pids/cgroup.procs')).toBe(true);
    expect(sk.run(['delete', '--force', 'f1'], noNode).status).toBe(0);
    expect(existsSync(join(sk.root, 'f1'))).toBe(false);
    expect(existsSync(cgroupDir)).toBe(false);
    expect(existsSync(join(cgroupDir, '..'))).toBe(false); // the empty parent skiff made for this root
    expect(sameState('f1')).toBeUndefined();
    expect(front(['delete', 'f1'])).toEqual(cli(['delete', 'f1']));
  }, 80 * CMD_MS); // ~80 skiff commands (each list and state twice: front and CLI)

  it('leaves delete of a live container, or one with poststop hooks, to the CLI', () => {
    const marker = join(sk.root, 'poststop-ran');
    const b = bundle(['sleep', '600'], (c) => (c.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo ok > ${marker}`] }] }));
    sk.ok(['create', '--bundle', b, 'f4']);
    sk.ok(['start', 'f4']);
    expect(front(['delete', 'f4'])).toEqual(cli(['delete', 'f4'])); // refused: running
    expect(front(['delete', '--force', 'f4']).status).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('ok\n');
    expect(existsSync(join(sk.root, 'f4'))).toBe(false);
  });

  it('deletes a created or running container with --force itself, and leaves a paused one to the CLI', () => {
    const noNode = { env: { PATH: '/nonexistent' } };
    const b = bundle(['sleep', '600']);
    sk.ok(['create', '--bundle', b, 'f5']); // created: the init waits on the fifo
    sk.ok(['create', '--bundle', b, 'f6']);
    sk.ok(['start', 'f6']);
    const pids = ['f5', 'f6'].map((id) => JSON.parse(cli(['state', id]).stdout).pid as number);
    const cgroupDir = join('/sys/fs/cgroup/pids', sk.cgroup('f6'));
    expect(front(['delete', 'f6'])).toEqual(cli(['delete', 'f6'])); // refused without --force: running
    for (const id of ['f5', 'f6']) {
      // served without Node: with no node on PATH, only the front can answer
      expect(sk.run(['delete', '--force', id], noNode)).toEqual({ status: 0, stdout: '', stderr: '' });
      expect(existsSync(join(sk.root, id))).toBe(false);
    }
    expect(existsSync(cgroupDir)).toBe(false);
    // Again, as containerd's shim does after the exit: nothing there, success, without Node.
    expect(sk.run(['delete', '--force', 'f6'], noNode)).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(front(['delete', '--force', 'f6'])).toEqual(cli(['delete', '--force', 'f6']));
    for (const pid of pids) expect(existsSync(`/proc/${pid}/stat`) && !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))).toBe(false);
    // paused: the CLI thaws and kills (no Node on PATH: the front handed it over and the exec failed)
    sk.ok(['create', '--bundle', b, 'f7']);
    sk.ok(['start', 'f7']);
    sk.ok(['pause', 'f7']);
    expect(sk.run(['delete', '--force', 'f7'], noNode).status).not.toBe(0);
    expect(front(['delete', '--force', 'f7']).status).toBe(0);
    expect(existsSync(join(sk.root, 'f7'))).toBe(false);
  });

  it('hands over bad input and what it does not serve, unchanged', () => {
    const b = bundle(['sleep', '600']);
    sk.ok(['create', '--bundle', b, 'f2']);
    for (const args of [
      ['state', '../f2'],
      ['state', 'x'.repeat(256)],
      ['state', 'f2', 'extra'],
      ['state'],
      ['kill', 'f2', 'NOSUCH'],
      ['kill', 'f2', '99'],
      ['kill', '--all', 'f2', 'CONT'],
      ['--bogus', 'state', 'f2'],
      ['start', 'no-such'],
      ['list', '--bogus'],
      ['list', '-f', 'yaml'],
      ['list', '-f=json'],
    ]) {
      expect(front(args), args.join(' ')).toEqual(cli(args));
    }
    expect(sameState('f2')).toBe('created');
  });

  it('leaves a start with poststart hooks to the CLI, which runs them', () => {
    const marker = join(sk.root, 'poststart-ran');
    const b = bundle(['sleep', '600'], (c) => (c.hooks = { poststart: [{ path: '/bin/sh', args: ['sh', '-c', `echo ok > ${marker}`] }] }));
    sk.ok(['create', '--bundle', b, 'f3']);
    expect(decodeFastState(readFileSync(join(sk.root, 'f3', 'fast-state'))).get('poststart')).toBe('1');
    expect(front(['start', 'f3']).status).toBe(0);
    expect(readFileSync(marker, 'utf8')).toBe('ok\n');
    expect(sameState('f3')).toBe('running');
  });
});
