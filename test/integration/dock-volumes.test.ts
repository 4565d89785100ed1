// Volumes and mounts on real containers: named volumes that outlive their container, anonymous
// volumes from the image's VOLUME with copy-up, data shared by two running containers, bind mounts
// ro/rw with propagation, tmpfs, --volumes-from, and the volume commands.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, newRoot, ok, type TestImage, waitFor } from './dock-helpers';

let img: TestImage;
let root: string;

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock volumes', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      await d(root, ['volume', 'prune', '-a', '-f']);
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
  });

  it('keeps a named volume after its container is removed, for the next container', async () => {
    expect(await ok(root, ['volume', 'create', '--label', 'team=a', 'keep'])).toBe('keep\n');
    await ok(root, ['run', '--network', 'none', '--rm', '-v', 'keep:/store', img.name, 'sh', '-c', 'echo persisted > /store/file']);
    expect(await ok(root, ['volume', 'ls', '-q'])).toContain('keep\n');
    expect(await ok(root, ['run', '--network', 'none', '--rm', '-v', 'keep:/elsewhere:ro', img.name, 'cat', '/elsewhere/file'])).toBe('persisted\n');
    const ro = await d(root, ['run', '--network', 'none', '--rm', '-v', 'keep:/elsewhere:ro', img.name, 'sh', '-c', 'echo x > /elsewhere/file']);
    expect(ro.code).not.toBe(0);
    expect(ro.stderr).toMatch(/Read-only file system/);
    const v = JSON.parse(await ok(root, ['volume', 'inspect', 'keep']))[0];
    expect(v).toMatchObject({ Name: 'keep', Driver: 'local', Labels: { team: 'a' }, Scope: 'local', Mountpoint: join(root, 'volumes', 'keep', '_data') });
    expect(readFileSync(join(v.Mountpoint, 'file'), 'utf8')).toBe('persisted\n');
    // -v NAME of a volume that does not exist yet makes it.
    await ok(root, ['run', '--network', 'none', '--rm', '-v', 'auto:/a', img.name, 'true']);
    expect(await ok(root, ['volume', 'ls', '--format', '{{.Name}}', '--filter', 'name=auto'])).toBe('auto\n');
  });

  it("fills a new volume from the image's content (copy-up) and removes anonymous volumes with rm -v", async () => {
    const id = (await ok(root, ['create', '--network', 'none', img.name, 'sh', '-c', 'cat /data/seed; echo more >> /data/seed'])).trim();
    const anon = JSON.parse(await ok(root, ['inspect', id]))[0].Mounts[0];
    expect(anon).toMatchObject({ Type: 'volume', Destination: '/data', RW: true });
    expect(anon.Name).toMatch(/^[0-9a-f]{64}$/);
    await ok(root, ['start', '-a', id]);
    expect(await ok(root, ['logs', id])).toBe('from the image\n');
    expect(readFileSync(join(root, 'volumes', anon.Name, '_data', 'seed'), 'utf8')).toBe('from the image\nmore\n');
    // A named volume is filled too, unless nocopy is asked.
    expect(await ok(root, ['run', '--network', 'none', '--rm', '-v', 'seeded:/data', img.name, 'cat', '/data/seed'])).toBe('from the image\n');
    expect(await ok(root, ['run', '--network', 'none', '--rm', '-v', 'empty:/data:nocopy', img.name, 'ls', '-A', '/data'])).toBe('');
    await ok(root, ['rm', '-v', id]);
    expect(existsSync(join(root, 'volumes', anon.Name))).toBe(false);
    expect(await ok(root, ['volume', 'ls', '-q'])).not.toContain(anon.Name);
  });

  it('shares a volume between two running containers', async () => {
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'writer', '-v', 'shared:/s', img.name, 'sh', '-c', 'i=0; while true; do echo $i > /s/counter.tmp; mv /s/counter.tmp /s/counter; i=$((i+1)); sleep 0.05; done']);
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'reader', '--mount', 'type=volume,source=shared,target=/in,readonly', img.name, 'sleep', '60']);
    await waitFor(async () => Number((await ok(root, ['exec', 'reader', 'cat', '/in/counter'])).trim()) > 5, 'the reader to see the writer');
    const a = Number((await ok(root, ['exec', 'reader', 'cat', '/in/counter'])).trim());
    await waitFor(async () => Number((await ok(root, ['exec', 'reader', 'cat', '/in/counter'])).trim()) > a, 'the counter to move');
    const rm = await d(root, ['volume', 'rm', 'shared']);
    expect(rm.code).not.toBe(0);
    expect(rm.stderr).toMatch(/^dock: remove shared: volume is in use - \[[0-9a-f]{64}, [0-9a-f]{64}\]\n$/);
    // --volumes-from takes the reader's mounts (read-only, as the reader has them).
    const from = await d(root, ['run', '--network', 'none', '--rm', '--volumes-from', 'reader', img.name, 'sh', '-c', 'test -f /in/counter && touch /in/x']);
    expect(from.stderr).toMatch(/Read-only file system/);
    await ok(root, ['rm', '-f', 'writer', 'reader']);
    expect(await ok(root, ['volume', 'rm', 'shared'])).toBe('shared\n');
  });

  it('bind-mounts host paths read-write and read-only, with propagation, and tmpfs mounts', async () => {
    const host = mkdtempSync(join(root, 'bind-'));
    try {
      writeFileSync(join(host, 'host.txt'), 'from the host\n');
      expect(await ok(root, ['run', '--network', 'none', '--rm', '-v', `${host}:/h`, img.name, 'sh', '-c', 'cat /h/host.txt; echo back > /h/ctr.txt'])).toBe('from the host\n');
      expect(readFileSync(join(host, 'ctr.txt'), 'utf8')).toBe('back\n');
      const ro = await d(root, ['run', '--network', 'none', '--rm', '--mount', `type=bind,source=${host},target=/h,readonly`, img.name, 'touch', '/h/no']);
      expect(ro.stderr).toMatch(/Read-only file system/);
      // -v makes a missing host directory (Docker's -v, unlike --mount).
      const made = join(host, 'made', 'here');
      await ok(root, ['run', '--network', 'none', '--rm', '-v', `${made}:/m`, img.name, 'true']);
      expect(existsSync(made)).toBe(true);
      // rslave: a mount made on the host under the bind after the start shows up inside.
      // (The source must be a shared mount on the host for events to flow, as with Docker.)
      const prop = join(host, 'prop');
      mkdirSync(join(prop, 'sub'), { recursive: true });
      execFileSync('mount', ['--bind', prop, prop]);
      execFileSync('mount', ['--make-shared', prop]);
      const id = (await ok(root, ['run', '--network', 'none', '-d', '-v', `${prop}:/p:rslave`, img.name, 'sleep', '60'])).trim();
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'late', join(prop, 'sub')]);
      try {
        writeFileSync(join(prop, 'sub', 'late.txt'), 'late mount\n');
        expect(await ok(root, ['exec', id, 'cat', '/p/sub/late.txt'])).toBe('late mount\n');
      } finally {
        execFileSync('umount', [join(prop, 'sub')]);
        await ok(root, ['rm', '-f', id]);
        execFileSync('umount', [prop]);
      }
      const t = await ok(root, ['run', '--network', 'none', '--rm', '--mount', 'type=tmpfs,target=/t,tmpfs-size=1048576,tmpfs-mode=1770', img.name, 'sh', '-c', 'stat -c %a /t; grep " /t " /proc/mounts']);
      expect(t).toMatch(/^1770\ntmpfs \/t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k,mode=1770/);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });

  it('refuses bad mount specs with one clear line', async () => {
    const rel = await d(root, ['run', '--network', 'none', '--rm', '-v', 'data:relative', img.name]);
    expect(rel.stderr).toBe('dock: invalid --volume "data:relative": the mount destination "relative" is not an absolute path\n');
    const badName = await d(root, ['run', '--network', 'none', '--rm', '-v', 'b@d:/x', img.name]);
    expect(badName.stderr).toBe('dock: invalid --volume "b@d:/x": "b@d" is neither an absolute host path nor a valid volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]+)\n');
    const key = await d(root, ['run', '--network', 'none', '--rm', '--mount', 'type=volume,target=/x,colour=red', img.name]);
    expect(key.stderr).toBe('dock: invalid --mount "type=volume,target=/x,colour=red": unknown key "colour"\n');
    const missing = await d(root, ['volume', 'inspect', 'nope']);
    expect(missing.stderr).toBe('dock: no such volume: nope\n');
  });

  it('prunes unused anonymous volumes, and with -a unused named ones', async () => {
    const id = (await ok(root, ['create', '--network', 'none', img.name])).trim();
    const anon = JSON.parse(await ok(root, ['inspect', id]))[0].Mounts[0].Name;
    await ok(root, ['rm', id]); // without -v the anonymous volume stays, unused
    await ok(root, ['volume', 'create', 'named-unused']);
    const p = await ok(root, ['volume', 'prune', '-f']);
    expect(p).toContain(anon);
    expect(p).not.toContain('named-unused');
    const all = await ok(root, ['volume', 'prune', '-a', '-f']);
    expect(all).toContain('named-unused');
    expect(await ok(root, ['volume', 'ls', '-q'])).toBe('');
  });
});
