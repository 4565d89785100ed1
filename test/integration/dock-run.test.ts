// dock run / create / start on real containers: the image config merged with flags as Docker does,
// Docker-like security defaults, resources, clear errors, and nothing left behind.
import { readFileSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, dockCgroups, mountsUnder, newRoot, ok, ops, supervisorsOf, type TestImage } from './dock-helpers';

let img: TestImage;
let root: string;

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock run', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
  });

  it("runs the image's command with its environment and working directory, and exits with its status", async () => {
    const r = await d(root, ['run', '--network', 'none', '--rm', img.name]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello from the image\n');
    expect(r.code).toBe(0);
    const env = await d(root, ['run', '--network', 'none', '--rm', '-e', 'FOO=flag', '-e', 'NEW=1', img.name, 'sh', '-c', 'echo $FOO $KEEP $NEW $HOSTNAME $HOME; pwd; exit 7']);
    expect(env.code).toBe(7);
    const [vars, cwd] = env.stdout.trim().split('\n');
    expect(vars).toMatch(/^flag kept 1 [0-9a-f]{12} \/root$/);
    expect(cwd).toBe('/work-image');
  });

  it('merges --entrypoint, -w, -h, --env-file and labels the way Docker does', async () => {
    const envFile = join(root, 'env.list');
    writeFileSync(envFile, '# comment\nFROMFILE=yes\nFOO=file\n');
    const r = await d(root, ['run', '--network', 'none', '--rm', '--entrypoint', 'echo', '-w', '/tmp/new/dir', '-h', 'myhost', '--env-file', envFile, img.name, 'args', 'only']);
    expect(r.stdout).toBe('args only\n');
    const r2 = await d(root, ['run', '--network', 'none', '--rm', '-w', '/tmp/new/dir', '-h', 'myhost', '--env-file', envFile, '-e', 'FOO=flag', img.name, 'sh', '-c', 'pwd; hostname; echo $FROMFILE $FOO; cat /etc/hostname']);
    expect(r2.stdout).toBe('/tmp/new/dir\nmyhost\nyes flag\nmyhost\n');
    const id = (await ok(root, ['create', '--network', 'none', '--name', 'labelled', '-l', 'org.test.kind=override', '-l', 'extra', img.name])).trim();
    const doc = JSON.parse(await ok(root, ['inspect', 'labelled']))[0];
    expect(doc.Id).toBe(id);
    expect(doc.Config.Labels).toEqual({ 'org.test.kind': 'override', 'org.test.keep': 'yes', extra: '' });
    expect(doc.Config.Cmd).toEqual(['/bin/sh', '-c', 'echo hello from the image']);
    expect(doc.State.Status).toBe('created');
    expect(doc.Mounts.map((m: { Destination: string; Type: string }) => [m.Type, m.Destination])).toEqual([['volume', '/data']]);
    await ok(root, ['rm', '-v', 'labelled']);
  });

  it('resolves -u through the image passwd and group files', async () => {
    const byName = await d(root, ['run', '--network', 'none', '--rm', '-u', 'app', img.name, 'sh', '-c', 'id; echo $HOME']);
    // runc/moby semantics: the supplementary groups are those that list the user in /etc/group.
    expect(byName.stdout).toBe('uid=1000(app) gid=1000(app) groups=2000(extra)\n/home/app\n');
    const withGroup = await d(root, ['run', '--network', 'none', '--rm', '-u', 'app:extra', img.name, 'id']);
    expect(withGroup.stdout).toBe('uid=1000(app) gid=2000(extra)\n'); // an explicit group: no supplementary groups
    const numeric = await d(root, ['run', '--network', 'none', '--rm', '-u', '4242:4343', img.name, 'id']);
    expect(numeric.stdout).toBe('uid=4242 gid=4343\n');
    const missing = await d(root, ['run', '--network', 'none', '--rm', '-u', 'ghost', img.name, 'id']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toBe('dock: unable to find user ghost: no matching entries in passwd file\n');
  });

  it("applies Docker's defaults: capabilities, seccomp, masked and read-only paths, no-new-privileges on request", async () => {
    const r = await d(root, ['run', '--network', 'none', '--rm', img.name, 'sh', '-c', 'grep -E "^(CapEff|CapBnd|Seccomp|NoNewPrivs):" /proc/self/status; cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo ro-proc-sys; mount | grep " /sys " | grep -c "ro,"']);
    // Docker's 14 default capabilities: chown dac_override fowner fsetid kill setgid setuid setpcap
    // net_bind_service net_raw sys_chroot mknod audit_write setfcap.
    expect(r.stdout).toBe('CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n0\nro-proc-sys\n1\n');
    const nnp = await d(root, ['run', '--network', 'none', '--rm', '--security-opt', 'no-new-privileges', '--cap-drop', 'ALL', '--cap-add', 'NET_BIND_SERVICE', img.name, 'grep', '-E', '^(CapEff|NoNewPrivs):', '/proc/self/status']);
    expect(nnp.stdout).toBe('CapEff:\t0000000000000400\nNoNewPrivs:\t1\n');
    const unconfined = await d(root, ['run', '--network', 'none', '--rm', '--security-opt', 'seccomp=unconfined', img.name, 'grep', '^Seccomp:', '/proc/self/status']);
    expect(unconfined.stdout).toBe('Seccomp:\t0\n');
    // The default profile blocks what Docker blocks, e.g. unshare of a user namespace without CAP_SYS_ADMIN... and keyctl.
    const blocked = await d(root, ['run', '--network', 'none', '--rm', img.name, 'unshare', '-U', 'true']);
    expect(blocked.code).not.toBe(0);
    expect(blocked.stderr).toMatch(/Operation not permitted/);
    const priv = await d(root, ['run', '--network', 'none', '--rm', '--privileged', img.name, 'sh', '-c', 'grep -E "^(CapEff|Seccomp):" /proc/self/status; ls /dev | grep -c .']);
    const [capEff, seccomp, ndev] = priv.stdout.trim().split('\n');
    // Every capability of dock's own bounding set (a sandbox may lack some).
    expect(capEff).toBe(readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:.*$/m)![0].replace('CapBnd', 'CapEff'));
    expect(seccomp).toBe('Seccomp:\t0');
    expect(Number(ndev)).toBeGreaterThan(10);
  });

  it('makes the root read-only with --read-only, and keeps tmpfs mounts writable', async () => {
    const r = await d(root, ['run', '--network', 'none', '--rm', '--read-only', '--tmpfs', '/scratch:size=1m', img.name, 'sh', '-c', 'touch /x 2>&1 | grep -c "Read-only"; touch /scratch/ok && echo tmpfs-ok; grep " /scratch " /proc/mounts | grep -c size=1024k']);
    expect(r.stdout).toBe('1\ntmpfs-ok\n1\n');
  });

  it('writes resource limits into the cgroup', async () => {
    const id = (await ok(root, ['run', '--network', 'none', '-d', '--memory', '64m', '--memory-swap', '128m', '--cpus', '0.5', '--cpu-shares', '512', '--pids-limit', '50', '--cpuset-cpus', '0', '--ulimit', 'nofile=512:1024', img.name, 'sleep', '60'])).trim();
    try {
      const cg = (c: string, f: string) => readFileSync(`/sys/fs/cgroup/${c}/dock/${id}/${f}`, 'utf8').trim();
      expect(cg('memory', 'memory.limit_in_bytes')).toBe(String(64 * 1024 * 1024));
      expect(cg('memory', 'memory.memsw.limit_in_bytes')).toBe(String(128 * 1024 * 1024));
      expect(cg('cpu', 'cpu.cfs_quota_us')).toBe('50000');
      expect(cg('cpu', 'cpu.cfs_period_us')).toBe('100000');
      expect(cg('cpu', 'cpu.shares')).toBe('512');
      expect(cg('pids', 'pids.max')).toBe('50');
      expect(cg('cpuset', 'cpuset.cpus')).toBe('0');
      const lim = await ok(root, ['exec', id, 'sh', '-c', 'ulimit -n; ulimit -Hn']);
      expect(lim).toBe('512\n1024\n');
      const stats = await ok(root, ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', id]);
      expect(stats).toMatch(/^\S+ 1 [\d.]+[kMG]?B \/ 67\.1MB\n$/);
    } finally {
      await ok(root, ['rm', '-f', '-v', id]);
    }
  });

  it('reports a container killed by the OOM killer', async () => {
    const r = await d(root, ['run', '--network', 'none', '--name', 'hog', '--memory', '16m', '--memory-swap', '16m', img.name, 'tail', '/dev/zero']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 137, stderr: '' });
    expect(await ok(root, ['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'hog'])).toBe('true 137\n');
    await ok(root, ['rm', 'hog']);
  });

  it('passes stdin with -i, and --rm leaves no container, mount, cgroup or supervisor', async () => {
    const r = await d(root, ['run', '--network', 'none', '-i', '--rm', '--name', 'catter', img.name, 'sh', '-c', 'cat; echo done'], { input: 'line one\nline two\n' });
    expect(r.stdout).toBe('line one\nline two\ndone\n');
    expect(r.code).toBe(0);
    expect((await ok(root, ['ps', '-aq', '--filter', 'name=catter']))).toBe('');
    expect(mountsUnder(join(root, 'containers'))).toEqual([]);
    expect(supervisorsOf(root)).toEqual([]);
  });

  it('fails with one clear line: unknown image, name in use, bad flag value, missing bind source', async () => {
    const unknown = await d(root, ['run', '--network', 'none', '--rm', '--pull', 'never', 'nosuch/image:1']);
    expect(unknown.code).toBe(125); // docker run's status for its own errors
    expect(unknown.stderr).toBe('dock: no such image: nosuch/image:1 (pull it first: dock pull nosuch/image:1)\n');
    await ok(root, ['create', '--network', 'none', '--name', 'taken', img.name]);
    const dup = await d(root, ['create', '--network', 'none', '--name', 'taken', img.name]);
    expect(dup.stderr).toMatch(/^dock: the container name "\/taken" is already in use by container "[0-9a-f]{64}": remove or rename that container to reuse the name\n$/);
    const badMem = await d(root, ['run', '--network', 'none', '--rm', '--memory', 'lots', img.name]);
    expect(badMem.stderr).toBe('dock: invalid value "lots" for --memory: want a size such as 512m or 1g\n');
    const badRestart = await d(root, ['run', '--network', 'none', '--rm', '--restart', 'sometimes', img.name]);
    expect(badRestart.stderr).toBe('dock: invalid restart policy "sometimes": want no, always, unless-stopped or on-failure[:N]\n');
    const noBind = await d(root, ['run', '--network', 'none', '--rm', '--mount', 'type=bind,source=/nonexistent/dir,target=/x', img.name]);
    expect(noBind.stderr).toBe('dock: invalid mount config for type "bind": bind source path does not exist: /nonexistent/dir\n');
    // (An unknown network fails before anything is made; bridge networks are tested in a test netns: dock-net.test.ts.)
    const badNet = await d(root, ['run', '--rm', '--network', 'nosuchnet', img.name]);
    expect([badNet.code, badNet.stderr]).toEqual([125, 'dock: network nosuchnet not found\n']);
    const notFound = await d(root, ['run', '--network', 'none', '--rm', img.name, 'nosuchcmd']);
    expect([notFound.code, notFound.stderr]).toEqual([127, expect.stringMatching(/^dock: failed to start container \S+: exec: "nosuchcmd": executable file not found in \$PATH\n$/)]);
    const notExec = await d(root, ['run', '--network', 'none', '--rm', img.name, '/etc/passwd']);
    expect(notExec.code).toBe(126);
    // None of the failures left a container behind.
    expect((await ok(root, ['ps', '-a', '--format', '{{.Names}}']))).toBe('taken\n');
    await ok(root, ['rm', '-v', 'taken']);
  });

  it('serializes racing creates of one name: exactly one wins', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => d(root, ['create', '--network', 'none', '--name', 'racer', img.name])));
    expect(results.filter((r) => r.code === 0)).toHaveLength(1);
    for (const r of results.filter((x) => x.code !== 0)) expect(r.stderr).toMatch(/already in use/);
    await ok(root, ['rm', '-v', 'racer']);
  });

  it('creates, starts, stops and restarts with the stop signal, then SIGKILL after the timeout', async () => {
    const id = (await ok(root, ['create', '--network', 'none', '--name', 'lifecycle', '--stop-signal', 'USR1', img.name, 'sh', '-c', 'trap "echo got usr1; exit 3" USR1; while true; do sleep 0.1; done'])).trim();
    expect(await ok(root, ['start', 'lifecycle'])).toBe('lifecycle\n');
    expect(await ok(root, ['ps', '--format', '{{.ID}} {{.State}}'])).toBe(`${id.slice(0, 12)} running\n`);
    expect(await ok(root, ['stop', 'lifecycle'])).toBe('lifecycle\n');
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'lifecycle'])).toBe('exited 3\n');
    expect(await ok(root, ['logs', 'lifecycle'])).toBe('got usr1\n');
    await ok(root, ['restart', 'lifecycle']);
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'lifecycle'])).toBe('running\n');
    // A process that ignores the signal is killed after --time.
    const stubborn = (await ok(root, ['run', '--network', 'none', '-d', img.name, 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done'])).trim();
    expect(await ok(root, ['stop', '-t', '1', stubborn])).toBe(`${stubborn}\n`);
    expect(await ok(root, ['inspect', '-f', '{{.State.ExitCode}}', stubborn])).toBe('137\n');
    await ok(root, ['rm', '-f', '-v', 'lifecycle', stubborn]);
  }, ops(12));

  it('gives --network none a private namespace with loopback up, and --network host the host one', async () => {
    const none = await ok(root, ['run', '--network', 'none', '--rm', img.name, 'sh', '-c', 'ip -o link | cut -d" " -f2; ip -o addr show lo | grep -c "inet 127.0.0.1"; readlink /proc/self/ns/net']);
    const [links, lo, ns] = none.trim().split('\n');
    expect(links).toBe('lo:');
    expect(lo).toBe('1');
    expect(ns).not.toBe(readlinkSync('/proc/self/ns/net'));
    const host = await ok(root, ['run', '--rm', '--network', 'host', img.name, 'readlink', '/proc/self/ns/net']);
    expect(host.trim()).toBe(readlinkSync('/proc/self/ns/net'));
  });

  it('adds host devices with --device, with their cgroup permissions', async () => {
    // /dev/loop-control (c 10:237) is not among the default devices: without --device it is denied.
    // (The runtime allows rwm for every linux.devices node, so the :r of --device is not narrowed.)
    const r = await ok(root, ['run', '--network', 'none', '--rm', '--device', '/dev/loop-control:/dev/lc:r', img.name, 'sh', '-c', 'ls -l /dev/lc | cut -c1; stat -c "%t,%T" /dev/lc; (exec 3</dev/lc) && echo read-ok; test -e /dev/loop-control || echo only-mapped']);
    expect(r).toBe('c\na,ed\nread-ok\nonly-mapped\n');
    const without = await d(root, ['run', '--network', 'none', '--rm', img.name, 'sh', '-c', 'mknod /dev/lc c 10 237 && (exec 3</dev/lc) 2>/dev/null || echo denied']);
    expect(without.stdout).toBe('denied\n');
    const missing = await d(root, ['run', '--network', 'none', '--rm', '--device', '/dev/nonexistent', img.name, 'true']);
    expect(missing.stderr).toBe('dock: error gathering device information while adding custom device "/dev/nonexistent": no such file or directory\n');
  });

  it('serializes racing starts, stops and removals of one container', async () => {
    const id = (await ok(root, ['create', '--network', 'none', img.name, 'sleep', '60'])).trim();
    const starts = await Promise.all([1, 2, 3].map(() => d(root, ['start', id])));
    expect(starts.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(supervisorsOf(root)).toHaveLength(1);
    expect(await ok(root, ['ps', '-q', '--no-trunc'])).toBe(`${id}\n`);
    const [stop, rm] = await Promise.all([d(root, ['stop', '-t', '0', id]), d(root, ['rm', '-f', id])]);
    expect(rm.code).toBe(0);
    expect([0, 1]).toContain(stop.code); // stop may find the container already removed
    expect(await ok(root, ['ps', '-aq'])).toBe('');
    expect(dockCgroups([id])).toEqual([]);
  });

  it('runs --init as pid 1 and the command under it', async () => {
    const r = await d(root, ['run', '--network', 'none', '--rm', '--init', img.name, 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$']);
    expect(r.stdout).toBe('/dev/init --init -- sh -c cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$ \n2\n');
  });

  it('copies files both ways with cp and exports the filesystem', async () => {
    const id = (await ok(root, ['run', '--network', 'none', '-d', img.name, 'sleep', '60'])).trim();
    const host = mkdtempSync(join(root, 'cp-'));
    try {
      writeFileSync(join(host, 'in.txt'), 'to the container\n');
      await ok(root, ['cp', join(host, 'in.txt'), `${id}:/tmp`]);
      expect(await ok(root, ['exec', id, 'cat', '/tmp/in.txt'])).toBe('to the container\n');
      await ok(root, ['exec', id, 'sh', '-c', 'echo back > /tmp/out.txt']);
      await ok(root, ['cp', `${id}:/tmp/out.txt`, join(host, 'copied.txt')]);
      expect(readFileSync(join(host, 'copied.txt'), 'utf8')).toBe('back\n');
      const tar = join(host, 'fs.tar');
      await ok(root, ['export', '-o', tar, id]);
      const { execFileSync } = await import('node:child_process');
      const names = execFileSync('tar', ['tf', tar]).toString().split('\n');
      expect(names).toEqual(expect.arrayContaining(['./bin/busybox', './tmp/out.txt', './data/seed']));
    } finally {
      rmSync(host, { recursive: true, force: true });
      await ok(root, ['rm', '-f', '-v', id]);
    }
    expect(dockCgroups([id])).toEqual([]);
  });
});
