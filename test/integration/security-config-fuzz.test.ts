// config.json from a careless (or hostile) caller: seeded random mutations of a valid config --
// wrong types, huge numbers, odd strings, missing fields, unicode, unknown keys -- each given to
// the runtime library's create. Each must either make a container (then deleted) or fail with one
// line, never a JavaScript crash (TypeError, RangeError...), and leave no state directory, mount,
// cgroup or process behind. SKIFF_FUZZ_SEED=N reproduces a run; SKIFF_FUZZ_RUNS=N sets how many.
// Also: a config nested 10,000 levels deep is refused with one clear line by the CLI.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { createHash } from 'node:crypto';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create } from '../../src/runtime/create';
import { deleteContainer } from '../../src/runtime/delete';
import { native } from '../../src/runtime/native';
import { openRuntime } from '../../src/runtime/runtime';
import { Skiff, TEST_ROOTFS, baseConfig, isRoot, mountsUnder, tmp } from '../helpers';

const SEED = Number(process.env.SKIFF_FUZZ_SEED ?? 20261204);
const RUNS = Number(process.env.SKIFF_FUZZ_RUNS ?? 2000);

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Odd values. No existing host path among them: a mutated mount source or hook must not reach
// anything real on this machine.
const STRINGS = ['', ' ', '.', '..', '../../..', '/nonexistent-skiff-fuzz', 'a/../../b', '\u0000', '\n', 'é漢字🙂', '\ud800', '%s%n', '-1', '1e400', 'x'.repeat(5000), 'rw,nosuid', 'CAP_SYS_ADMIN', 'RLIMIT_NOFILE', 'bind', 'tmpfs', 'pid', 'network'];
const NUMBERS = [0, -1, 1, 1.5, -0.5, 255, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, -1e308];

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function randomValue(r: () => number, depth = 0): Json {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  switch (Math.floor(r() * 8)) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: case 3: return pick(NUMBERS);
    case 4: case 5: return pick(STRINGS);
    case 6: return depth > 2 ? [] : Array.from({ length: Math.floor(r() * 3) }, () => randomValue(r, depth + 1));
    default: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: Math.floor(r() * 3) }, () => [pick(STRINGS), randomValue(r, depth + 1)]));
  }
}

/** Every path in the document, but never root.path (the rootfs stays the fuzz test's own copy). */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (at.join('.') === 'root.path') return out;
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths(v[k], [...at, k], out);
  return out;
}

function mutate(doc: Json, r: () => number): string {
  const all = paths(doc).filter((p) => p.length > 0);
  const p = all[Math.floor(r() * all.length)];
  const parent = p.slice(0, -1).reduce<any>((o, k) => o[k], doc);
  const key = p[p.length - 1];
  const old = parent[key];
  const how = Math.floor(r() * 6);
  if (how === 0) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return `delete ${p.join('.')}`;
  }
  if (how === 1 && typeof old === 'number') parent[key] = NUMBERS[Math.floor(r() * NUMBERS.length)];
  else if (how === 2) parent[key] = typeof old === 'string' ? NUMBERS[Math.floor(r() * NUMBERS.length)] : STRINGS[Math.floor(r() * STRINGS.length)];
  else if (how === 3 && Array.isArray(old)) old.push(old.length ? structuredClone(old[Math.floor(r() * old.length)]) : randomValue(r));
  else if (how === 4 && old && typeof old === 'object' && !Array.isArray(old)) old[STRINGS[Math.floor(r() * STRINGS.length)]] = randomValue(r);
  else parent[key] = randomValue(r);
  return `change ${p.join('.')}`;
}

const CRASHES = [TypeError, RangeError, ReferenceError, SyntaxError];

/**
 * The cgroups this test could have made, in every hierarchy: the tree under its own parent
 * (skiff/<hash of its state root>, where relative cgroupsPaths land too) and each absolute path a
 * mutated cgroupsPath can name. Other cgroups belong to other tests running at the same time.
 */
function cgroupSnapshot(stateRoot: string): string[] {
  const parent = `skiff/${createHash('sha256').update(stateRoot).digest('hex').slice(0, 12)}`;
  const absolute = STRINGS.filter((x) => x.startsWith('/') || x.includes('..')).map((x) => posix.normalize('/' + x));
  const out: string[] = [];
  for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (!/ - cgroup2? /.test(m)) continue;
    const mnt = m.split(' ')[4];
    const walk = (dir: string, depth: number) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // not there
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        out.push(join(dir, e.name));
        if (depth < 3) walk(join(dir, e.name), depth + 1);
      }
    };
    walk(join(mnt, parent), 0);
    for (const a of absolute) if (a !== '/' && existsSync(join(mnt, a))) out.push(join(mnt, a));
  }
  return out.sort();
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

describe.skipIf(skipWhen(needRoot()))('config.json fuzz', () => {
  const work = tmp('skiff-fuzz-');
  const rootfs = join(work, 'rootfs');
  const bundle = join(work, 'bundle');
  const rt = openRuntime({ root: join(work, 'state') });
  const skiff = new Skiff();
  beforeAll(() => {
    cpSync(TEST_ROOTFS, rootfs, { recursive: true, verbatimSymlinks: true });
    mkdirSync(bundle);
  });
  afterAll(() => {
    skiff.cleanup();
    for (const id of existsSync(rt.root) ? readdirSync(rt.root) : []) {
      try {
        deleteContainer(rt, id, true);
      } catch {
        /* reported by the test */
      }
    }
    rmSync(work, { recursive: true, force: true });
  });

  it(`${RUNS} seeded mutations (seed ${SEED}): each runs or fails with one line, and leaves nothing`, async () => {
    const r = rng(SEED);
    const cgBefore = cgroupSnapshot(rt.root);
    const kidsBefore = new Set(childrenOf(process.pid));
    let created = 0;
    const reasons = new Map<string, number>();
    for (let i = 0; i < RUNS; i++) {
      const doc = baseConfig(['sleep', '30']) as Json;
      (doc as any).root = { path: rootfs, readonly: false };
      const what = Array.from({ length: 1 + Math.floor(r() * 3) }, () => mutate(doc, r)).join(', ');
      const label = `run ${i} (seed ${SEED}): ${what}`;
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(doc));
      const id = `fz${i}`;
      try {
        await create(rt, { id, bundle });
        created++;
        deleteContainer(rt, id, true);
      } catch (e) {
        const err = e as Error;
        expect(CRASHES.some((c) => err instanceof c && err.name !== 'SkiffError'), `${label}: ${err.stack}`).toBe(false);
        expect(err.message, label).toMatch(/^[^\n]+$/);
        const reason = err.message.replace(/^invalid config\.json: /, '').replace(/[:"].*$/, '');
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      expect(existsSync(rt.root) ? readdirSync(rt.root) : [], label).toEqual([]);
      // Processes: wait (bounded) for killed ones to be reaped by whoever reaps them.
      // Processes: killed inits are reparented to us (create makes its caller a subreaper), as
      // they are to a CLI's parent: reap them; anything still alive after a bounded wait is a leak.
      const deadline = Date.now() + 5000;
      let kids = childrenOf(process.pid).filter((k) => !kidsBefore.has(k));
      while (kids.length && Date.now() < deadline) {
        for (const k of kids) native().waitPidSync(k, true);
        kids = childrenOf(process.pid).filter((k) => !kidsBefore.has(k));
        if (kids.length) await new Promise((res) => setTimeout(res, 20));
      }
      expect(kids, label).toEqual([]);
      if (i % 50 === 49 || i === RUNS - 1) {
        expect(mountsUnder([work]), label).toEqual([]);
        expect(cgroupSnapshot(rt.root), label).toEqual(cgBefore);
      }
    }
    // The mutations reached both outcomes, and many different checks.
    if (process.env.SKIFF_FUZZ_SHOW) console.log(created, [...reasons].sort((a, b) => b[1] - a[1]));
    expect(created).toBeGreaterThan(0);
    expect(reasons.size).toBeGreaterThan(10);
  }, 900_000);

  it('a config.json nested 10,000 levels deep is one clear line', () => {
    const cfg = baseConfig(['true']);
    const text = JSON.stringify(cfg).replace(/}$/, `,"annotations":{"x":${'['.repeat(10000)}${']'.repeat(10000)}}}`);
    const dir = tmp('skiff-fuzz-deep-');
    try {
      writeFileSync(join(dir, 'config.json'), text);
      const r = skiff.run(['create', '-b', dir, 'deep']);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^skiff: invalid config\.json: too deeply nested \(more than 2000 levels\) at line 1 column \d+\n$/);
      expect(readdirSync(skiff.root)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
