// rootless: the library run by an unprivileged user (nobody, through setpriv) on this machine's real
// cgroup tree, where nothing is delegated to it. It must go on without cgroups (warning once per
// hierarchy), and refuse limits clearly instead of failing half-way. The library is bundled with
// esbuild into a temp dir so that the unprivileged node can load it.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';


describe.skipIf(skipWhen(needRoot(), needTools('setpriv')))('cgroups as an unprivileged user (rootless)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-test-rootless-'));
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs without cgroups and refuses limits with a clear error', () => {
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      `import { openCgroupManager } from ${JSON.stringify(join(__dirname, '../../src/runtime/cgroups'))};
const out: Record<string, unknown> = {};
const cg = openCgroupManager({ id: 'x', cgroupsPath: '/skiff-test-rootless-${process.pid}', rootless: true });
cg.create();
cg.apply({});
cg.addProcess(process.pid);
out.paths = cg.paths();
out.warnings = cg.warnings;
out.pids = cg.pids();
try { cg.apply({ pids: { limit: 10 } }); out.apply = 'no error'; } catch (e) { out.apply = (e as Error).message; }
try { cg.freeze(); out.freeze = 'no error'; } catch (e) { out.freeze = (e as Error).message; }
out.frozen = cg.isFrozen();
cg.destroy();
console.log(JSON.stringify(out));
`,
    );
    const bundle = join(dir, 'entry.js');
    buildSync({ entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', logLevel: 'silent' });
    chmodSync(bundle, 0o644);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, bundle], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.paths).toEqual({});
    expect(out.pids).toEqual([]);
    expect(out.frozen).toBe(false);
    expect(out.warnings.length).toBeGreaterThan(0);
    for (const w of out.warnings) expect(w).toMatch(/^rootless: cannot create cgroup \/sys\/fs\/cgroup\/.*skiff-test-rootless-\d+, (not using the .* hierarchy|running without a cgroup)$/);
    expect(out.apply).toMatch(/cannot set linux\.resources\.pids: (no permission to use the pids cgroup \(rootless\)|rootless and no writable cgroup)/);
    expect(out.freeze).toMatch(/cannot freeze: (no permission to use the freezer cgroup \(rootless\)|rootless and no writable cgroup)/);
  });
});
