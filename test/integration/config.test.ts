// config.json features, each checked from inside a real container.
import { mkdirSync, writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Skiff, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

describe.skipIf(skipWhen(needRoot()))('config.json inside the container', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  /** Run `script` with the config changes of `edit` and return what it printed. */
  function inside(script: string, edit: (cfg: Record<string, any>) => void = () => {}): string {
    const cfg = baseConfig(['sh', '-c', script]);
    edit(cfg);
    const r = skiff.run(['run', '-b', makeBundle(cfg), `c${Math.random().toString(36).slice(2, 8)}`]);
    if (r.status !== 0) throw new Error(`container exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  it('sets hostname, domainname, user, groups, umask, cwd, env and rlimits', () => {
    const out = inside(
      'hostname; cat /proc/sys/kernel/domainname; id; umask; pwd; echo "FOO=$FOO"; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj',
      (c) => {
        c.hostname = 'cfg-host';
        c.domainname = 'cfg.example';
        c.process.user = { uid: 1000, gid: 1000, umask: 0o027, additionalGids: [100, 65534] };
        c.process.cwd = '/work';
        c.mounts.push({ destination: '/work', type: 'tmpfs', source: 'tmpfs', options: ['mode=777'] });
        c.process.env.push('FOO=bar baz');
        c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 }];
        c.process.oomScoreAdj = 500;
      },
    );
    expect(out.split('\n')).toEqual([
      'cfg-host',
      'cfg.example',
      'uid=1000(user) gid=1000(user) groups=100(users),65534(nogroup)',
      '0027',
      '/work',
      'FOO=bar baz',
      '512',
      '1000',
      '500',
      '',
    ]);
  });

  it('sets the five capability sets and no_new_privs exactly', () => {
    const out = inside("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status", (c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.capabilities = {
        bounding: ['CAP_NET_BIND_SERVICE', 'CAP_KILL', 'CAP_CHECKPOINT_RESTORE'],
        effective: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
        permitted: ['CAP_NET_BIND_SERVICE', 'CAP_KILL'],
        inheritable: ['CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      };
    });
    const status = Object.fromEntries(out.trim().split('\n').map((l) => l.split(/:\s+/)));
    // Ambient capabilities survive execve for a non-root user: NET_BIND_SERVICE (bit 10) only.
    expect(status).toEqual({
      CapInh: '0000000000000400',
      CapPrm: '0000000000000400',
      CapEff: '0000000000000400',
      CapBnd: '0000010000000420',
      CapAmb: '0000000000000400',
      NoNewPrivs: '1',
    });
  });

  it('ignores an unknown capability with a warning, as runc does', () => {
    const cfg = baseConfig(['true']);
    cfg.process.capabilities.bounding.push('CAP_NOT_A_THING');
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'badcap']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/level=warning msg="ignoring unknown or unavailable capabilities: \[CAP_NOT_A_THING\]"/);
  });

  it('makes a /dev of its own with the default and configured devices', () => {
    const out = inside('ls -ln /dev | sort -k10; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok', (c) => {
      c.linux.devices = [{ path: '/dev/mydev', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 1000, gid: 100 }];
    });
    const lines = out.split('\n');
    const entry = (name: string) => lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `)) ?? '';
    for (const [name, mm] of [['null', '1,   3'], ['zero', '1,   5'], ['full', '1,   7'], ['random', '1,   8'], ['urandom', '1,   9'], ['tty', '5,   0']]) {
      expect(entry(name), name).toMatch(new RegExp(`^crw-rw-rw-\\s+1 0\\s+0\\s+${mm} `));
    }
    expect(entry('mydev')).toMatch(/^crw-------\s+1 1000\s+100\s+1,\s+3 /);
    expect(entry('fd')).toMatch(/fd -> \/proc\/self\/fd$/);
    expect(entry('stdin')).toMatch(/-> \/proc\/self\/fd\/0$/);
    expect(entry('ptmx')).toMatch(/ptmx -> pts\/ptmx$/);
    expect(entry('pts')).toMatch(/^d/);
    expect(entry('shm')).toMatch(/^drwxrwxrwt/);
    expect(out).toContain('\n4\nnull-ok\n');
  });

  it('mounts in order with their options: bind ro, tmpfs size and mode, a read-only root', () => {
    const host = tmp();
    mkdirSync(join(host, 'sub'));
    writeFileSync(join(host, 'sub', 'file'), 'from host\n');
    writeFileSync(join(host, 'single'), 'one file\n');
    const out = inside(
      [
        'cat /data/sub/file /etc/single',
        'touch /data/new 2>/dev/null && echo data-rw || echo data-ro',
        'touch /rootfile 2>/dev/null && echo root-rw || echo root-ro',
        'touch /scratch/x && echo scratch-rw',
        "grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=[0-9]*k,mode=[0-9]*'",
        "grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6",
        'stat -c %a /scratch',
      ].join('; '),
      (c) => {
        c.mounts.push(
          { destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro', 'nosuid', 'nodev'] },
          { destination: '/etc/single', type: 'bind', source: join(host, 'single'), options: ['bind', 'ro'] },
          { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=700', 'noexec'] },
        );
      },
    );
    expect(out.split('\n')).toEqual([
      'from host',
      'one file',
      'data-ro',
      'root-ro',
      'scratch-rw',
      'size=1024k,mode=700',
      'ro,nosuid,nodev,relatime',
      '700',
      '',
    ]);
  });

  it('masks paths and makes others read-only, /proc/sys and /sys included', () => {
    const out = inside(
      [
        'wc -c < /proc/keys',
        'ls /sys/firmware | wc -l',
        'echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-refused',
        'echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-refused',
        "awk '$5 == \"/sys\" { split($6, o, \",\"); print o[1] }' /proc/self/mountinfo",
      ].join('; '),
    );
    expect(out.split('\n')).toEqual(['0', '0', 'sysrq-refused', 'sys-refused', 'ro', '']);
  });

  it('applies sysctls in the container namespaces only', () => {
    const out = inside('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax', (c) => {
      // /proc/sys stays in readonlyPaths: sysctls are written before it becomes read-only.
      c.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '12345' };
    });
    expect(out).toBe('1\n12345\n');
  });

  it('gives the container new namespaces of every kind it asks for', () => {
    const host = ['pid', 'net', 'ipc', 'uts', 'mnt', 'cgroup'].map((n) => `${n}:${require('node:fs').readlinkSync(`/proc/self/ns/${n}`)}`);
    const out = inside('for n in pid net ipc uts mnt cgroup; do echo "$n:$(readlink /proc/self/ns/$n)"; done');
    const inner = out.trim().split('\n');
    for (let i = 0; i < host.length; i++) expect(inner[i]).not.toBe(host[i]);
    // A new pid namespace: the shell is pid 1.
    expect(inside('echo $$')).toBe('1\n');
  });

  it('runs in a new time namespace with offsets', () => {
    const out = inside("cut -d' ' -f1 /proc/uptime", (c) => {
      c.linux.namespaces.push({ type: 'time' });
      c.linux.timeOffsets = { boottime: { secs: 86400 * 365, nanosecs: 0 } };
    });
    expect(Number(out)).toBeGreaterThan(86400 * 365);
  });
});
