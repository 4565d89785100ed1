// dock update, diff, commit and wait --condition on real containers (no network): limits changed
// live in the container's cgroup and felt by its processes, the overlay's changes with whiteouts
// and opaque directories, images committed from containers with --change, and Docker's wait
// conditions.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { d, dockChild, ok, waitFor, type TestImage, useDockRoot } from './dock-helpers';

let img: TestImage;
let root: string;

/** A cgroup file of container `id`, on cgroup v1 (controller directory) or v2 (unified). */
function cgroupFile(id: string, v1: string, v2: string): string {
  const [controller, file] = v1.split('/');
  const candidates = [`/sys/fs/cgroup/${controller}/dock/${id}/${file}`, `/sys/fs/cgroup/dock/${id}/${v2}`];
  const p = candidates.find((c) => existsSync(c));
  if (!p) throw new Error(`no cgroup file ${v1} / ${v2} for ${id}`);
  return readFileSync(p, 'utf8').trim();
}

const run = (args: string[]) => ok(root, ['run', '--network', 'none', ...args]);

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock update, diff, commit, wait --condition', () => {
  useDockRoot((i, r) => ((img = i), (root = r)));

  it('updates the limits of a running container live, and of a stopped one for its next start', { timeout: 240_000 }, async () => {
    const id = (await run(['-d', '--stop-timeout', '0', '--name', 'up1', '-m', '64m', img.name, 'sleep', '300'])).trim();
    expect(cgroupFile(id, 'memory/memory.limit_in_bytes', 'memory.max')).toBe(String(64 << 20));
    expect(await ok(root, ['update', '--memory', '128m', '--memory-swap', '256m', '--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '0', '--pids-limit', '8', '--restart', 'on-failure:3', 'up1'])).toBe('up1\n');
    expect(cgroupFile(id, 'memory/memory.limit_in_bytes', 'memory.max')).toBe(String(128 << 20));
    expect(cgroupFile(id, 'pids/pids.max', 'pids.max')).toBe('8');
    expect(cgroupFile(id, 'cpuset/cpuset.cpus', 'cpuset.cpus')).toBe('0');
    if (existsSync(`/sys/fs/cgroup/cpu,cpuacct/dock/${id}`) || existsSync(`/sys/fs/cgroup/cpu/dock/${id}`)) {
      const cpu = existsSync(`/sys/fs/cgroup/cpu/dock/${id}`) ? 'cpu' : 'cpu,cpuacct';
      expect(readFileSync(`/sys/fs/cgroup/${cpu}/dock/${id}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('50000');
      expect(readFileSync(`/sys/fs/cgroup/${cpu}/dock/${id}/cpu.shares`, 'utf8').trim()).toBe('512');
    }
    // The container's processes feel the new pids limit.
    const forks = await d(root, ['exec', 'up1', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100 </dev/null >/dev/null 2>&1 & done; kill $(jobs -p) 2>/dev/null; true']);
    expect(forks.stderr).toMatch(/can't fork|Resource temporarily unavailable/);
    const hc = JSON.parse(await ok(root, ['inspect', 'up1']))[0].HostConfig;
    expect(hc).toMatchObject({ Memory: 128 << 20, MemorySwap: 256 << 20, NanoCpus: 5e8, CpuShares: 512, CpusetCpus: '0', PidsLimit: 8, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 } });

    await ok(root, ['stop', '-t', '0', 'up1']);
    await ok(root, ['update', '--pids-limit', '20', 'up1']);
    await ok(root, ['start', 'up1']);
    expect(cgroupFile(id, 'pids/pids.max', 'pids.max')).toBe('20');
    expect(cgroupFile(id, 'memory/memory.limit_in_bytes', 'memory.max')).toBe(String(128 << 20));

    // Docker's refusals, each one line.
    const none = await d(root, ['update', 'up1']);
    expect(none.stderr).toBe('dock: you must provide one or more flags when using this command\n');
    expect((await d(root, ['update', '-m', '1k', 'up1'])).stderr).toMatch(/minimum memory limit allowed is 6MB/);
    expect((await d(root, ['update', '-m', '512m', 'up1'])).stderr).toMatch(/memory limit should be smaller than already set memoryswap limit/);
    await run(['-d', '--rm', '--name', 'up2', img.name, 'sleep', '300']);
    expect((await d(root, ['update', '--restart', 'always', 'up2'])).stderr).toMatch(/restart policy cannot be updated because AutoRemove is enabled/);
    expect((await d(root, ['update', '--cpus', '1', 'nosuch'])).stderr).toBe('dock: no such container: nosuch\n');
    await ok(root, ['rm', '-f', 'up1', 'up2']);
  });

  it('updates the CFS period and quota, the memory reservation and the blkio weight', { timeout: 240_000 }, async () => {
    const id = (await run(['-d', '--stop-timeout', '0', '--name', 'up3', '-m', '128m', img.name, 'sleep', '300'])).trim();
    expect(await ok(root, ['update', '--cpu-period', '50000', '--cpu-quota', '25000', '--memory-reservation', '32m', 'up3'])).toBe('up3\n');
    expect(cgroupFile(id, 'memory/memory.soft_limit_in_bytes', 'memory.low')).toBe(String(32 << 20));
    const cpu = ['cpu', 'cpu,cpuacct'].map((c) => `/sys/fs/cgroup/${c}/dock/${id}`).find((p) => existsSync(p));
    if (cpu) {
      expect(readFileSync(`${cpu}/cpu.cfs_period_us`, 'utf8').trim()).toBe('50000');
      expect(readFileSync(`${cpu}/cpu.cfs_quota_us`, 'utf8').trim()).toBe('25000');
    } else expect(cgroupFile(id, 'cpu/cpu.max', 'cpu.max')).toBe('25000 50000');
    expect(JSON.parse(await ok(root, ['inspect', 'up3']))[0].HostConfig).toMatchObject({ CpuPeriod: 50000, CpuQuota: 25000, MemoryReservation: 32 << 20 });
    expect((await d(root, ['update', '--cpus', '1', 'up3'])).stderr).toMatch(/^dock: conflicting options: CPU period or quota and --cpus cannot both be set\n$/);
    expect((await d(root, ['update', '--blkio-weight', '5', 'up3'])).stderr).toBe('dock: range of blkio weight is from 10 to 1000\n');
    const weight = [`/sys/fs/cgroup/blkio/dock/${id}/blkio.weight`, `/sys/fs/cgroup/blkio/dock/${id}/blkio.bfq.weight`, `/sys/fs/cgroup/dock/${id}/io.weight`, `/sys/fs/cgroup/dock/${id}/io.bfq.weight`].find((p) => existsSync(p));
    const w = await d(root, ['update', '--blkio-weight', '300', 'up3']);
    if (weight) {
      expect(w.code, w.stderr).toBe(0);
      expect(readFileSync(weight, 'utf8')).toMatch(/300/);
    } else {
      // This host's kernel has no weight file: one line naming it, and the record is unchanged.
      expect(w.code).not.toBe(0);
      expect(w.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(w.stderr).toMatch(/^dock: cannot update container up3: .*weight/);
      expect(JSON.parse(await ok(root, ['inspect', 'up3']))[0].HostConfig.BlkioWeight ?? 0).toBe(0);
    }
    await ok(root, ['rm', '-f', 'up3']);
  });

  it('lists the changes of a container: added, changed, deleted, without the runtime’s mount points', { timeout: 240_000 }, async () => {
    await run(['-d', '--name', 'df1', img.name, 'sh', '-c', 'echo more >> /etc/passwd; rm /etc/group; mkdir -p /newdir/sub; echo data > /newdir/sub/f; ln -s /newdir/sub/f /home/app/link; touch /ready; sleep 300']);
    await waitFor(async () => (await d(root, ['exec', 'df1', 'test', '-e', '/ready'])).code === 0, 'the changes to be made');
    const diff = await ok(root, ['diff', 'df1']);
    // Sorted by path, as docker's.
    expect(diff).toBe(['C /etc', 'D /etc/group', 'C /etc/passwd', 'C /home', 'C /home/app', 'A /home/app/link', 'A /newdir', 'A /newdir/sub', 'A /newdir/sub/f', 'A /ready'].join('\n') + '\n');
    // A created container has changed nothing.
    await ok(root, ['create', '--network', 'none', '--name', 'df2', img.name]);
    expect(await ok(root, ['diff', 'df2'])).toBe('');
    await ok(root, ['rm', '-f', 'df2']);
  });

  it('commits a running container (paused meanwhile) into an image with --change, -m and -a', { timeout: 240_000 }, async () => {
    const id = (await ok(root, ['commit', '-m', 'first commit', '-a', 'Jane <jane@example.com>', '-c', 'CMD ["cat", "/newdir/sub/f"]', '-c', 'ENV COMMITTED=yes', '-c', 'LABEL stage=committed', '-c', 'WORKDIR /newdir', 'df1', 'verbs/committed:1'])).trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const state = JSON.parse(await ok(root, ['inspect', 'df1']))[0].State;
    expect(state).toMatchObject({ Status: 'running', Paused: false });
    expect(await run(['--rm', 'verbs/committed:1'])).toBe('data\n');
    expect(await run(['--rm', 'verbs/committed:1', 'sh', '-c', 'echo $COMMITTED $FOO; pwd; tail -1 /etc/passwd; test -e /etc/group || echo no group; test -e /ready && echo ready'])).toBe('yes image\n/newdir\nmore\nno group\nready\n');
    const ii = JSON.parse(await ok(root, ['image', 'inspect', 'verbs/committed:1']))[0];
    expect(ii.Id).toBe(id);
    expect(ii.Comment ?? ii.Config?.Comment ?? '').toBe('first commit');
    expect(ii.Author).toBe('Jane <jane@example.com>');
    expect(ii.Config.Labels).toMatchObject({ stage: 'committed', 'org.test.kind': 'app' });
    expect(ii.RootFS.Layers).toHaveLength(2);

    // The committed layer carries no runtime mount points, and deletions below an opaque
    // directory show as such in the next container.
    await ok(root, ['run', '--network', 'none', '--name', 'df3', 'verbs/committed:1', 'sh', '-c', 'rm -rf /newdir/sub; mkdir /newdir/sub; echo c > /newdir/sub/c']);
    expect(await ok(root, ['diff', 'df3'])).toBe('C /newdir\nC /newdir/sub\nA /newdir/sub/c\nD /newdir/sub/f\n');
    // --pause=false, and a never-started container gives an image of one more (empty) layer.
    await ok(root, ['create', '--network', 'none', '--name', 'df4', img.name]);
    const empty = (await ok(root, ['commit', '--pause=false', 'df4'])).trim();
    expect(JSON.parse(await ok(root, ['image', 'inspect', empty]))[0].RootFS.Layers).toHaveLength(2);
    expect((await d(root, ['commit', '-c', 'RUN echo no', 'df4'])).stderr).toBe('dock: run is not a valid change command\n');
    await ok(root, ['rm', '-f', 'df1', 'df3', 'df4']);
    await ok(root, ['rmi', 'verbs/committed:1', empty]);
  });

  it('waits for Docker’s conditions: not-running, next-exit, removed', { timeout: 240_000 }, async () => {
    await ok(root, ['create', '--network', 'none', '--name', 'w1', img.name, 'sh', '-c', 'exit 4']);
    expect(await ok(root, ['wait', 'w1'])).toBe('0\n'); // created: not running
    await ok(root, ['start', 'w1']);
    expect(await ok(root, ['wait', 'w1'])).toBe('4\n');
    await ok(root, ['rm', 'w1']);

    // A waiter is known to be waiting once it holds a connection to the container's supervisor.
    // (its stdio are socketpairs too: only a socket above fd 2 is that connection).
    const waiting = (pid: number) =>
      readdirSync(`/proc/${pid}/fd`).some((f) => {
        try {
          return Number(f) > 2 && readlinkSync(`/proc/${pid}/fd/${f}`).startsWith('socket:');
        } catch {
          return false;
        }
      });
    await run(['-d', '--name', 'w2', img.name, 'sleep', '300']);
    const next = dockChild(root, ['wait', '--condition', 'next-exit', 'w2']);
    await waitFor(() => waiting(next.child.pid!), 'the next-exit waiter');
    await ok(root, ['kill', 'w2']);
    expect(await next.closed).toBe(0);
    expect(next.out()).toBe('137\n');
    expect(await ok(root, ['wait', '--condition', 'not-running', 'w2'])).toBe('137\n');
    await ok(root, ['start', 'w2']);
    const gone = dockChild(root, ['wait', '--condition', 'removed', 'w2']);
    await waitFor(() => waiting(gone.child.pid!), 'the removed waiter');
    await ok(root, ['rm', '-f', 'w2']);
    expect(await gone.closed, gone.err()).toBe(0);
    expect(gone.out()).toBe('137\n');
    const bad = await d(root, ['wait', '--condition', 'soon', 'x']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^dock: invalid condition: "soon"/);
  });
});
