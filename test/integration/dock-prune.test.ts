// Housekeeping the way docker does it: prune commands ask before deleting (and delete nothing on
// "n" or no answer) and report the space really reclaimed; removing images keeps the build cache;
// loading an image the store already has keeps its compressed layers; errors in docker's words.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { TEST_ROOTFS, tmp } from '../helpers';
import { needRoot, needTools, skipWhen } from '../host';
import { cleanRoot, d, dockScript, ok } from './dock-helpers';
import { TestNetns, tryRun } from './net-env';

const IMG = 'skiff-test/prune:1';
const prompt = (warning: string) => `WARNING! ${warning}\nAre you sure you want to continue? [y/N] \n`;

describe.skipIf(skipWhen(needRoot(), needTools('ip', 'nft')))('dock prune, rmi, load', () => {
  let root: string;
  const work = tmp('skiff-dockprune-');
  beforeAll(async () => {
    await dockScript();
    root = tmp('dk-');
    execFileSync('tar', ['-C', TEST_ROOTFS, '-czf', join(work, 'rootfs.tar.gz'), '.']);
    await ok(root, ['import', join(work, 'rootfs.tar.gz'), IMG]);
  }, 120_000);
  afterAll(async () => {
    if (root) expect(await cleanRoot(root)).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    rmSync(work, { recursive: true, force: true });
  });

  it('container prune asks; "n" or no answer deletes nothing; "y" deletes and reports the bytes of the writable layers', async () => {
    // 100 KiB written by the container, 10 KiB by another: 112640 bytes, docker's "112.6kB".
    await ok(root, ['run', '--network', 'none', '--name', 'pr-a', IMG, 'sh', '-c', 'dd if=/dev/zero of=/big bs=1024 count=100 2>/dev/null']);
    await ok(root, ['run', '--network', 'none', '--name', 'pr-b', IMG, 'sh', '-c', 'dd if=/dev/zero of=/small bs=1024 count=10 2>/dev/null']);
    const names = async () => (await ok(root, ['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter(Boolean).sort();
    for (const input of ['n\n', '', 'whatever\n', 'N\n']) {
      const r = await d(root, ['container', 'prune'], { input });
      expect(r.code, JSON.stringify(input)).toBe(0);
      expect(r.stdout).toBe(prompt('This will remove all stopped containers.'));
      expect(r.stderr).toBe('container prune has been cancelled\n');
      expect(await names()).toEqual(['pr-a', 'pr-b']);
    }
    const ids = (await ok(root, ['ps', '-aq', '--no-trunc'])).split('\n').filter(Boolean).sort();
    const y = await d(root, ['container', 'prune'], { input: 'y\n' });
    expect(y.code, y.stderr).toBe(0);
    const out = y.stdout.slice(prompt('This will remove all stopped containers.').length);
    expect(out.split('\n').slice(1, 3).sort()).toEqual(ids);
    expect(out).toMatch(/^Deleted Containers:\n[0-9a-f]{64}\n[0-9a-f]{64}\n\nTotal reclaimed space: 112\.6kB\n$/);
    expect(await names()).toEqual([]);
  });

  it('image, volume, network and builder prune ask too, and -f does not', async () => {
    await ok(root, ['volume', 'create', 'pr-vol']);
    await ok(root, ['run', '--network', 'none', '--rm', '-v', 'pr-vol:/v', IMG, 'sh', '-c', 'dd if=/dev/zero of=/v/f bs=1000 count=5 2>/dev/null']);
    // The network's bridge and rules go in a namespace made for the test, never the machine's.
    const ns = new TestNetns('pr');
    const inNs = { DOCK_HOST_NETNS: ns.path };
    onTestFinished(() => {
      // A DNS server left by a failure would keep the namespace alive.
      for (const pid of tryRun('ip', ['netns', 'pids', ns.name]).stdout.split('\n').filter(Boolean)) tryRun('kill', ['-9', pid.trim()]);
      ns.remove();
    });
    expect((await d(root, ['network', 'create', 'pr-net'], { env: inNs })).code).toBe(0);
    await ok(root, ['tag', IMG, 'skiff-test/prune:extra']);
    const cases: Array<[string[], string, () => Promise<boolean>]> = [
      [['volume', 'prune', '-a'], 'This will remove all local volumes not used by at least one container.', async () => (await ok(root, ['volume', 'ls', '-q'])).includes('pr-vol')],
      [['network', 'prune'], 'This will remove all custom networks not used by at least one container.', async () => (await ok(root, ['network', 'ls', '--format', '{{.Name}}'])).includes('pr-net')],
      [['image', 'prune', '-a'], 'This will remove all images without at least one container associated to them.', async () => (await ok(root, ['images', '-q'])).trim() !== ''],
      [['image', 'prune'], 'This will remove all dangling images.', async () => true],
      [['builder', 'prune'], 'This will remove all build cache.', async () => true],
    ];
    for (const [args, warning, stillThere] of cases) {
      const r = await d(root, args, { input: 'n\n', env: inNs });
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(prompt(warning));
      expect(r.stderr).toMatch(/^\w+ prune has been cancelled\n$/);
      expect(await stillThere(), args.join(' ')).toBe(true);
    }
    // -f: no question. The volume's 5000 bytes come back.
    const v = await ok(root, ['volume', 'prune', '-a', '-f']);
    expect(v).toBe('Deleted Volumes:\npr-vol\n\nTotal reclaimed space: 5kB\n');
    expect(await d(root, ['network', 'prune', '-f'], { env: inNs })).toMatchObject({ code: 0, stdout: 'Deleted Networks:\npr-net\n' });
    await ok(root, ['rmi', 'skiff-test/prune:extra']);
    // image prune gives back the image's blobs and its unpacked layer: more than the compressed size.
    mkdirSync(join(work, 'big'));
    writeFileSync(join(work, 'big', 'zeros'), Buffer.alloc(300_000));
    execFileSync('tar', ['-C', join(work, 'big'), '-cf', join(work, 'big.tar'), '.']);
    await ok(root, ['import', join(work, 'big.tar'), 'pr-big:1']);
    await ok(root, ['rmi', '--no-prune', 'pr-big:1']);
    const img = await ok(root, ['image', 'prune', '-f']);
    const kb = Number(/^Total reclaimed space: ([\d.]+)kB$/m.exec(img)![1]);
    expect(kb).toBeGreaterThanOrEqual(300);
  });

  it('removing images keeps the build cache of other builds (and of their own)', async () => {
    const ctx = join(work, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMG}\nRUN echo a > /a\nRUN echo b > /b\n`);
    const other = join(work, 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'Dockerfile'), `FROM ${IMG}\nRUN echo other > /o\n`);
    const first = await ok(root, ['build', '--network', 'none', '-t', 'pr-cache:1', ctx]);
    expect(first).not.toMatch(/CACHED/);
    await ok(root, ['build', '--network', 'none', '-t', 'pr-other:1', other]);
    const allCached = (out: string) => {
      expect(out).toMatch(/^CACHED \[2\/3\] RUN echo a > \/a$/m);
      expect(out).toMatch(/^CACHED \[3\/3\] RUN echo b > \/b$/m);
    };
    await ok(root, ['rmi', 'pr-other:1']);
    allCached(await ok(root, ['build', '--network', 'none', '-t', 'pr-cache:1', ctx]));
    // docker keeps the build cache when the built image itself goes too.
    await ok(root, ['rmi', 'pr-cache:1']);
    allCached(await ok(root, ['build', '--network', 'none', '-t', 'pr-cache:1', ctx]));
    await ok(root, ['image', 'prune', '-f']);
    allCached(await ok(root, ['build', '--network', 'none', '-t', 'pr-cache:1', ctx]));
    // builder prune is what forgets it.
    await ok(root, ['builder', 'prune', '-f']);
    expect(await ok(root, ['build', '--network', 'none', '-t', 'pr-cache:1', ctx])).not.toMatch(/CACHED/);
    await ok(root, ['rmi', 'pr-cache:1']);
  }, 180_000);

  it('load of an image already in the store keeps its compressed layers', async () => {
    const size = async () => (await ok(root, ['image', 'inspect', '-f', '{{.Size}}', IMG])).trim();
    const layers = async () => (await ok(root, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', IMG])).trim();
    const before = { size: await size(), layers: await layers() };
    await ok(root, ['save', '-o', join(work, 'saved.tar'), IMG]);
    // The archive's layers are uncompressed, so bigger than the stored ones.
    expect(Number(before.size)).toBeLessThan(Number(execFileSync('stat', ['-c', '%s', join(work, 'saved.tar')]).toString()) / 1.5);
    await ok(root, ['tag', IMG, 'skiff-test/prune:other']);
    expect(await ok(root, ['load', '-i', join(work, 'saved.tar')])).toBe(`Loaded image: ${IMG}\n`);
    expect({ size: await size(), layers: await layers() }).toEqual(before);
    // A tag the store had lost comes back from the archive, still on the compressed layers.
    await ok(root, ['rmi', IMG]);
    expect(await ok(root, ['load', '-i', join(work, 'saved.tar')])).toBe(`Loaded image: ${IMG}\n`);
    expect(await size()).toBe(before.size);
    await ok(root, ['rmi', 'skiff-test/prune:other']);
 
    // An image new to the store whose base layer the store has compressed: that blob is kept, only
    // the new layer comes from the archive (uncompressed).
    const ctx = join(work, 'derived');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${IMG}\nRUN echo derived > /derived\n`);
    await ok(root, ['build', '--network', 'none', '-t', 'pr-derived:1', ctx]);
    await ok(root, ['save', '-o', join(work, 'derived.tar'), 'pr-derived:1']);
    await ok(root, ['rmi', 'pr-derived:1']);
    await ok(root, ['builder', 'prune', '-f']);
    expect(await ok(root, ['load', '-i', join(work, 'derived.tar')])).toBe('Loaded image: pr-derived:1\n');
    const derived = Number((await ok(root, ['image', 'inspect', '-f', '{{.Size}}', 'pr-derived:1'])).trim());
    // The base layer uncompressed is about twice its compressed size; the new layer is a few kB.
    expect(derived - Number(before.size)).toBeLessThan(20_000);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'pr-derived:1', 'cat', '/derived'])).stdout).toBe('derived\n');
    await ok(root, ['rmi', 'pr-derived:1']);
  });

  it('errors in docker words: ports out of range, no --insecure-registry hint for Docker Hub', async () => {
    const host = await d(root, ['run', '--rm', '-p', '99999:80', IMG, 'true']);
    expect(host.code).toBe(125);
    expect(host.stderr).toMatch(/^dock: invalid hostPort: 99999 [^\n]*\n$/);
    const ctr = await d(root, ['create', '-p', '8080:99999', IMG, 'true']);
    expect(ctr.code).toBe(125);
    expect(ctr.stderr).toMatch(/^dock: invalid containerPort: 99999 [^\n]*\n$/);
    const ctx = join(work, 'nosuch');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM nosuch:img\n');
    const b = await d(root, ['build', '--network', 'none', ctx]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/^dock: [^\n]+\n$/);
    expect(b.stderr).not.toMatch(/insecure-registry/);
  });
});
