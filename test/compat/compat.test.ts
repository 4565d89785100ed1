// runc beside skiff (and crun where it runs on this host): every scenario of scenarios/*.ts under
// each runtime, the observations compared with runc's. runc is the reference; a difference that
// stays is declared on the scenario (`differs`) with its reason and listed in the README's
// "differs from runc" table, which this test checks.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, isRoot } from '../helpers';
import { type Json, type Observation, RUNTIMES, type Scenario, Side, removeCgroupParents } from './harness';
import { SCENARIOS } from './scenarios';

const runc = RUNTIMES.find((r) => r.name === 'runc')!;
const have = (p: string) => existsSync(p);

/** `runc spec`: the config every tutorial and tool starts from. */
function runcSpec(): Json {
  const dir = mkdtempSync(join(tmpdir(), 'compat-spec-'));
  try {
    execFileSync(runc.path, ['spec', '--bundle', dir]);
    return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function withoutIgnored(s: Scenario, obs: Observation): Observation {
  const copy = structuredClone(obs);
  s.differs?.ignore(copy);
  return copy;
}

describe.skipIf(!isRoot || !have(runc.path))('skiff beside runc', () => {
  let sides: Side[] = [];
  let crun: Side | undefined;
  beforeAll(async () => {
    const base = runcSpec();
    sides = [new Side(runc, base), new Side(RUNTIMES.find((r) => r.name === 'skiff')!, base)];
    // crun refuses hybrid cgroup hosts outright ("cgroups in hybrid mode not supported"): it is
    // compared only where one plain container runs.
    const crunBin = RUNTIMES.find((r) => r.name === 'crun')!;
    if (have(crunBin.path)) {
      const c = new Side(crunBin, base);
      const probe = await c.observe({ name: 'probe', area: 'lifecycle', config: (cfg) => (cfg.process.args = ['true']) }, 'probe');
      if ((probe.steps[0] as { status: number }).status === 0) crun = c;
      else c.dispose();
    }
  });
  afterAll(() => {
    for (const s of [...sides, ...(crun ? [crun] : [])]) {
      try {
        s.dispose();
      } finally {
        removeCgroupParents(s.bin.name);
      }
    }
  });

  for (const [n, s] of SCENARIOS.entries()) {
    it(`${s.area}: ${s.name}`, async () => {
      const id = `compat-${n}`;
      const [ref, ours] = await Promise.all(sides.map((side) => side.observe(s, id)));
      expect(withoutIgnored(s, ref).leftovers, 'runc left something behind: the scenario is wrong').toEqual([]);
      expect(withoutIgnored(s, ours)).toEqual(withoutIgnored(s, ref));
      if (crun && !s.crunDiffers) expect(await crun.observe(s, id)).toEqual(ref);
    });
  }
});

describe('the README lists every difference from runc that stays', () => {
  it('names each scenario with a `differs` reason in its "differs from runc" table', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Differs from runc'));
    for (const s of SCENARIOS.filter((x) => x.differs)) expect(table, s.name).toContain(`| ${s.name} |`);
  });
});
