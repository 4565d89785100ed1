// The OCI lifecycle on real containers: create/start/state/kill/delete/run/list, exit statuses,
// and misuse that must fail clearly.
import Ajv from 'ajv-draft-04';
import { needRoot, skipWhen } from '../host';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { SKIFF, Skiff, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

const SPEC_SCHEMA = join(__dirname, '../../../shared/oci-runtime-spec/schema');

/** A validator of the upstream schema `name` (defs.json's malformed ref fixed in memory). */
function upstreamValidator(name: string) {
  const ajv = new Ajv({ strict: false });
  const fix = (s: string) => JSON.parse(s.replaceAll('"#definitions/', '"#/definitions/'));
  for (const f of readdirSync(SPEC_SCHEMA).filter((f) => f.endsWith('.json') && f !== name)) ajv.addSchema(fix(readFileSync(join(SPEC_SCHEMA, f), 'utf8')), f);
  return ajv.compile(fix(readFileSync(join(SPEC_SCHEMA, name), 'utf8')));
}

const stateValidator = () => upstreamValidator('state-schema.json');

describe.skipIf(skipWhen(needRoot()))('lifecycle', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('runs a container in the foreground and passes its output and exit status through', () => {
    const r = skiff.run(['run', '-b', makeBundle(baseConfig(['sh', '-c', 'echo out; echo err >&2; exit 7'])), 'fg']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(r.status).toBe(7);
    expect(skiff.ok(['list', '-q']).trim()).toBe(''); // deleted after the run
  });

  it('exits with 128+N when the container dies of signal N, and forwards signals', async () => {
    const bundle = makeBundle(baseConfig(['sh', '-c', "trap 'exit 3' TERM; while :; do sleep 0.05; done"]));
    const waitRunning = async (id: string) => {
      for (let i = 0; i < 300; i++) {
        const r = skiff.run(['state', id]);
        if (r.status === 0 && JSON.parse(r.stdout).status === 'running') return;
        await new Promise((res) => setTimeout(res, 20));
      }
      throw new Error(`${id} never ran`);
    };
    // SIGKILL from outside: 128+9.
    const killed = spawn(SKIFF, ['--root', skiff.root, 'run', '-b', bundle, 'sigk'], { stdio: 'ignore' });
    await waitRunning('sigk');
    skiff.ok(['kill', 'sigk', 'KILL']);
    const [code] = await once(killed, 'exit');
    expect(code).toBe(137);
    // SIGTERM sent to skiff itself is forwarded: the trap makes the container exit 3.
    const fwd = spawn(SKIFF, ['--root', skiff.root, 'run', '-b', bundle, 'sigf'], { stdio: 'ignore' });
    await waitRunning('sigf');
    fwd.kill('SIGTERM');
    const [code2] = await once(fwd, 'exit');
    expect(code2).toBe(3);
  });

  it('pipes stdin through to the container process', () => {
    const r = skiff.run(['run', '-b', makeBundle(baseConfig(['cat'])), 'pipe'], { input: 'hi there\n' });
    expect(r.stdout).toBe('hi there\n');
    expect(r.status).toBe(0);
  });

  it('goes created -> running -> stopped, with a valid OCI state at each step', () => {
    const validate = stateValidator();
    const dir = tmp();
    const pidFile = join(dir, 'pid');
    const bundle = makeBundle({ ...baseConfig(['sleep', '30']), annotations: { 'org.example.k': 'v' } });
    skiff.ok(['create', '--bundle', bundle, '--pid-file', pidFile, 'life']);

    const created = JSON.parse(skiff.ok(['state', 'life']));
    expect(validate(created), JSON.stringify(validate.errors)).toBe(true);
    expect(created).toMatchObject({ id: 'life', status: 'created', bundle, annotations: { 'org.example.k': 'v' } });
    expect(readFileSync(pidFile, 'utf8')).toBe(String(created.pid));
    // The init waits on the fifo: the process is still skiff-init, not sleep.
    expect(readFileSync(`/proc/${created.pid}/comm`, 'utf8').trim()).toBe('skiff-init');

    skiff.ok(['start', 'life']);
    const running = JSON.parse(skiff.ok(['state', 'life']));
    expect(validate(running)).toBe(true);
    expect(running.status).toBe('running');
    expect(readFileSync(`/proc/${running.pid}/comm`, 'utf8').trim()).toBe('sleep');

    const again = skiff.run(['start', 'life']);
    expect(again.status).toBe(1);
    expect(again.stderr).toBe('skiff: cannot start an already running container\n');

    const del = skiff.run(['delete', 'life']);
    expect(del.status).toBe(1);
    expect(del.stderr).toBe('skiff: cannot delete container life that is not stopped: running\n');

    skiff.ok(['kill', 'life', 'KILL']);
    for (let i = 0; i < 200 && JSON.parse(skiff.ok(['state', 'life'])).status !== 'stopped'; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    const stopped = JSON.parse(skiff.ok(['state', 'life']));
    expect(validate(stopped)).toBe(true);
    expect(stopped.status).toBe('stopped');
    expect(stopped.pid).toBe(0); // as runc prints it

    const k = skiff.run(['kill', 'life', 'TERM']);
    expect(k.status).toBe(1);
    expect(k.stderr).toBe('skiff: container not running\n');
    const s = skiff.run(['start', 'life']);
    expect(s.stderr).toBe('skiff: cannot start a container that has stopped\n');

    skiff.ok(['delete', 'life']);
    expect(skiff.run(['state', 'life']).stderr).toBe('skiff: container life does not exist\n');
    expect(existsSync(join(skiff.root, 'life'))).toBe(false);
  });

  it('accepts signals by name, with or without SIG, and by number', () => {
    for (const [i, sig] of ['USR1', 'SIGUSR1', '10'].entries()) {
      const id = `sig${i}`;
      // The shell traps USR1 and exits 42: the signal arrived.
      skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sh', '-c', "trap 'exit 42' USR1; while :; do sleep 0.05; done"])), id]);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
      skiff.ok(['kill', id, sig]);
      for (let j = 0; j < 200 && JSON.parse(skiff.ok(['state', id])).status !== 'stopped'; j++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      expect(JSON.parse(skiff.ok(['state', id])).status).toBe('stopped');
      skiff.ok(['delete', id]);
    }
    expect(skiff.run(['kill', 'whatever', 'NOPE']).stderr).toBe('skiff: unknown signal "NOPE"\n');
  });

  it('lists containers as a table, as JSON and as ids', () => {
    skiff.ok(['create', '-b', makeBundle(baseConfig(['sleep', '30'])), 'l1']);
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sleep', '30'])), 'l2']);
    const rows = JSON.parse(skiff.ok(['list', '--format', 'json']));
    expect(rows.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      ['l1', 'created'],
      ['l2', 'running'],
    ]);
    expect(skiff.ok(['list', '-q'])).toBe('l1\nl2\n');
    expect(skiff.ok(['list']).split('\n')[0]).toMatch(/^ID\s+PID\s+STATUS\s+BUNDLE\s+CREATED\s+OWNER$/);
    skiff.ok(['delete', 'l1']); // a created container is deleted without --force
    skiff.ok(['delete', '--force', 'l2']);
    expect(skiff.ok(['list', '-q'])).toBe('');
  });

  it('refuses bad and duplicate container ids', () => {
    const bundle = makeBundle(baseConfig(['sleep', '30']));
    for (const id of ['../x', 'a/b', '.', 'x'.repeat(1025), 'sp ace']) {
      const r = skiff.run(['create', '-b', bundle, id]);
      expect(r.status, id).toBe(1);
      expect(r.stderr, id).toMatch(/^skiff: invalid container id/);
    }
    skiff.ok(['create', '-b', bundle, 'dup']);
    const r = skiff.run(['create', '-b', bundle, 'dup']);
    expect(r.stderr).toBe('skiff: container with id dup already exists\n');
    skiff.ok(['delete', 'dup']);
  });

  it('writes errors as runc-style JSON lines with --log-format json', () => {
    const log = join(tmp(), 'log.json');
    const r = skiff.run(['--log', log, '--log-format', 'json', 'start', 'missing']);
    expect(r.status).toBe(1);
    const line = JSON.parse(readFileSync(log, 'utf8').trim());
    expect(line).toMatchObject({ level: 'error', msg: 'container missing does not exist' });
    expect(Date.parse(line.time)).not.toBeNaN();
  });

  it('prints its version and the spec version', () => {
    expect(skiff.ok(['--version'])).toMatch(/^skiff version \d+\.\d+\.\d+\nspec: 1\.3\.0\n$/);
  });

  it('spec writes a valid config.json (and a rootless one), never over an existing file', () => {
    const validate = upstreamValidator('config-schema.json');
    for (const flags of [[], ['--rootless']]) {
      const dir = tmp();
      skiff.ok(['spec', '--bundle', dir, ...flags]);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      expect(validate(cfg), JSON.stringify(validate.errors)).toBe(true);
      expect(cfg.process.args).toEqual(['sh']);
      expect(cfg.linux.namespaces.some((n: { type: string }) => n.type === 'user')).toBe(flags.length > 0);
      const again = skiff.run(['spec', '--bundle', dir, ...flags]);
      expect(again.status).toBe(1);
      expect(again.stderr).toBe(`skiff: file ${join(dir, 'config.json')} exists: remove it first\n`);
    }
  });

  it('features prints a valid features document', () => {
    const validate = upstreamValidator('features-schema.json');
    const doc = JSON.parse(skiff.ok(['features']));
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.ociVersionMax).toBe('1.3.0');
    expect(doc.linux.namespaces).toContain('time');
    // The systemd driver is built in (as runc reports it), so its annotations are named unsafe.
    expect(doc.linux.cgroup).toEqual({ v1: true, v2: true, systemd: true, systemdUser: false, rdma: true });
    expect(doc.potentiallyUnsafeConfigAnnotations).toEqual(['org.systemd.property.']);
  });

  it('--systemd-cgroup is a clear error where no systemd runs, and leaves nothing', () => {
    const r = skiff.run(['--systemd-cgroup', 'run', '-b', makeBundle(baseConfig()), 'sysd']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('skiff: systemd cgroup driver not available: no systemd running\n');
    expect(existsSync(join(skiff.root, 'sysd'))).toBe(false);
  });
});
