// Every failing create says why in one line and leaves nothing behind: no state directory, no
// mount, no cgroup, no process.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Skiff, TEST_ROOTFS, baseConfig, isRoot, makeBundle, mountsUnder, tmp } from '../helpers';

/** Processes whose cgroup is the container's default one. */
function processesOf(cgroup: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${cgroup}\n`)) out.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

function cgroupDirsOf(cgroup: string): string[] {
  const out: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const d = join('/sys/fs/cgroup', h, cgroup);
    if (existsSync(d)) out.push(d);
  }
  return out;
}

describe.skipIf(skipWhen(needRoot()))('failing create leaves nothing behind', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());
  let n = 0;

  function expectFailure(cfgOrBundle: Record<string, any> | string, message: string | RegExp, cmd = 'create') {
    const id = `fail${n++}`;
    const bundle = typeof cfgOrBundle === 'string' ? cfgOrBundle : makeBundle(cfgOrBundle);
    // The container's own mounts live in its mount namespace; what could leak onto the host are
    // mounts of its rootfs, bundle or state (other test files mount under /tmp at the same time).
    const watched = [TEST_ROOTFS, bundle, skiff.root];
    const before = mountsUnder(watched).length;
    const r = skiff.run([cmd, '-b', bundle, id]);
    expect(r.status, r.stderr).not.toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines, lines.join(' | ')).toHaveLength(1);
    if (typeof message === 'string') expect(lines[0]).toBe(`skiff: ${message}`);
    else expect(lines[0]).toMatch(message);
    expect(existsSync(join(skiff.root, id)), 'state dir').toBe(false);
    expect(cgroupDirsOf(skiff.cgroup(id)), 'cgroups').toEqual([]);
    expect(processesOf(skiff.cgroup(id)), 'processes').toEqual([]);
    expect(mountsUnder(watched).length, 'mounts').toBe(before);
  }

  it('missing rootfs', () => {
    const cfg = baseConfig();
    cfg.root.path = '/nonexistent/rootfs';
    expectFailure(cfg, 'rootfs ("/nonexistent/rootfs") does not exist');
  });

  it('bad mount source', () => {
    const cfg = baseConfig();
    cfg.mounts.push({ destination: '/x', type: 'bind', source: '/nonexistent/src', options: ['rbind'] });
    expectFailure(cfg, 'bind mount /nonexistent/src to /x: no such file or directory');
  });

  it('unknown filesystem type', () => {
    const cfg = baseConfig();
    cfg.mounts.push({ destination: '/x', type: 'nosuchfs', source: 'none' });
    expectFailure(cfg, 'mount none (nosuchfs) to /x: no such device');
  });

  it('unknown namespace path', () => {
    const cfg = baseConfig();
    cfg.linux.namespaces = cfg.linux.namespaces.map((ns: { type: string }) => (ns.type === 'network' ? { type: 'network', path: '/proc/999999999/ns/net' } : ns));
    expectFailure(cfg, 'open namespace /proc/999999999/ns/net: no such file or directory');
  });

  it('failing prestart and createRuntime hooks', () => {
    const cfg = baseConfig();
    cfg.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo broken >&2; exit 3'] }] };
    expectFailure(cfg, 'prestart hook /bin/sh: exited with status 3: broken');
    cfg.hooks = { createRuntime: [{ path: '/nonexistent/hook' }] };
    expectFailure(cfg, 'createRuntime hook /nonexistent/hook: no such file or directory');
  });

  it('failing and timed-out createContainer hooks', () => {
    const cfg = baseConfig();
    cfg.hooks = { createContainer: [{ path: '/bin/false', args: ['false'] }] };
    expectFailure(cfg, 'createContainer hook /bin/false: exited with status 1');
    cfg.hooks = { createContainer: [{ path: '/bin/sleep', args: ['sleep', '10'], timeout: 1 }] };
    expectFailure(cfg, 'createContainer hook /bin/sleep: timed out after 1s');
  });

  it('invalid JSON', () => {
    const bundle = tmp();
    writeFileSync(join(bundle, 'config.json'), '{"ociVersion": "1.3.0",');
    expectFailure(bundle, /^skiff: invalid config\.json: .+/);
  });

  it('valid JSON that breaks the schema, with the JSON path named', () => {
    const cfg = baseConfig();
    cfg.process.args = [];
    expectFailure(cfg, /^skiff: invalid config\.json: \/process\/args: .+/);
    const cfg2 = baseConfig();
    cfg2.linux.namespaces.push({ type: 'bogus' });
    expectFailure(cfg2, /^skiff: invalid config\.json: \/linux\/namespaces\/\d+\/type: .+/);
  });

  it('missing config.json', () => {
    expectFailure(tmp(), /^skiff: .*config\.json.*no such file or directory$/);
  });

  it('an executable that is not there, and a cwd that cannot be entered', () => {
    expectFailure(baseConfig(['no-such-program']), 'exec: "no-such-program": executable file not found in $PATH');
    // A missing cwd is made, as runc makes it (test/compat); a cwd that is a file cannot be.
    const cfg = baseConfig();
    cfg.process.cwd = '/bin/sh';
    expectFailure(cfg, 'chdir to cwd ("/bin/sh") set in config.json: not a directory');
  });

  it('an rlimit above the hard limit the runtime may set', () => {
    const cfg = baseConfig();
    cfg.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 << 30, hard: 1 << 30 }];
    expectFailure(cfg, /^skiff: setrlimit RLIMIT_NOFILE \(soft 1073741824, hard 1073741824\): operation not permitted$/);
  });

  it('run fails the same way and cleans up too', () => {
    expectFailure(baseConfig(['no-such-program']), 'exec: "no-such-program": executable file not found in $PATH', 'run');
  });
});
