// Podman (with conmon) using skiff as its OCI runtime: `podman --runtime /abs/path/to/skiff`.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { run, tmp } from '../helpers';
import { IMAGE, Podman } from './engines';

describe.skipIf(skipWhen(needRoot(), needTools('podman', 'conmon')))('podman --runtime skiff', () => {
  let pm: Podman;
  beforeAll(() => {
    pm = new Podman();
  }, 300_000);
  afterAll(() => pm?.cleanup());

  it('run --rm passes output and exit codes through', () => {
    const r = pm.podman(['run', '--rm', IMAGE, 'sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    expect(r.stdout).toBe('hello\n');
    expect(r.stderr).toContain('oops');
    expect(r.status).toBe(3);
    expect(pm.podman(['ps', '-aq']).stdout).toBe('');
  });

  it('run -it gives the container a terminal', () => {
    const dir = pm.dir;
    // Checked in the container's log (what conmon read from the pty): podman's own attach drops the
    // output of a process that exits at once now and then, whatever the runtime (the log has it).
    const r = run('script', ['-qec', `CONTAINERS_CONF=${dir}/containers.conf podman --root ${dir}/storage --runroot ${dir}/run --storage-driver vfs --runtime ${process.cwd()}/bin/skiff run --name pm-tty -it ${IMAGE} sh -c 'tty; exit 5'`, '/dev/null'], {
      input: '',
      timeout: 60_000,
    });
    try {
      expect(r.status).toBe(5);
      expect(pm.podman(['logs', 'pm-tty']).stdout).toMatch(/\/dev\/pts\/0\r?\n/);
    } finally {
      pm.podman(['rm', '-f', 'pm-tty']);
    }
  });

  it('-d, exec (with and without -t), top, pause/unpause, stop, kill, rm', () => {
    const id = pm.podman(['run', '-d', '--name', 'pm-d', IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ex = pm.podman(['exec', 'pm-d', 'sh', '-c', 'echo in-exec; exit 4']);
    expect(ex.stdout).toBe('in-exec\n');
    expect(ex.status).toBe(4);
    const dir = pm.dir;
    const t = run('script', ['-qec', `CONTAINERS_CONF=${dir}/containers.conf podman --root ${dir}/storage --runroot ${dir}/run --storage-driver vfs --runtime ${process.cwd()}/bin/skiff exec -it pm-d tty`, '/dev/null'], { input: '', timeout: 60_000 });
    expect(t.stdout).toMatch(/\/dev\/pts\/\d+/);
    const top = pm.podman(['top', 'pm-d']);
    expect(top.status).toBe(0);
    expect(top.stdout).toContain('sh -c');
    expect(pm.podman(['pause', 'pm-d']).status).toBe(0);
    expect(pm.podman(['inspect', '-f', '{{.State.Status}}', 'pm-d']).stdout.trim()).toBe('paused');
    expect(pm.podman(['unpause', 'pm-d']).status).toBe(0);
    expect(pm.podman(['inspect', '-f', '{{.State.Status}}', 'pm-d']).stdout.trim()).toBe('running');
    // The trap turns SIGTERM into exit 0 well within the timeout.
    expect(pm.podman(['stop', '-t', '10', 'pm-d']).status).toBe(0);
    expect(pm.podman(['inspect', '-f', '{{.State.ExitCode}}', 'pm-d']).stdout.trim()).toBe('0');
    expect(pm.podman(['rm', 'pm-d']).status).toBe(0);

    pm.podman(['run', '-d', '--name', 'pm-k', IMAGE, 'sleep', '100']);
    expect(pm.podman(['kill', 'pm-k']).status).toBe(0);
    expect(pm.podman(['wait', 'pm-k']).stdout.trim()).toBe('137');
    expect(pm.podman(['rm', 'pm-k']).status).toBe(0);
  });

  it('resource limits, read-only root, capabilities, tmpfs, bind volume, hostname, env and user', () => {
    const vol = tmp();
    chmodSync(vol, 0o755);
    writeFileSync(join(vol, 'containers.conf'), 'x');
    const r = pm.podman([
      'run', '--rm', '--memory', '64m', '--cpus', '0.5', '--read-only', '--cap-drop', 'all', '--cap-add', 'NET_BIND_SERVICE',
      '--tmpfs', '/scratch', '-v', `${vol}:/host:ro`, '--network', 'none', '--hostname', 'pmhost', '-e', 'FOO=bar', '--user', '1000',
      IMAGE, 'sh', '-c',
      'hostname; echo $FOO; id -u; grep CapBnd /proc/self/status; touch /x 2>/dev/null || echo ro-root; touch /scratch/y && echo tmpfs-rw; test -f /host/containers.conf && echo bind-ok; touch /host/z 2>/dev/null || echo bind-ro',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['pmhost', 'bar', '1000', 'CapBnd:\t0000000000000400', 'ro-root', 'tmpfs-rw', 'bind-ok', 'bind-ro', '']);
    // The limits reached the cgroup: read them while a container runs.
    const id = pm.podman(['run', '-d', '--memory', '64m', '--cpus', '0.5', IMAGE, 'sleep', '30']).stdout.trim();
    const pid = pm.podman(['inspect', '-f', '{{.State.Pid}}', id]).stdout.trim();
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const memPath = /:memory:(.*)/.exec(cg)![1];
    expect(readFileSync(`/sys/fs/cgroup/memory${memPath}/memory.limit_in_bytes`, 'utf8').trim()).toBe(String(64 << 20));
    const cpuPath = /:cpu,cpuacct:(.*)|:cpu:(.*)/.exec(cg)!;
    const cpuDir = `/sys/fs/cgroup/cpu${cpuPath[1] ?? cpuPath[2]}`;
    expect(readFileSync(`${cpuDir}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('50000');
    pm.podman(['rm', '-f', '-t', '0', id]);
  });

  it('a failing create surfaces skiff\'s message in podman\'s error output', () => {
    const r = pm.podman(['run', '--rm', IMAGE, '/no/such/program']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('exec /no/such/program: no such file or directory');
  });
});
