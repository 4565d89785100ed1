// A careless caller and a killed skiff: create into a frozen cgroup is refused at once instead of
// hanging on a frozen init; a skiff SIGKILLed during create leaves nothing once delete -f ran (the
// CLI on Node) or once the warm server noticed (skiff-front).
import { spawn } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseConfig, isRoot, makeBundle, Skiff, SKIFF, until } from '../helpers';

/** Mount points of the cgroup hierarchies skiff uses (v1 controllers, or the v2 root). */
function hierarchies(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => / - cgroup2? /.test(l))
    .map((l) => l.split(' ')[4]);
}
const v1Freezer = existsSync('/sys/fs/cgroup/freezer/freezer.state') || existsSync('/sys/fs/cgroup/freezer/tasks');
const existing = (rel: string) => hierarchies().filter((h) => existsSync(join(h, rel)));

describe.skipIf(skipWhen(needRoot()))('frozen cgroups and a killed create', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  describe.skipIf(!v1Freezer && !existsSync('/sys/fs/cgroup/cgroup.freeze') && !existsSync('/sys/fs/cgroup/cgroup.subtree_control'))('frozen', () => {
    const name = `skiff-sec-frozen-${process.pid}`;
    const dir = v1Freezer ? join('/sys/fs/cgroup/freezer', name) : join('/sys/fs/cgroup', name);
    const freeze = (d: string, on: boolean) =>
      v1Freezer ? writeFileSync(join(d, 'freezer.state'), on ? 'FROZEN' : 'THAWED') : writeFileSync(join(d, 'cgroup.freeze'), on ? '1' : '0');
    afterAll(() => {
      for (const d of [join(dir, 'child'), dir]) {
        try {
          freeze(d, false);
        } catch {
          /* gone */
        }
      }
      for (const h of hierarchies()) for (const d of [join(h, name, 'child'), join(h, name)]) try { rmdirSync(d); } catch { /* gone */ }
    });

    it('run -d into a frozen cgroup, or below one, fails at once with one line and leaves nothing', () => {
      mkdirSync(dir);
      freeze(dir, true);
      for (const [id, path, what] of [
        ['frozen-self', `/${name}`, `cgroup /${name} is frozen: thaw it`],
        ['frozen-parent', `/${name}/child`, `cgroup /${name}/child is frozen (a parent is): thaw it`],
      ]) {
        const cfg = baseConfig(['sleep', '30']);
        cfg.linux.cgroupsPath = path;
        const r = skiff.run(['run', '-d', '-b', makeBundle(cfg), id], { timeout: 60_000 });
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).toBe(`skiff: ${what} before creating a container in it\n`);
        expect(readdirSync(skiff.root)).toEqual([]);
      }
      // The caller's own frozen cgroup is still there and still frozen; no child was left in it.
      expect(existsSync(dir)).toBe(true);
      expect(existing(`${name}/child`)).toEqual([]);
      expect(readFileSync(join(dir, v1Freezer ? 'freezer.state' : 'cgroup.freeze'), 'utf8').trim()).toBe(v1Freezer ? 'FROZEN' : '1');
    });
  });

  /** Pids in the container's cgroup, in every hierarchy. */
  const cgroupPids = (id: string) => [
    ...new Set(existing(skiff.cgroup(id)).flatMap((d) => readFileSync(join(d, skiff.cgroup(id), 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number))),
  ];
  /** A pid that runs (not gone, not a zombie waiting for its reaper). */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };

  // Killed while the runtime runs a createRuntime hook (the init waits for its answer), and while
  // the init itself runs a createContainer hook inside the container. The CLI on Node dies with its
  // caller: list shows the half-made container, delete -f removes it all. The warm server
  // (src/cli/server.ts) outlives the killed skiff-front: it sees its caller go and undoes the
  // create itself. Either way no process, cgroup or state of it is left.
  for (const mode of ['node', 'server'] as const) {
    for (const [kind, hook] of [
      ['createRuntime', 'sleep 3'],
      ['createContainer', 'sleep 30'],
    ] as const) {
      it(`SIGKILL of skiff during create (in a ${kind} hook, ${mode}): nothing of it is left`, async () => {
        const id = `killed-${kind.toLowerCase()}-${mode}`;
        const cfg = baseConfig(['sleep', '30']);
        cfg.hooks = { [kind]: [{ path: '/bin/sh', args: ['sh', '-c', hook] }] };
        const bundle = makeBundle(cfg);
        const env = { ...process.env, SKIFF_SERVER: mode === 'server' ? '1' : '0' };
        const child = spawn(SKIFF, ['--root', skiff.root, 'create', '-b', bundle, id], { stdio: 'ignore', env });
        const exited = new Promise((r) => child.on('exit', r));
        try {
          // The hook runs once the cgroups exist and the init waits (or, inside, runs it).
          await until(() => existing(skiff.cgroup(id)).length > 0 && existsSync(join(skiff.root, id, 'state.json')) && cgroupPids(id).length >= (kind === 'createContainer' ? 2 : 1), 'create to reach its hook');
          await new Promise((r) => setTimeout(r, 300)); // inside the hook
          expect(JSON.parse(skiff.ok(['list', '--format', 'json'])).map((c: { id: string; status: string }) => [c.id, c.status])).toEqual([[id, 'creating']]);
          const pids = cgroupPids(id);
          expect(pids.length).toBeGreaterThan(0);
          child.kill('SIGKILL');
          await exited;
          if (mode === 'node') {
            expect(existing(skiff.cgroup(id)).length).toBeGreaterThan(0); // what a killed create leaves
            expect(JSON.parse(skiff.ok(['state', id])).status).toBe('stopped');
            expect(skiff.ok(['list', '-q'])).toBe(`${id}\n`);
            skiff.ok(['delete', '-f', id]);
          } else {
            // The server notices at once while it waits for the init, after the hook when it runs one.
            await until(() => !existsSync(join(skiff.root, id)) && existing(skiff.cgroup(id)).length === 0, 'the server to undo the create');
          }
          expect(existing(skiff.cgroup(id))).toEqual([]);
          expect(readdirSync(skiff.root)).toEqual([]);
          // Every process that was in the container's cgroup (skiff-init, the in-container hook) ends.
          await until(() => pids.every((p) => !alive(p)), `the container's processes ${pids.join(' ')} to end`);
        } finally {
          child.kill('SIGKILL');
          skiff.run(['delete', '-f', id]);
          rmSync(bundle, { recursive: true, force: true });
        }
      });
    }
  }
});
