// User namespaces on real containers (run as root): the container's uid/gid maps, a rootfs owned
// by the mapped root, devices bind-mounted from the host (mknod is not allowed in a user
// namespace), and id-mapped bind mounts (open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount).
import { execFileSync } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { chmodSync, chownSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Skiff, TEST_ROOTFS, baseConfig, isRoot, makeBundle, mountsUnder, tmp } from '../helpers';

const HOST_ROOT = 100000; // where the container's root lives on the host
const maps = [{ containerID: 0, hostID: HOST_ROOT, size: 65536 }];

describe.skipIf(skipWhen(needRoot()))('user namespaces', () => {
  const skiff = new Skiff();
  const work = tmp('skiff-userns-');
  const rootfs = join(work, 'rootfs');
  beforeAll(() => {
    // A private rootfs owned by the container's root, as an engine would unpack it for a user
    // namespace: the container may then create its mount points.
    chmodSync(work, 0o755); // the container's root (host uid 100000) must reach the rootfs
    execFileSync('cp', ['-a', TEST_ROOTFS, rootfs]);
    execFileSync('chown', ['-R', `${HOST_ROOT}:${HOST_ROOT}`, rootfs]);
  });
  afterAll(() => {
    skiff.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  function config(script: string, edit: (c: Record<string, any>) => void = () => {}) {
    const cfg = baseConfig(['sh', '-c', script]);
    cfg.root = { path: rootfs, readonly: false };
    cfg.linux.namespaces.push({ type: 'user' });
    cfg.linux.uidMappings = maps;
    cfg.linux.gidMappings = maps;
    edit(cfg);
    return cfg;
  }
  function inside(script: string, edit?: (c: Record<string, any>) => void): string {
    const r = skiff.run(['run', '-b', makeBundle(config(script, edit)), `u${Math.random().toString(36).slice(2, 8)}`]);
    if (r.status !== 0) throw new Error(`container exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }
  const words = (s: string) => s.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));

  it('the process is root inside, mapped to the configured host ids; its files belong to them', () => {
    const shared = join(work, 'shared');
    mkdirSync(shared);
    chownSync(shared, HOST_ROOT, HOST_ROOT);
    const out = inside('id; cat /proc/self/uid_map /proc/self/gid_map; stat -c "%u %g" /bin; touch /shared/by-root; touch /shared/by-1000 && chown 1000:1000 /shared/by-1000 && echo chowned', (c) => {
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind'] });
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process.capabilities[set].push('CAP_CHOWN');
    });
    expect(words(out)).toEqual(['uid=0(root) gid=0(root)', `0 ${HOST_ROOT} 65536`, `0 ${HOST_ROOT} 65536`, '0 0', 'chowned']);
    const owner = (f: string) => `${statSync(join(shared, f)).uid}:${statSync(join(shared, f)).gid}`;
    expect(owner('by-root')).toBe(`${HOST_ROOT}:${HOST_ROOT}`);
    expect(owner('by-1000')).toBe(`${HOST_ROOT + 1000}:${HOST_ROOT + 1000}`);
  });

  it('host files of unmapped ids show as nobody and stay out of reach', () => {
    const secret = join(work, 'secret');
    writeFileSync(secret, 'host root only\n', { mode: 0o600 });
    const out = inside('stat -c "%u %g" /secret; cat /secret 2>/dev/null || echo refused; echo x >> /secret 2>/dev/null || echo write-refused', (c) =>
      c.mounts.push({ destination: '/secret', type: 'bind', source: secret, options: ['bind'] }),
    );
    expect(words(out)).toEqual(['65534 65534', 'refused', 'write-refused']);
  });

  it('devices are bind-mounted from the host, not made with mknod', () => {
    const out = inside(
      [
        'for d in null zero full random urandom tty kmsg; do stat -c "%n %t:%T" /dev/$d; done',
        'echo x > /dev/null && echo null-writable',
        'head -c 3 /dev/zero | wc -c',
        'grep -c -E " /dev/(null|zero|full|random|urandom|tty|kmsg) " /proc/self/mountinfo',
        'mknod /dev/mine c 1 3 2>/dev/null && echo mknod-allowed || echo mknod-refused',
      ].join('; '),
      (c) => (c.linux.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644 }]),
    );
    expect(words(out)).toEqual([
      '/dev/null 1:3', '/dev/zero 1:5', '/dev/full 1:7', '/dev/random 1:8', '/dev/urandom 1:9', '/dev/tty 5:0', '/dev/kmsg 1:b',
      'null-writable', '3', '7', 'mknod-refused',
    ]);
  });

  describe('id-mapped mounts', () => {
    const src = join(work, 'idmap-src');
    beforeAll(() => {
      mkdirSync(join(src, 'sub'), { recursive: true });
      writeFileSync(join(src, 'by-root'), 'r\n');
      writeFileSync(join(src, 'by-1234'), 'x\n');
      chownSync(join(src, 'by-1234'), 1234, 1234);
      // A submount, to tell idmap (this mount only) from ridmap (the whole tree).
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(src, 'sub')]);
      writeFileSync(join(src, 'sub', 'in-sub'), 's\n');
      chownSync(join(src, 'sub', 'in-sub'), 1234, 1234);
    });
    afterAll(() => {
      execFileSync('umount', [join(src, 'sub')]);
    });
    const ls = 'for f in /m/by-root /m/by-1234 /m/sub/in-sub; do stat -c "%n %u:%g" $f; done';

    it('without idmap the host ids are unmapped in the container (the tests below can fail)', () => {
      expect(words(inside(ls, (c) => c.mounts.push({ destination: '/m', type: 'bind', source: src, options: ['rbind'] })))).toEqual([
        '/m/by-root 65534:65534', '/m/by-1234 65534:65534', '/m/sub/in-sub 65534:65534',
      ]);
    });

    it('idmap with the container mappings: host root files are root inside, and root writes as host root', () => {
      const out = inside(`${ls}; touch /m/made-inside && stat -c "%u:%g" /m/made-inside`, (c) =>
        c.mounts.push({ destination: '/m', type: 'bind', source: src, options: ['rbind', 'idmap'] }),
      );
      // The submount is not id-mapped with plain idmap.
      expect(words(out)).toEqual(['/m/by-root 0:0', '/m/by-1234 1234:1234', '/m/sub/in-sub 65534:65534', '0:0']);
      expect(statSync(join(src, 'made-inside')).uid).toBe(0);
      rmSync(join(src, 'made-inside'));
    });

    it('ridmap with mappings of the mount: every submount, ids mapped as the mount says', () => {
      const out = inside(ls, (c) =>
        c.mounts.push({
          destination: '/m',
          type: 'bind',
          source: src,
          options: ['rbind', 'ridmap'],
          uidMappings: [{ containerID: 1234, hostID: HOST_ROOT + 5, size: 1 }],
          gidMappings: [{ containerID: 1234, hostID: HOST_ROOT + 6, size: 1 }],
        }),
      );
      expect(words(out)).toEqual(['/m/by-root 65534:65534', '/m/by-1234 5:6', '/m/sub/in-sub 5:6']);
    });

    it('an id-mapped mount in a container without a user namespace', () => {
      const list = 'for f in /m/by-root /m/by-1234 /m/sub; do stat -c "%n %u:%g" $f; done; ls /m/sub | wc -l';
      const cfg = baseConfig(['sh', '-c', `${list}; touch /m/w 2>/dev/null || echo ro; grep -c " /m .*idmapped" /proc/self/mountinfo`]);
      cfg.root = { path: rootfs, readonly: true };
      cfg.mounts.push({
        destination: '/m',
        type: 'bind',
        source: src,
        options: ['bind', 'ro'],
        uidMappings: [{ containerID: 1234, hostID: 4321, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: 7, size: 1 }],
      });
      const r = skiff.run(['run', '-b', makeBundle(cfg), 'idmap-no-userns']);
      expect(r.stderr).toBe('');
      // Not recursive (bind, not rbind): the submount is not there, only the empty directory under it.
      expect(words(r.stdout)).toEqual(['/m/by-root 65534:7', '/m/by-1234 4321:65534', '/m/sub 65534:7', '0', 'ro', '1']);
    });

    it('idmap on a mount that is not a bind mount is refused, naming the mount', () => {
      const cfg = config('true', (c) => c.mounts.push({ destination: '/m', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] }));
      const r = skiff.run(['run', '-b', makeBundle(cfg), 'idmap-tmpfs']);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`skiff: invalid config.json: /mounts/${cfg.mounts.length - 1}: only bind mounts can be id-mapped (type "tmpfs")\n`);
      expect(mountsUnder([rootfs])).toEqual([]);
      expect(readdirSync(skiff.root)).not.toContain('idmap-tmpfs');
    });
  });
});
