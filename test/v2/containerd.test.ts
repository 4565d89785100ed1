// containerd's runc shim (containerd-shim-runc-v2, Debian's containerd) running skiff with the runc
// option SystemdCgroup = true, in the VM tier: what kubeadm's Kubernetes configures on systemd
// hosts. `ctr run --runc-binary SKIFF --runc-systemd-cgroup` sets exactly those runc options
// (BinaryName, SystemdCgroup) for the task; the shim then passes --systemd-cgroup and the
// "slice:prefix:name" cgroupsPath to skiff, which must put the container into a systemd scope.
import { cpSync, existsSync, mkdtempSync, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIFF, TEST_ROOTFS, isRoot } from '../helpers';
import { Containerd, removeTree } from '../e2e/engines';

const CG = '/sys/fs/cgroup';
const PURE_V2 = isRoot && statfsSync(CG).type === 0x63677270;
const HAVE = PURE_V2 && existsSync('/run/systemd/system') && spawnSync('sh', ['-c', 'command -v containerd && command -v containerd-shim-runc-v2 && command -v ctr']).status === 0;
const unitProp = (unit: string, prop: string) => execFileSync('systemctl', ['show', '-P', prop, unit], { encoding: 'utf8' }).trim();

async function until(what: string, check: () => boolean, seconds = 60): Promise<void> {
  const end = Date.now() + seconds * 1000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!HAVE)('containerd (runc shim, SystemdCgroup = true) running skiff', () => {
  let ctd: Containerd;
  let rootfs = '';
  const copies: string[] = [];
  // The runc options of containerd's CRI config (BinaryName, SystemdCgroup = true), as ctr sets them.
  const runc = ['--runc-binary', SKIFF, '--runc-systemd-cgroup'];
  const fresh = () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-v2-ctr-rootfs-'));
    cpSync(TEST_ROOTFS, dir, { recursive: true, verbatimSymlinks: true });
    copies.push(dir);
    return dir;
  };

  beforeAll(async () => {
    ctd = new Containerd();
    await ctd.ready();
    rootfs = fresh();
  }, 240_000);
  afterAll(async () => {
    await ctd?.stop();
    for (const dir of copies) removeTree(dir);
  });

  const taskStatus = (id: string) => ctd.ctr(['tasks', 'ls']).stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[2];

  it('run --rm: the container runs in the systemd scope named by the cgroup path, its exit code comes back', () => {
    const r = ctd.ctr(['run', '--rm', ...runc, '--cgroup', 'system.slice:ctr:v2rm', '--rootfs', rootfs, 'v2rm', 'sh', '-c', 'cat /proc/self/cgroup; exit 3'], { timeout: 180_000 });
    expect(r.stdout.trim()).toBe('0::/system.slice/ctr-v2rm.scope');
    expect(r.status).toBe(3);
    expect(['inactive', '']).toContain(unitProp('ctr-v2rm.scope', 'ActiveState'));
    expect(ctd.ctr(['containers', 'ls', '-q']).stdout).toBe('');
  });

  it('-d with a memory limit: the scope holds it; exec, pause/resume (cgroup.freeze), kill, delete stops the scope', async () => {
    const dir = join(CG, 'machine.slice', 'ctr-v2d.scope');
    const r = ctd.ctr(
      ['run', '-d', ...runc, '--cgroup', 'machine.slice:ctr:v2d', '--memory-limit', String(64 << 20), '--rootfs', fresh(), 'v2d', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.2; done'],
      { detached: true, timeout: 180_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(taskStatus('v2d')).toBe('RUNNING');
    expect(unitProp('ctr-v2d.scope', 'ActiveState')).toBe('active');
    expect(unitProp('ctr-v2d.scope', 'MemoryMax')).toBe(String(64 << 20));
    expect(readFileSync(join(dir, 'memory.max'), 'utf8').trim()).toBe(String(64 << 20));
    const ex = ctd.ctr(['tasks', 'exec', '--exec-id', 'e1', 'v2d', 'sh', '-c', 'cat /proc/self/cgroup; exit 6'], { timeout: 120_000 });
    expect(ex.stdout.trim()).toBe('0::/machine.slice/ctr-v2d.scope');
    expect(ex.status).toBe(6);
    expect(ctd.ctr(['tasks', 'pause', 'v2d']).status).toBe(0);
    expect(taskStatus('v2d')).toBe('PAUSED');
    expect(readFileSync(join(dir, 'cgroup.freeze'), 'utf8').trim()).toBe('1');
    expect(ctd.ctr(['tasks', 'resume', 'v2d']).status).toBe(0);
    expect(taskStatus('v2d')).toBe('RUNNING');
    expect(ctd.ctr(['tasks', 'kill', '-s', 'SIGTERM', 'v2d']).status).toBe(0);
    await until('the task to stop', () => taskStatus('v2d') === 'STOPPED');
    expect(ctd.ctr(['tasks', 'delete', 'v2d']).status).toBe(0);
    expect(ctd.ctr(['containers', 'delete', 'v2d']).status).toBe(0);
    expect(['inactive', '']).toContain(unitProp('ctr-v2d.scope', 'ActiveState'));
    expect(existsSync(dir)).toBe(false);
  });
});
