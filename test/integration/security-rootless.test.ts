// Rootless: an ordinary user (made here with useradd and /etc/subuid, /etc/subgid entries, removed
// afterwards) runs `skiff spec --rootless` then `skiff run`: a user namespace mapping the user to
// root (written directly for a single self-mapping, through newuidmap/newgidmap for more), state
// under $XDG_RUNTIME_DIR/skiff, cgroups skipped with a note, and clear errors for what needs root.
import { type SpawnSyncReturns, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, openSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIFF, TEST_ROOTFS, tmp } from '../helpers';
import { needRoot, needTools, skipWhen } from '../host';

describe.skipIf(skipWhen(needRoot(), needTools('useradd', 'setpriv', 'newuidmap', 'newgidmap')))('rootless containers', () => {
  const name = `skiffrl${process.pid % 100000}`;
  const SUB_START = 300000;
  let uid = 0;
  let gid = 0;
  const work = tmp('skiff-rootless-');
  const runtimeDir = join(work, 'xdg');
  const bundle = join(work, 'bundle');

  beforeAll(() => {
    execFileSync('useradd', ['-M', '-U', '-s', '/bin/sh', name]);
    uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }));
    gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }));
    for (const f of ['/etc/subuid', '/etc/subgid']) writeFileSync(f, `${name}:${SUB_START}:65536\n`, { flag: 'a' });
    chmodSync(work, 0o755);
    mkdirSync(runtimeDir, { mode: 0o700 });
    chownSync(runtimeDir, uid, gid);
    mkdirSync(bundle);
    execFileSync('cp', ['-a', TEST_ROOTFS, join(bundle, 'rootfs')]);
    execFileSync('chown', ['-R', `${uid}:${gid}`, bundle]);
  });
  afterAll(() => {
    // Whatever a failed test left running, as the user; then the user and its ranges.
    for (const id of safeReaddir(join(runtimeDir, 'skiff'))) as(['delete', '--force', id]);
    spawnSync('userdel', [name]);
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      if (!existsSync(f)) continue;
      const kept = readFileSync(f, 'utf8').split('\n').filter((l) => l && !l.startsWith(`${name}:`));
      writeFileSync(f, kept.length ? kept.join('\n') + '\n' : '');
    }
    rmSync(work, { recursive: true, force: true });
  });

  /**
   * skiff as the user, in the bundle, with a minimal environment. A detached container keeps the
   * command's stdio: capture it through a file, not a pipe, or waiting for EOF waits for it.
   */
  function as(args: string[], detached = false): { status: number | null; stdout: string; stderr: string } {
    const out = join(work, 'out');
    const fd = detached ? openSync(out, 'w+') : undefined;
    const r: SpawnSyncReturns<string> = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', SKIFF, ...args], {
      cwd: bundle,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH, HOME: work, XDG_RUNTIME_DIR: runtimeDir },
      stdio: fd === undefined ? 'pipe' : ['ignore', fd, fd],
    });
    if (fd === undefined) return r;
    closeSync(fd);
    return { status: r.status, stdout: '', stderr: readFileSync(out, 'utf8') };
  }
  function editConfig(edit: (c: Record<string, any>) => void): void {
    const file = join(bundle, 'config.json');
    const c = JSON.parse(readFileSync(file, 'utf8'));
    edit(c);
    writeFileSync(file, JSON.stringify(c, null, 2));
  }
  const noNotes = (stderr: string) => stderr.split('\n').filter((l) => l && !/level=warning msg="rootless: cannot create cgroup/.test(l)).join('\n');

  it('skiff spec --rootless, then skiff run: root inside, mapped to the user', () => {
    const spec = as(['spec', '--rootless']);
    expect(spec.stderr).toBe('');
    expect(spec.status).toBe(0);
    const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(cfg.linux.uidMappings).toEqual([{ containerID: 0, hostID: uid, size: 1 }]);
    expect(cfg.linux.namespaces.map((n: { type: string }) => n.type)).toContain('user');
    editConfig((c) => {
      c.process.terminal = false;
      c.process.args = ['sh', '-c', 'id; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%u:%g" /bin/busybox; hostname'];
    });
    const r = as(['run', 'first']);
    expect(noNotes(r.stderr)).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual([
      'uid=0(root) gid=0(root)',
      `0 ${uid} 1`,
      `0 ${gid} 1`,
      '0:0',
      cfg.hostname,
      '',
    ]);
    expect(r.status).toBe(0);
    // No cgroup is writable by the user on this host: skipped, with a note naming each one.
    expect(r.stderr).toMatch(/level=warning msg="rootless: cannot create cgroup \/sys\/fs\/cgroup\/\S+, (not using the \S+ hierarchy|running without a cgroup)"/);
  });

  it('state lives under $XDG_RUNTIME_DIR/skiff; create, exec, kill, delete work', () => {
    editConfig((c) => (c.process.args = ['sleep', '60']));
    const run = as(['run', '-d', 'bg'], true);
    expect(noNotes(run.stderr)).toBe('');
    expect(run.status).toBe(0);
    expect(existsSync(join(runtimeDir, 'skiff', 'bg', 'state.json'))).toBe(true);
    const state = JSON.parse(as(['state', 'bg']).stdout);
    expect(state.status).toBe('running');
    const ex = as(['exec', 'bg', 'sh', '-c', 'id -u; cat /proc/1/cmdline | tr "\\0" " "']);
    expect(ex.stdout).toBe('0\nsleep 60 ');
    expect(as(['kill', 'bg', 'KILL']).status).toBe(0);
    const del = as(['delete', '--force', 'bg']);
    expect(del.status).toBe(0);
    expect(existsSync(join(runtimeDir, 'skiff', 'bg'))).toBe(false);
  });

  it('several id ranges through newuidmap/newgidmap: a non-root user inside owns what it makes', () => {
    editConfig((c) => {
      const maps = (self: number) => [
        { containerID: 0, hostID: self, size: 1 },
        { containerID: 1, hostID: SUB_START, size: 65536 },
      ];
      c.linux.uidMappings = maps(uid);
      c.linux.gidMappings = maps(gid);
      c.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['mode=1777'] });
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.args = ['sh', '-c', 'id; cat /proc/self/uid_map; touch /tmp/mine && stat -c "%u:%g" /tmp/mine'];
    });
    const r = as(['run', 'ranges']);
    expect(noNotes(r.stderr)).toBe('');
    expect(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).join(' '))).toEqual([
      'uid=1000(user) gid=1000(user)',
      `0 ${uid} 1`,
      `1 ${SUB_START} 65536`,
      '1000:1000',
      '',
    ]);
  });

  it('what needs root fails with a clear message and leaves nothing', () => {
    // Ids the user was not given in /etc/subuid.
    editConfig((c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }, { containerID: 1, hostID: 1, size: 1000 }];
      c.process.user = { uid: 0, gid: 0 };
      c.process.args = ['true'];
    });
    let r = as(['run', 'not-mine']);
    expect(r.status).toBe(1);
    expect(noNotes(r.stderr)).toMatch(/^skiff: rootless: newuidmap \d+ 0 \d+ 1 1 1 1000 failed \(are the ranges in \/etc\/subuid for this user\?\): newuidmap: .+$/);

    // Cgroup limits: nothing is delegated to the user.
    editConfig((c) => {
      c.linux.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
      c.linux.resources = { pids: { limit: 10 } };
    });
    r = as(['run', 'limits']);
    expect(r.status).toBe(1);
    expect(noNotes(r.stderr)).toMatch(/^skiff: cannot set linux\.resources\.pids: (no permission to use the pids cgroup \(rootless\)|rootless and no writable cgroup)$/);

    // An id-mapped mount needs privileges over the source filesystem.
    editConfig((c) => {
      delete c.linux.resources;
      c.mounts.push({ destination: '/srv', type: 'bind', source: join(bundle, 'rootfs', 'etc'), options: ['rbind', 'idmap'] });
    });
    r = as(['run', 'idmapped']);
    expect(r.status).toBe(1);
    expect(noNotes(r.stderr)).toBe(`skiff: id-mapped mount /srv: clone ${join(bundle, 'rootfs', 'etc')}: operation not permitted`);

    expect(safeReaddir(join(runtimeDir, 'skiff'))).toEqual([]);
  });
});

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
