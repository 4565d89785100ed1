// Known container escapes, each tried on a real container: the runtime's binary through
// /proc/PID/exe (CVE-2019-5736), leaked host fds and a cwd outside the root (CVE-2024-21626),
// masked and read-only paths, devices, capabilities, and a symlink in the rootfs that tries to
// take a mount outside of it.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIFF, Skiff, TEST_ROOTFS, baseConfig, isRoot, makeBundle, mountsUnder, tmp } from '../helpers';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;

describe.skipIf(!isRoot || !hasGcc)('known escapes', () => {
  const skiff = new Skiff();
  const bin = tmp('skiff-escapes-bin-');
  const syscalls = join(bin, 'syscalls');
  const agent = join(bin, 'seccomp-agent');
  beforeAll(() => {
    const fixtures = join(__dirname, '../fixtures/security');
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', syscalls, join(fixtures, 'syscalls.c')]);
    execFileSync('gcc', ['-O2', '-Wall', '-o', agent, join(fixtures, 'seccomp-agent.c')]);
  });
  afterAll(() => {
    skiff.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  function config(args: string[], edit: (c: Record<string, any>) => void = () => {}) {
    const cfg = baseConfig(args);
    cfg.mounts.push({ destination: '/usr/local/bin/syscalls', type: 'bind', source: syscalls, options: ['bind', 'ro'] });
    edit(cfg);
    return cfg;
  }
  function inside(script: string, edit?: (c: Record<string, any>) => void): string {
    const r = skiff.run(['run', '-b', makeBundle(config(['sh', '-c', script], edit)), `e${Math.random().toString(36).slice(2, 8)}`]);
    if (r.status !== 0) throw new Error(`container exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
  const addCaps = (c: Record<string, any>, ...caps: string[]) => {
    for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities[set].push(...caps);
  };

  describe('CVE-2019-5736: the runtime binary through /proc/PID/exe', () => {
    it('during create: the waiting init (pid 1) is non-dumpable, its exe cannot be opened', () => {
      skiff.ok(['create', '-b', makeBundle(config(['sleep', '30'])), 'cve5736-create']);
      try {
        const during = skiff.run(['exec', 'cve5736-create', 'sh', '-c', 'cat /proc/1/comm; syscalls exe-of 1']);
        expect(during.stdout).toBe('skiff-init\nexe-link EACCES exe-read EACCES exe-write EACCES\n');
        // Once started, pid 1 is the container's own program (dumpable): the same checks succeed
        // for reading, which shows the refusal above came from the init, not from the test.
        skiff.ok(['start', 'cve5736-create']);
        const after = skiff.run(['exec', 'cve5736-create', 'syscalls', 'exe-of', '1']);
        expect(after.stdout).toBe('exe-link /bin/busybox exe-read ok exe-write ETXTBSY\n');
      } finally {
        skiff.run(['delete', '--force', 'cve5736-create']);
      }
    });

    it('during start: a startContainer hook (a process in the container, run by the init) cannot open it', () => {
      // The hook runs after `start` released the init, with the container process's credentials.
      // A hook's stdout is not the container's (as under runc): it writes its result to a bind mount.
      const out = tmp('skiff-cve5736-hook-');
      const cfg = config(['true'], (c) => {
        c.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind'] });
        c.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', '/usr/local/bin/syscalls exe-of 1 > /out/result'] }] };
      });
      const r = skiff.run(['run', '-b', makeBundle(cfg), 'cve5736-start']);
      expect(r.stderr).toBe('');
      expect(readFileSync(join(out, 'result'), 'utf8')).toBe('exe-link EACCES exe-read EACCES exe-write EACCES\n');
    });

    it('during exec: a container process cannot open the exec init exe (held at its execve)', async () => {
      // A seccomp agent holds every execve of the container for a while: the exec's skiff-init
      // then sits inside the container at its most exposed moment, while the container's own
      // process (a watcher) looks for it and tries its /proc/PID/exe.
      const dir = tmp('skiff-cve5736-');
      const socket = join(dir, 'agent.sock');
      const out = join(dir, 'out');
      mkdirSync(out);
      const child = spawn(agent, [socket, join(dir, 'states'), '1', '2', '1500'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise((done) => child.on('exit', done));
      try {
        for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10));
        // The watcher is not pid 1: when pid 1 exits, the kernel kills the whole pid namespace.
        const cfg = config(['sh', '-c', 'syscalls watch-init /out/result; exec sleep 30'], (c) => {
          c.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind'] });
          c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: socket, syscalls: [{ names: ['execve'], action: 'SCMP_ACT_NOTIFY' }] };
        });
        skiff.ok(['run', '-d', '-b', makeBundle(cfg), 'cve5736-exec']);
        const ex = skiff.run(['exec', 'cve5736-exec', 'true']);
        expect(ex.stderr).toBe('');
        expect(readFileSync(join(out, 'result'), 'utf8')).toBe('skiff-init exe-link EACCES exe-read EACCES exe-write EACCES\n');
      } finally {
        skiff.run(['delete', '--force', 'cve5736-exec']);
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('CVE-2024-21626: leaked fds and a cwd outside the root', () => {
    it('only stdio reaches the container (run and exec), and --preserve-fds N passes exactly 3..3+N-1', () => {
      expect(inside('syscalls fds')).toBe('fds 0 1 2\n');

      const dir = tmp('skiff-fds-');
      const files = ['a', 'b', 'c'].map((n) => {
        writeFileSync(join(dir, n), n);
        return openSync(join(dir, n), 'r');
      });
      try {
        const bundle = makeBundle(config(['sh', '-c', 'syscalls fds; readlink /proc/self/fd/3; readlink /proc/self/fd/4; cat <&3; cat <&4']));
        // fds 3, 4 and 5 are open in skiff; only 3 and 4 are to be passed on.
        const r = spawnSync(SKIFF, ['--root', skiff.root, 'run', '--preserve-fds', '2', '-b', bundle, 'preserve'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe', ...files],
          timeout: 30_000,
        });
        expect(r.stderr).toBe('');
        // The paths of host files show as they are (the fds were given on purpose); fd 5 is not there.
        expect(r.stdout).toBe(`fds 0 1 2 3 4\n${join(dir, 'a')}\n${join(dir, 'b')}\nab`);

        skiff.ok(['run', '-d', '-b', makeBundle(config(['sleep', '30'])), 'fds-exec']);
        expect(skiff.run(['exec', 'fds-exec', 'syscalls', 'fds']).stdout).toBe('fds 0 1 2\n');
        skiff.run(['delete', '--force', 'fds-exec']);
      } finally {
        for (const f of files) closeSync(f);
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a cwd through a host directory fd (/proc/self/fd/N) is refused', () => {
      const hostDir = tmp('skiff-hostdir-');
      const fd = openSync(hostDir, 'r');
      try {
        const bundle = makeBundle(config(['pwd'], (c) => (c.process.cwd = '/proc/self/fd/3')));
        const r = spawnSync(SKIFF, ['--root', skiff.root, 'run', '--preserve-fds', '1', '-b', bundle, 'cwd-escape'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe', fd],
          timeout: 30_000,
        });
        expect(r.stdout).toBe('');
        expect(r.stderr).toBe('skiff: current working directory is outside of the container root: operation not permitted\n');
        expect(r.status).toBe(1);
        expect(readdirSync(skiff.root)).not.toContain('cwd-escape');
      } finally {
        closeSync(fd);
        rmSync(hostDir, { recursive: true, force: true });
      }
      // Whatever fd the init itself might still hold: none of them is a way out.
      for (let n = 3; n < 12; n++) {
        const r = skiff.run(['run', '-b', makeBundle(config(['pwd'], (c) => (c.process.cwd = `/proc/self/fd/${n}`))), `cwd-fd-${n}`]);
        expect(r.status, `cwd /proc/self/fd/${n}: ${r.stdout}`).toBe(1);
        expect(r.stdout).toBe('');
      }
    });
  });

  describe('session keyrings', () => {
    it('each container joins a session keyring of its own, not the caller\'s; --no-new-keyring keeps the caller\'s', () => {
      const own = skiff.run(['run', '-b', makeBundle(config(['syscalls', 'keyring'])), 'keyring-a']);
      expect(own.stderr).toBe('');
      const m = /^keyring keyring;0;0;([0-9a-f]+);_ses\.keyring-a\n$/.exec(own.stdout);
      expect(m, own.stdout).not.toBeNull();
      expect(Number.parseInt(m![1], 16) & 0x80000).toBe(0x80000); // "user" may search it
      // exec joins the container's keyring again.
      skiff.ok(['run', '-d', '-b', makeBundle(config(['sleep', '30'])), 'keyring-b']);
      expect(skiff.run(['exec', 'keyring-b', 'syscalls', 'keyring']).stdout).toMatch(/;_ses\.keyring-b\n$/);
      skiff.run(['delete', '--force', 'keyring-b']);
      const shared = skiff.run(['run', '--no-new-keyring', '-b', makeBundle(config(['syscalls', 'keyring'])), 'keyring-c']);
      expect(shared.stdout).toMatch(/^keyring keyring;/);
      expect(shared.stdout).not.toContain('_ses.keyring-c');
    });
  });

  describe('what the container may not touch', () => {
    it('masked paths are unreadable, read-only paths and /proc/sys, /sys are read-only, sysrq refused', () => {
      // The masked files this kernel has (the config masks more; absent ones are skipped).
      const masked = ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/sched_debug'].filter((f) => existsSync(f));
      expect(masked.length).toBeGreaterThan(0);
      const out = inside(
        [
          ...masked.map((f) => `wc -c < ${f}`),
          'ls /sys/firmware | wc -l',
          'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo proc-sys-writable || echo proc-sys-ro',
          'echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo vm-writable || echo vm-ro',
          'echo b > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-refused',
          'echo 1 > /proc/irq/default_smp_affinity 2>/dev/null && echo irq-writable || echo irq-ro',
          'touch /sys/kernel/x 2>/dev/null && echo sys-writable || echo sys-ro',
          'echo 1 > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && echo thp-writable || echo thp-ro',
        ].join('; '),
        // Even with every capability a root container could be given.
        (c) => addCaps(c, 'CAP_SYS_ADMIN', 'CAP_DAC_OVERRIDE', 'CAP_SYS_RAWIO'),
      );
      expect(out.split('\n')).toEqual([...masked.map(() => '0'), '0', 'proc-sys-ro', 'vm-ro', 'sysrq-refused', 'irq-ro', 'sys-ro', 'thp-ro', '']);
      expect(existsSync('/sys/firmware') && readdirSync('/sys/firmware').length).toBeGreaterThan(0); // there is something to hide
    });

    it('block devices: mknod refused without CAP_MKNOD; with it, the device cgroup refuses the node', () => {
      expect(inside('mknod /tmp/sda b 8 0 2>/dev/null && echo made || echo mknod-refused')).toBe('mknod-refused\n');
      const out = inside('mknod /tmp/sda b 8 0 && echo made; head -c 1 /tmp/sda > /dev/null 2>&1 && echo readable || echo open-refused', (c) =>
        addCaps(c, 'CAP_MKNOD'),
      );
      expect(out).toBe('made\nopen-refused\n');
    });

    it('chown fails without CAP_CHOWN, works with it', () => {
      expect(inside('touch /tmp/f; chown 1000 /tmp/f 2>/dev/null && echo chowned || echo chown-refused')).toBe('chown-refused\n');
      expect(inside('touch /tmp/f; chown 1000 /tmp/f && stat -c %u /tmp/f', (c) => addCaps(c, 'CAP_CHOWN'))).toBe('1000\n');
    });

    it('raw sockets (ping) fail without CAP_NET_RAW, work with it', () => {
      const lo = (c: Record<string, any>) => (c.hooks = { createContainer: [{ path: join(TEST_ROOTFS, 'bin/busybox'), args: ['ip', 'link', 'set', 'lo', 'up'] }] });
      expect(inside('ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo pinged || echo ping-refused', lo)).toBe('ping-refused\n');
      expect(
        inside('ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo pinged || echo ping-refused', (c) => {
          lo(c);
          addCaps(c, 'CAP_NET_RAW');
        }),
      ).toBe('pinged\n');
    });
  });

  describe('a symlink in the rootfs cannot take a mount outside', () => {
    const work = tmp('skiff-symlink-');
    const rootfs = join(work, 'rootfs');
    const victim = join(work, 'host-victim'); // a host directory the symlinks point at
    beforeAll(() => {
      execFileSync('cp', ['-a', TEST_ROOTFS, rootfs]);
      mkdirSync(victim);
      writeFileSync(join(victim, 'keep'), 'host file\n');
      // /etc -> the host directory, by absolute path ("/etc -> /host/etc" style) and by "..".
      rmSync(join(rootfs, 'etc'), { recursive: true, force: true });
      symlinkSync(victim, join(rootfs, 'etc'));
      symlinkSync(`../../../../../../../../../..${victim}`, join(rootfs, 'up'));
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('mounts through /etc -> /host/... and ../../.. land inside the rootfs', () => {
      const src = join(work, 'src');
      writeFileSync(src, 'mounted\n');
      const cfg = baseConfig([
        'sh',
        '-c',
        `cat /etc/hostname /up/passwd; ls ${victim}; grep -c " ${victim}/" /proc/self/mountinfo; ls ${victim}/dir | wc -l`,
      ]);
      cfg.root = { path: rootfs, readonly: false };
      cfg.mounts.push(
        { destination: '/etc/hostname', type: 'bind', source: src, options: ['bind', 'ro'] },
        { destination: '/up/passwd', type: 'bind', source: src, options: ['bind', 'ro'] },
        { destination: '/etc/dir', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      );
      const r = skiff.run(['run', '-b', makeBundle(cfg), 'symlink-escape']);
      expect(r.stderr).toBe('');
      // Inside, the symlinks resolve as if the rootfs were "/": the three mounts are at <victim>/...
      // of the container (dangling there, the symlinks' targets were made inside the rootfs, on
      // the container's /tmp tmpfs), and the host files are not visible.
      expect(r.stdout.split('\n')).toEqual(['mounted', 'mounted', 'dir', 'hostname', 'passwd', '3', '0', '']);
      // On the host, the directory the symlinks name is untouched: no new file, no mount.
      expect(readdirSync(victim)).toEqual(['keep']);
      expect(mountsUnder([victim, work])).toEqual([]);
    });
  });
});
