// podman (Debian's, cgroup_manager = "systemd", as on every systemd host) running skiff as its OCI
// runtime, in the VM tier: podman passes --systemd-cgroup and "machine.slice:libpod:<id>", and the
// container must land in a transient scope systemd made. The guest's containers.conf
// (scripts/vm/guest/containers.conf) names skiff as the default runtime and turns networking off.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TEST_ROOTFS, isRoot } from '../helpers';

const PURE_V2 = isRoot && statfsSync('/sys/fs/cgroup').type === 0x63677270;
const HAVE = PURE_V2 && existsSync('/run/systemd/system') && spawnSync('sh', ['-c', 'command -v podman']).status === 0;
const IMAGE = 'localhost/skiff-busybox:v2';
const names: string[] = [];

function podman(args: string[], input?: Buffer): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { input, encoding: 'utf8', timeout: 180_000, killSignal: 'SIGKILL', maxBuffer: 1 << 24 });
  if (r.error) throw r.error;
  return { status: r.status ?? 137, stdout: r.stdout, stderr: r.stderr };
}
function ok(args: string[]): string {
  const r = podman(args);
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}
const scopeOf = (id: string) => `libpod-${id}.scope`;
const unitState = (unit: string) => execFileSync('systemctl', ['show', '-P', 'ActiveState', unit], { encoding: 'utf8' }).trim();

describe.skipIf(!HAVE)('podman with the systemd cgroup manager, running skiff', () => {
  beforeAll(() => {
    const tar = execFileSync('tar', ['-C', TEST_ROOTFS, '-c', '.'], { maxBuffer: 1 << 28 });
    const r = podman(['import', '-', IMAGE], tar);
    if (r.status !== 0) throw new Error(`podman import: ${r.stderr}`);
  });
  afterAll(() => {
    for (const n of names) podman(['rm', '-f', '-t', '0', n]);
    podman(['rmi', '-f', IMAGE]);
  });

  it('uses skiff and systemd', () => {
    const info = JSON.parse(ok(['info', '--format', 'json']));
    expect(info.host.cgroupManager).toBe('systemd');
    expect(info.host.cgroupVersion).toBe('v2');
    expect(info.host.ociRuntime.path).toBe(join(ROOT, 'bin', 'skiff'));
  });

  it('run --rm prints and leaves nothing', () => {
    expect(ok(['run', '--rm', IMAGE, 'echo', 'hi from skiff'])).toBe('hi from skiff');
    expect(ok(['ps', '-a', '-q'])).toBe('');
  });

  it('-d, exec, pause/unpause, stop: the container lives in its own systemd scope', () => {
    names.push('v2-detached');
    const id = ok(['run', '-d', '--name', 'v2-detached', IMAGE, 'sleep', '1000']);
    expect(unitState(scopeOf(id))).toBe('active');
    const cgroup = ok(['exec', 'v2-detached', 'cat', '/proc/self/cgroup']);
    expect(cgroup).toBe('0::/');
    const pid = Number(ok(['inspect', '-f', '{{.State.Pid}}', 'v2-detached']));
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim()).toBe(`0::/machine.slice/${scopeOf(id)}`);

    ok(['pause', 'v2-detached']);
    expect(ok(['inspect', '-f', '{{.State.Status}}', 'v2-detached'])).toBe('paused');
    expect(readFileSync(`/sys/fs/cgroup/machine.slice/${scopeOf(id)}/cgroup.freeze`, 'utf8').trim()).toBe('1');
    ok(['unpause', 'v2-detached']);
    expect(ok(['inspect', '-f', '{{.State.Status}}', 'v2-detached'])).toBe('running');

    ok(['stop', '-t', '2', 'v2-detached']);
    expect(ok(['inspect', '-f', '{{.State.Status}}', 'v2-detached'])).toBe('exited');
    ok(['rm', 'v2-detached']);
    expect(['inactive', '']).toContain(unitState(scopeOf(id)));
    expect(existsSync(`/sys/fs/cgroup/machine.slice/${scopeOf(id)}`)).toBe(false);
  });

  it('--memory becomes the scope MemoryMax and memory.max inside', () => {
    expect(ok(['run', '--rm', '--memory', '64m', IMAGE, 'cat', '/sys/fs/cgroup/memory.max'])).toBe(String(64 << 20));
  });

  it('--memory OOM-kills a process that outgrows it', () => {
    const r = podman(['run', '--rm', '--memory', '32m', '--memory-swap', '32m', IMAGE, 'tail', '/dev/zero']);
    expect(r.status).toBe(137);
  });
});
