// Hooks at the points and in the namespaces the spec says; namespaces joined by path; many
// containers at once; two skiff processes on one container.
import { spawn } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SKIFF, Skiff, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skipWhen(needRoot()))('hooks', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('runs all six kinds with the state on stdin, args, env, in the right namespaces', () => {
    const out = tmp();
    // Each hook records: its kind, the state it read, its mount namespace and its hostname view.
    const record = (kind: string, dir: string) => ({
      path: '/bin/sh',
      args: ['sh', '-c', `cat > ${dir}/${kind}.json; readlink /proc/self/ns/mnt > ${dir}/${kind}.mnt; echo "$HOOK_ENV $0" > ${dir}/${kind}.env`, kind],
      env: ['HOOK_ENV=set'],
      timeout: 10,
    });
    const cfg = baseConfig(['sh', '-c', 'cat /hooks/startContainer.json >/dev/null && echo started']);
    cfg.mounts.push({ destination: '/hooks', type: 'bind', source: out, options: ['rbind', 'rw'] });
    cfg.hooks = {
      prestart: [record('prestart', out)],
      createRuntime: [record('createRuntime', out)],
      createContainer: [record('createContainer', out)],
      // Inside the container after pivot_root: the path and the output dir are the container's.
      startContainer: [record('startContainer', '/hooks')],
      poststart: [record('poststart', out)],
      poststop: [record('poststop', out)],
    };
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'hooked']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('started\n');
    const hostMnt = readlinkSync('/proc/self/ns/mnt');
    const kinds = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
    for (const kind of kinds) {
      const state = JSON.parse(readFileSync(join(out, `${kind}.json`), 'utf8'));
      expect(state.id, kind).toBe('hooked');
      expect(state.ociVersion).toBe('1.3.0');
      expect(readFileSync(join(out, `${kind}.env`), 'utf8'), kind).toBe(`set ${kind}\n`);
      const mnt = readFileSync(join(out, `${kind}.mnt`), 'utf8').trim();
      // createContainer and startContainer run in the container's mount namespace.
      if (kind === 'createContainer' || kind === 'startContainer') expect(mnt, kind).not.toBe(hostMnt);
      else expect(mnt, kind).toBe(hostMnt);
    }
    const pre = JSON.parse(readFileSync(join(out, 'prestart.json'), 'utf8'));
    expect(pre.status).toBe('creating');
    expect(pre.pid).toBeGreaterThan(1);
    expect(JSON.parse(readFileSync(join(out, 'poststart.json'), 'utf8')).status).toBe('running');
    expect(JSON.parse(readFileSync(join(out, 'poststop.json'), 'utf8')).status).toBe('stopped');
  });

  it('a failing startContainer hook fails start and stops the container', () => {
    const cfg = baseConfig(['sleep', '30']);
    cfg.hooks = { startContainer: [{ path: '/bin/false', args: ['false'] }] };
    skiff.ok(['create', '-b', makeBundle(cfg), 'badstart']);
    const r = skiff.run(['start', 'badstart']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('skiff: startContainer hook /bin/false: exited with status 1\n');
    expect(JSON.parse(skiff.ok(['state', 'badstart'])).status).toBe('stopped');
    skiff.ok(['delete', 'badstart']);
  });

  it('poststart and poststop failures are warnings, not errors', () => {
    const cfg = baseConfig(['true']);
    cfg.hooks = { poststart: [{ path: '/bin/false', args: ['false'] }], poststop: [{ path: '/bin/false', args: ['false'] }] };
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'warnhooks']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/level=warning msg="poststart hook \/bin\/false: exited with status 1"/);
  });
});

describe.skipIf(skipWhen(needRoot()))('namespaces joined by path', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('two containers share a pid and a uts namespace', () => {
    const a = baseConfig(['sleep', '30']);
    a.hostname = 'shared-host';
    skiff.ok(['run', '-d', '-b', makeBundle(a), 'nsa']);
    const pid = JSON.parse(skiff.ok(['state', 'nsa'])).pid;
    const b = baseConfig(['sh', '-c', 'hostname; ps -o comm | sort | uniq']);
    delete b.hostname;
    b.linux.namespaces = b.linux.namespaces.map((ns: { type: string }) =>
      ns.type === 'pid' || ns.type === 'uts' ? { type: ns.type, path: `/proc/${pid}/ns/${ns.type}` } : ns,
    );
    const r = skiff.run(['run', '-b', makeBundle(b), 'nsb']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('shared-host');
    expect(lines).toContain('sleep'); // a's process, seen from b
    skiff.ok(['delete', '--force', 'nsa']);
  });
});

describe.skipIf(skipWhen(needRoot()))('concurrency', () => {
  const skiff = new Skiff();
  const outDir = tmp('skiff-cli-out-');
  afterAll(() => {
    skiff.cleanup();
    rmSync(outDir, { recursive: true, force: true });
  });

  // stderr into a file, read once the command has exited: a created container keeps the command's
  // stdio open, so a pipe would not end with the command, and its 'exit' may come before the data.
  let calls = 0;
  const cli = async (args: string[]) => {
    const file = join(outDir, `err${calls++}`);
    const fd = openSync(file, 'w+');
    try {
      const p = spawn(SKIFF, ['--root', skiff.root, ...args], { stdio: ['ignore', 'ignore', fd] });
      const [code] = await once(p, 'exit');
      return { code: code as number, err: readFileSync(file, 'utf8') };
    } finally {
      closeSync(fd);
    }
  };

  it('creates and deletes 50 containers in parallel and leaves nothing behind', async () => {
    const bundle = makeBundle(baseConfig(['sleep', '30']));
    const ids = Array.from({ length: 50 }, (_, i) => `par${i}`);
    const created = await Promise.all(ids.map((id) => cli(['create', '-b', bundle, id])));
    expect(created.filter((c) => c.code !== 0).map((c) => c.err)).toEqual([]);
    const rows = JSON.parse(skiff.ok(['list', '--format', 'json']));
    expect(rows.filter((r: { status: string }) => r.status === 'created')).toHaveLength(50);
    const pids = rows.map((r: { pid: number }) => r.pid);
    const deleted = await Promise.all(ids.map((id) => cli(['delete', '--force', id])));
    expect(deleted.filter((c) => c.code !== 0).map((c) => c.err)).toEqual([]);
    expect(readdirSync(skiff.root)).toEqual([]);
    // A zombie the machine's pid 1 has not reaped yet still names its (hybrid unified) cgroup: not a live process.
    const cgroupOfLive = (pid: number) => {
      try {
        return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')) ? '' : readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      } catch {
        return ''; // gone
      }
    };
    for (const pid of pids) expect(cgroupOfLive(pid).includes('/par')).toBe(false);
    for (const h of readdirSync('/sys/fs/cgroup')) for (const id of ids) expect(existsSync(join('/sys/fs/cgroup', h, skiff.cgroup(id))), `${h} ${id}`).toBe(false);
  }, 100 * 3_000); // 100 skiff commands at once on 2 cores: 3 s of machine each bounds a hang, not the speed

  it('one id claimed by ten racing creates: exactly one wins, the state stays whole', async () => {
    const bundle = makeBundle(baseConfig(['sleep', '30']));
    const results = await Promise.all(Array.from({ length: 10 }, () => cli(['create', '-b', bundle, 'race'])));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((x) => x.code !== 0)) expect(r.err).toBe('skiff: container with id race already exists\n');
    // Racing start, kill and delete on it: every command sees a consistent state.
    const ops = await Promise.all([cli(['start', 'race']), cli(['start', 'race']), cli(['kill', 'race', 'KILL'])]);
    expect(ops.filter((o) => o.code === 0).length).toBeGreaterThanOrEqual(1);
    await sleep(100);
    const state = JSON.parse(skiff.ok(['state', 'race']));
    expect(['running', 'stopped']).toContain(state.status);
    const dels = await Promise.all(Array.from({ length: 5 }, () => cli(['delete', '--force', 'race'])));
    expect(dels.every((d) => d.code === 0)).toBe(true);
    expect(existsSync(join(skiff.root, 'race'))).toBe(false);
  });
});
