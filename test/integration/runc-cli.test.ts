// skiff's command line where runc's is observable: exit statuses, the --log file for every
// failure (argument parsing included), --debug lines, `kill ID 0`, and configs written by
// `runc spec` (ambient capabilities without an inheritable set, r-forms of rootfsPropagation).
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Skiff, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

const logLines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('runc command line: statuses and the --log file', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('an unknown verb (checkpoint and restore too) fails with status 3 and runc words, -h or not', () => {
    for (const args of [['foo'], ['foo', '-h'], ['checkpoint', 'x'], ['restore', '-h']]) {
      const r = skiff.run(args);
      expect(r.status, args.join(' ')).toBe(3);
      expect(r.stderr).toBe(`skiff: No help topic for '${args[0]}'\n`);
    }
  });

  it('no verb prints the help on stdout and succeeds; --version and -h succeed', () => {
    const r = skiff.run([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: skiff/);
    expect(skiff.run(['--version']).status).toBe(0);
    expect(skiff.run(['state', '-h']).status).toBe(0);
  });

  it('writes argument-parsing failures to the --log file in json and text', () => {
    const dir = tmp();
    const json = join(dir, 'log.json');
    const r = skiff.run(['--log', json, '--log-format', 'json', 'create', '--bogus', 'x']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("skiff: unknown option '--bogus'\n");
    const line = JSON.parse(logLines(json).at(-1)!);
    expect(line).toMatchObject({ level: 'error', msg: "unknown option '--bogus'" });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const text = join(dir, 'log.txt');
    expect(skiff.run(['--log=' + text, 'state']).status).toBe(1);
    expect(logLines(text).at(-1)).toMatch(/^time="[^"]+" level=error msg="missing required argument 'container-id'"$/);

    expect(skiff.run(['--log', json, '--log-format', 'json', 'nope']).status).toBe(3);
    expect(JSON.parse(logLines(json).at(-1)!).msg).toBe("No help topic for 'nope'");
  });

  it('exec failures exit 255 as runc, with the reason in the log', () => {
    const log = join(tmp(), 'log.json');
    const r = skiff.run(['--log', log, '--log-format', 'json', 'exec', 'missing', 'true']);
    expect(r.status).toBe(255);
    expect(JSON.parse(logLines(log).at(-1)!).msg).toBe('container missing does not exist');
  });
});

describe.skipIf(skipWhen(needRoot()))('runc command line on containers', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('runs a `runc spec` config: ambient capabilities with no inheritable set are raised where possible', () => {
    const cfg = baseConfig(['sh', '-c', 'grep -E "^Cap(Amb|Eff)" /proc/self/status']);
    const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    cfg.process.capabilities = { bounding: caps, effective: caps, permitted: caps, ambient: caps };
    cfg.linux.rootfsPropagation = 'rslave';
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'runcspec']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('CapEff:\t0000000020000420\nCapAmb:\t0000000000000000\n');
  });

  it('accepts the r-forms of rootfsPropagation', () => {
    for (const p of ['rprivate', 'rshared']) { // runbindable fails under runc too (an unbindable root cannot be bound)
      const cfg = baseConfig(['true']);
      cfg.linux.rootfsPropagation = p;
      const r = skiff.run(['run', '-b', makeBundle(cfg), `prop-${p}`]);
      expect([p, r.status, r.stderr]).toEqual([p, 0, '']);
    }
  });

  it('kill ID 0 tells whether the container is alive; --debug writes the steps to the log', () => {
    const log = join(tmp(), 'debug.log');
    const bundle = makeBundle(baseConfig(['sleep', '60']));
    skiff.ok(['--debug', '--log', log, 'create', '-b', bundle, 'alive'], { detached: true });
    const debug = logLines(log).filter((l) => l.includes('level=debug'));
    expect(debug.some((l) => l.includes('create alive: created, init pid'))).toBe(true);
    expect(skiff.run(['kill', 'alive', '0']).status).toBe(0);
    skiff.ok(['kill', 'alive', 'KILL']);
    let r = skiff.run(['kill', 'alive', '0']);
    for (let i = 0; i < 50 && r.status === 0; i++) r = skiff.run(['kill', 'alive', '0']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('skiff: container not running\n');
    skiff.ok(['delete', 'alive']);
  });

  it("warns as runc when the container's cgroup already holds processes", () => {
    const cfg = baseConfig(['sleep', '60']);
    cfg.linux.cgroupsPath = `/skiff-runc-test-${process.pid}/shared`;
    const log = join(tmp(), 'warn.log');
    skiff.ok(['create', '-b', makeBundle(cfg), 'cg-first']);
    try {
      skiff.ok(['--log', log, 'create', '-b', makeBundle(cfg), 'cg-second'], { detached: true });
      expect(logLines(log).some((l) => /level=warning msg="container's cgroup is not empty: 1 process\(es\) found"/.test(l))).toBe(true);
    } finally {
      skiff.run(['delete', '--force', 'cg-second']);
      skiff.run(['delete', '--force', 'cg-first']);
      // The parent of a cgroupsPath of our own is ours to remove (as under runc, delete keeps it).
      for (const h of readdirSync('/sys/fs/cgroup')) {
        try {
          rmdirSync(join('/sys/fs/cgroup', h, `skiff-runc-test-${process.pid}`));
        } catch {
          // not made in this hierarchy
        }
      }
    }
  });

  it('a pid file in a missing directory fails with one clear line and leaves nothing', () => {
    const r = skiff.run(['create', '-b', makeBundle(baseConfig(['sleep', '60'])), '--pid-file', '/non-existent/directory/pid', 'pidf']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('skiff: cannot write pid file /non-existent/directory/pid: no such file or directory\n');
    expect(skiff.ok(['list', '-q']).trim()).not.toContain('pidf');
  });
});
