// containerd's runc shim (containerd-shim-runc-v2) with skiff as the runtime binary:
// `ctr run --runc-binary /abs/path/to/skiff`, the same as BinaryName in the runtime options.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { SKIFF, run } from '../helpers';
import { Containerd, IMAGE, Podman } from './engines';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skipWhen(needRoot(), needTools('containerd', 'ctr', 'containerd-shim-runc-v2', 'podman', 'conmon')))('containerd with skiff as the runc binary', () => {
  let ctd: Containerd;
  let pm: Podman;
  beforeAll(async () => {
    ctd = new Containerd();
    await ctd.ready();
    pm = new Podman();
    ctd.importImage(pm);
  }, 300_000);
  afterAll(async () => {
    await ctd?.stop();
    pm?.cleanup();
  });

  const taskStatus = (id: string) => {
    const line = ctd.ctr(['tasks', 'ls']).stdout.split('\n').find((l) => l.startsWith(`${id} `));
    return line?.trim().split(/\s+/)[2];
  };

  it('ctr run --rm: output and exit code', () => {
    const r = ctd.ctr(['run', '--rm', '--runc-binary', SKIFF, IMAGE, 'c-rm', 'sh', '-c', 'echo from-ctr; exit 3']);
    expect(r.stdout).toBe('from-ctr\n');
    expect(r.status).toBe(3);
    expect(ctd.ctr(['containers', 'ls', '-q']).stdout).toBe('');
  });

  it('a tty', () => {
    const cmd = `ctr --address ${ctd.address} -n skifftest run --rm -t --runc-binary ${SKIFF} ${IMAGE} c-tty sh -c 'tty; exit 2'`;
    const r = run('script', ['-qec', cmd, '/dev/null'], { input: '', timeout: 60_000 });
    expect(r.stdout).toMatch(/\/dev\/pts\/0/);
    expect(r.status).toBe(2);
  });

  it('-d, task exec, ps, pause/resume, kill, delete; limits and mounts', async () => {
    const r = ctd.ctr(
      ['run', '-d', '--runc-binary', SKIFF, '--memory-limit', String(64 << 20), '--mount', 'type=tmpfs,src=tmpfs,dst=/scratch,options=size=1m',
        IMAGE, 'c-d', 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'],
      { detached: true },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(taskStatus('c-d')).toBe('RUNNING');
    const ex = ctd.ctr(['tasks', 'exec', '--exec-id', 'e1', 'c-d', 'sh', '-c', 'grep " /scratch " /proc/self/mounts | cut -d" " -f3; exit 6']);
    expect(ex.stdout).toBe('tmpfs\n');
    expect(ex.status).toBe(6);
    const ps = ctd.ctr(['tasks', 'ps', 'c-d']);
    expect(ps.status).toBe(0);
    expect(ps.stdout.split('\n').filter((l) => /^\d+/.test(l)).length).toBeGreaterThanOrEqual(1);
    expect(ctd.ctr(['tasks', 'pause', 'c-d']).status).toBe(0);
    expect(taskStatus('c-d')).toBe('PAUSED');
    expect(ctd.ctr(['tasks', 'resume', 'c-d']).status).toBe(0);
    expect(taskStatus('c-d')).toBe('RUNNING');
    expect(ctd.ctr(['tasks', 'kill', '-s', 'SIGTERM', 'c-d']).status).toBe(0);
    for (let i = 0; i < 100 && taskStatus('c-d') !== 'STOPPED'; i++) await sleep(50);
    expect(taskStatus('c-d')).toBe('STOPPED');
    expect(ctd.ctr(['tasks', 'delete', 'c-d']).status).toBe(0);
    expect(ctd.ctr(['containers', 'delete', 'c-d']).status).toBe(0);
  });

  it('a failing create surfaces skiff\'s message', () => {
    const r = ctd.ctr(['run', '--rm', '--runc-binary', SKIFF, IMAGE, 'c-bad', '/no/such/program']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('exec /no/such/program: no such file or directory');
    ctd.ctr(['containers', 'delete', 'c-bad']);
  });
});
