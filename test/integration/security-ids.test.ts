// Container ids are path components: every verb of the CLI, given a hostile id, must refuse it
// with one clear line before it touches the file system. The state root sits in a directory
// with a sibling "victim" (and a live container in the root): a snapshot of that whole tree
// before and after each call proves nothing outside was read into output, changed or removed.
// Also exec --cgroup: a sub-cgroup path that leaves the container's cgroup is refused.
import { spawn } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIFF, Skiff, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

const BAD_IDS = ['..', '.', '', '../victim', 'a/b', '/etc', 'x'.repeat(1000), 'nl\nx'];

/** Every verb that takes an id, with the arguments it needs to get as far as it can. */
function verbs(bundle: string): [string, (id: string) => string[]][] {
  return [
    ['create', (id) => ['create', '-b', bundle, id]],
    ['run', (id) => ['run', '-d', '-b', bundle, id]],
    ['start', (id) => ['start', id]],
    ['state', (id) => ['state', id]],
    ['kill', (id) => ['kill', id, 'KILL']],
    ['kill --all', (id) => ['kill', '--all', id, 'KILL']],
    ['delete', (id) => ['delete', id]],
    ['delete -f', (id) => ['delete', '-f', id]],
    ['exec', (id) => ['exec', id, 'true']],
    ['pause', (id) => ['pause', id]],
    ['resume', (id) => ['resume', id]],
    ['ps', (id) => ['ps', id]],
    ['ps json', (id) => ['ps', '--format', 'json', id]],
    ['events', (id) => ['events', '--stats', id]],
    ['update', (id) => ['update', '--pids-limit', '10', id]],
  ];
}

/** Path → type, mode, size, mtime and content hash of every entry under dir (fifos not opened). */
function snapshot(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p, { bigint: true });
    let what = `${st.mode} ${st.size} ${st.mtimeNs} ${st.ino}`;
    if (st.isFile()) what += ' ' + createHash('sha256').update(readFileSync(p)).digest('hex');
    out.set(p, what);
    if (st.isDirectory()) snapshot(p, out);
  }
  return out;
}

function runSkiff(root: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(SKIFF, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', fail);
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      done({ status: code ?? 128 + (sig === 'SIGKILL' ? 9 : 15), stdout, stderr });
    });
  });
}

describe.skipIf(skipWhen(needRoot()))('container ids are checked by every verb', () => {
  const top = tmp('skiff-ids-');
  const skiff = new Skiff(join(top, 'root'));
  const victim = join(top, 'victim');
  beforeAll(() => {
    mkdirSync(victim);
    // What `state ../victim` would print if it read outside the root.
    writeFileSync(join(victim, 'state.json'), JSON.stringify({ ociVersion: '1.3.0', id: 'victim', pid: 1, initStartTime: '0', bundle: '/', rootfs: '/', created: '', cgroupPaths: {}, owner: 'root', config: {} }));
    writeFileSync(join(top, 'state.json'), '{}');
    skiff.ok(['create', '-b', makeBundle(baseConfig(['sleep', '30'])), 'ids-live']);
  });
  afterAll(() => {
    skiff.cleanup();
    rmSync(top, { recursive: true, force: true });
  });

  it('refuses each bad id with one line and changes nothing, for every verb', async () => {
    const bundle = makeBundle(baseConfig(['sleep', '30']));
    try {
      const before = snapshot(top);
      const calls = verbs(bundle).flatMap(([verb, args]) => BAD_IDS.map((id) => ({ verb, id, args: args(id) })));
      // A few at a time: 120 short-lived CLI calls (slow on a loaded machine, hence the timeout).
      const results: { verb: string; id: string; r: Awaited<ReturnType<typeof runSkiff>> }[] = [];
      for (let i = 0; i < calls.length; i += 4) {
        const batch = calls.slice(i, i + 4);
        results.push(...(await Promise.all(batch.map(async (c) => ({ ...c, r: await runSkiff(skiff.root, c.args) })))));
      }
      for (const { verb, id, r } of results) {
        const what = `${verb} ${JSON.stringify(id.length > 20 ? id.slice(0, 20) + '…' : id)}`;
        expect(r.status, what).toBe(verb === 'exec' ? 255 : 1); // runc: every exec failure is 255
        expect(r.stdout, what).toBe('');
        expect(r.stderr, what).toMatch(/^skiff: invalid container id[^\n]*\n$/);
        expect(r.stderr, what).not.toMatch(/ENAMETOOLONG|at .*\.js/);
      }
      const long = results.find((x) => x.id.length === 1000)!;
      expect(long.r.stderr).toBe('skiff: invalid container id: 1000 characters long, at most 255 are allowed\n');
      expect(snapshot(top)).toEqual(before);
      expect(skiff.ok(['list', '-q'])).toBe('ids-live\n');
    } finally {
      rmSync(bundle, { recursive: true, force: true });
    }
  }, 300_000);

  it('list skips a directory in the root whose name is not an id', () => {
    const stray = join(skiff.root, 'not an id');
    mkdirSync(stray);
    try {
      expect(skiff.ok(['list', '-q'])).toBe('ids-live\n');
    } finally {
      rmSync(stray, { recursive: true });
    }
  });

  it('exec --cgroup refuses a path that leaves the container cgroup', () => {
    skiff.ok(['start', 'ids-live']);
    const cgs = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => / - cgroup2? /.test(l))
      .map((l) => l.split(' ')[4]);
    const rel = skiff.cgroup('ids-live');
    const parents = cgs.map((m) => join(m, rel, '..')).filter((d) => {
      try {
        return lstatSync(d).isDirectory();
      } catch {
        return false;
      }
    });
    expect(parents.length).toBeGreaterThan(0);
    const procsOf = () => parents.map((d) => readFileSync(join(d, 'cgroup.procs'), 'utf8'));
    const before = procsOf();
    for (const sub of ['..', '../..', 'a/../../x', '/../..', 'memory:..', 'pids:../../..', '']) {
      const r = skiff.run(['exec', '--cgroup', sub, 'ids-live', 'sleep', '5']);
      expect(r.status, sub).toBe(255); // runc: every exec failure is 255
      expect(r.stderr, sub).toBe(`skiff: bad sub cgroup path ${JSON.stringify(sub.replace(/^[a-z_]+:/, ''))}: it must stay inside the container's cgroup\n`);
    }
    expect(procsOf()).toEqual(before);
    // A path that stays inside is still fine: "." and "/" are the container's own cgroup.
    expect(skiff.ok(['exec', '--cgroup', '/', 'ids-live', 'echo', 'in'])).toBe('in\n');
  });
});
