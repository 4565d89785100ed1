// Bad input from a registry: each case must end in one clear error line, with no image recorded
// and nothing in the store an image could later trip on. Interrupted downloads resume.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildLayout, craftLayout, Layout, manifestOf, pushToRegistry } from '../fixtures/images/images';
import { startRegistry, TestRegistry } from '../fixtures/images/registry';
import { startProxy, Proxy } from '../fixtures/images/proxy';
import { dock } from '../fixtures/images/dock';
import { ImageStore } from '../../src/engine/store/store';


let layout: Layout;
let reg: TestRegistry;
let work: string;
const newRoot = () => mkdtempSync(join(work, 'root-'));
const blobFile = (digest: string) => join(reg.dir, 'data/docker/registry/v2/blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data');

/** The store has no image, no half-unpacked snapshot, and every recorded image is complete. */
async function expectCleanStore(root: string): Promise<void> {
  expect((await dock(root, ['images', '-q'])).stdout).toBe('');
  expect(readdirSync(join(root, 'snapshots')).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  const store = await ImageStore.open(root);
  try {
    for (const img of store.listImages()) {
      for (const l of img.layers) expect(existsSync(store.blobs.path(l.digest))).toBe(true);
    }
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM leases').get()).toEqual({ n: 0 });
  } finally {
    store.close();
  }
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'docker-registry')))('bad input from a registry', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'skiff-bad-'));
    layout = await buildLayout();
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
    layout?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('refuses a corrupted blob and keeps nothing of it', async () => {
    pushToRegistry(layout.dir, 'three', `${reg.host}/corrupt:latest`, { format: 'oci' });
    const layer = manifestOf(layout.dir, 'three').manifest.layers[1].digest;
    const f = blobFile(layer);
    const data = readFileSync(f);
    const bad = Buffer.from(data);
    bad[bad.length >> 1] ^= 0x55;
    writeFileSync(f, bad);
    try {
      const root = newRoot();
      const r = await dock(root, ['pull', '-q', `${reg.host}/corrupt`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^dock: blob ${layer}: downloaded content hashes to sha256:[0-9a-f]{64} \\(corrupted in the registry or on the way; the partial download was discarded\\)\\n$`));
      await expectCleanStore(root);
      expect(existsSync(join(root, 'images/blobs/sha256', layer.slice(7)))).toBe(false);
      expect(readdirSync(join(root, 'images/ingest')).filter((n) => n.endsWith('.partial'))).toEqual([]);
      // Once the registry is repaired, the same store pulls fine.
      writeFileSync(f, data);
      expect((await dock(root, ['pull', '-q', `${reg.host}/corrupt`])).code).toBe(0);
    } finally {
      writeFileSync(f, data);
    }
  });

  it('refuses a layer whose content is not the diffID of the config', async () => {
    const crafted = await craftLayout([[{ name: 'a', type: 'file', body: 'a' }]], { diffIds: ['sha256:' + 'e'.repeat(64)] });
    pushToRegistry(crafted.dir, crafted.tag, `${reg.host}/wrongdiff:latest`);
    const root = newRoot();
    const r = await dock(root, ['pull', '-q', `${reg.host}/wrongdiff`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dock: layer sha256:[0-9a-f]{64}: uncompressed content is sha256:[0-9a-f]{64}, the image config says sha256:e{64}\n$/);
    await expectCleanStore(root);
    expect(readdirSync(join(root, 'snapshots'))).toEqual([]);
    crafted.cleanup();
  });

  it('refuses a manifest whose bytes do not match the digest asked for', async () => {
    pushToRegistry(layout.dir, 'base', `${reg.host}/bydigest:latest`, { format: 'oci' });
    const digest = manifestOf(layout.dir, 'base').digest;
    const wrong = 'sha256:' + 'f'.repeat(64);
    // The registry stores manifests as blobs too: serve the real manifest under another digest.
    const { mkdirSync, copyFileSync } = await import('node:fs');
    const target = blobFile(wrong);
    mkdirSync(join(target, '..'), { recursive: true });
    copyFileSync(blobFile(digest), target);
    const linkDir = join(reg.dir, 'data/docker/registry/v2/repositories/bydigest/_manifests/revisions/sha256', wrong.slice(7));
    mkdirSync(linkDir, { recursive: true });
    writeFileSync(join(linkDir, 'link'), wrong);
    const root = newRoot();
    const r = await dock(root, ['pull', '-q', `${reg.host}/bydigest@${wrong}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dock: .*content hashes to sha256:[0-9a-f]{64}.*\n$/);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    await expectCleanStore(root);
  });

  it('refuses a manifest that names a blob the registry does not have', async () => {
    pushToRegistry(layout.dir, 'three', `${reg.host}/missing:latest`, { format: 'v2s2' });
    const { execFileSync } = await import('node:child_process');
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/missing:latest`]).toString());
    const layer = inspect.layers[2].digest as string;
    const saved = readFileSync(blobFile(layer));
    rmSync(join(blobFile(layer), '..'), { recursive: true });
    try {
      const root = newRoot();
      const r = await dock(root, ['pull', '-q', `${reg.host}/missing`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^dock: blob ${layer} of ${reg.host.replace(/\./g, '\\.')}/missing: (blob unknown to the registry|not found.*)\\n$`));
      await expectCleanStore(root);
    } finally {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(blobFile(layer), '..'), { recursive: true });
      writeFileSync(blobFile(layer), saved);
    }
  });

  it('refuses a layer with ../ entries and writes nothing outside', async () => {
    const crafted = await craftLayout([
      [{ name: 'ok', type: 'file', body: 'fine' }],
      [
        { name: 'fine', type: 'file', body: 'x' },
        { name: '../../../../../../tmp/skiff-escape-test', type: 'file', body: 'escaped' },
      ],
    ]);
    pushToRegistry(crafted.dir, crafted.tag, `${reg.host}/evil:latest`);
    const root = newRoot();
    const r = await dock(root, ['pull', '-q', `${reg.host}/evil`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dock: layer sha256:[0-9a-f]{64}: entry "\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/\.\.\/tmp\/skiff-escape-test" escapes the layer root\n$/);
    expect(existsSync('/tmp/skiff-escape-test')).toBe(false);
    await expectCleanStore(root);
    crafted.cleanup();
  });

  describe('through a proxy', () => {
    let proxy: Proxy | null = null;
    beforeAll(() => pushToRegistry(layout.dir, 'base', `${reg.host}/resume:latest`, { format: 'v2s2' }));
    afterAll(async () => proxy?.stop());

    it('resumes a download cut in the middle (Range), and verifies the result', async () => {
      proxy = await startProxy({ upstream: reg.host, truncateBlob: (_p, range, n) => (n === 1 && !range ? 300_000 : null) });
      const root = newRoot();
      const r = await dock(root, ['pull', `${proxy.host}/resume`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const ranged = proxy.requests.filter((q) => q.range);
      expect(ranged.length).toBeGreaterThan(0);
      expect(ranged[0].range).toMatch(/^bytes=\d+-$/);
      expect(Number(/=(\d+)-/.exec(ranged[0].range!)![1])).toBeGreaterThan(0);
      await proxy.stop();
      proxy = null;
    });

    it('gives up on a download that always breaks, keeps the partial file, and resumes in the next pull', async () => {
      proxy = await startProxy({ upstream: reg.host, truncateBlob: (_p, range) => (range ? 0 : 200_000) });
      const root = newRoot();
      const r = await dock(root, ['pull', '-q', `${proxy.host}/resume`]);
      expect(r.code).toBe(1);
      const m = /^dock: blob sha256:[0-9a-f]{64} of .*\/resume: download interrupted after (\d+) of (\d+) bytes.*\n$/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      const got = Number(m![1]);
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThan(Number(m![2]));
      await expectCleanStore(root);
      const partials = readdirSync(join(root, 'images/ingest')).filter((n) => n.endsWith('.partial'));
      expect(partials).toHaveLength(1);
      expect(statSync(join(root, 'images/ingest', partials[0])).size).toBe(got);
      await proxy.stop();
      proxy = await startProxy({ upstream: reg.host });
      const again = await dock(root, ['pull', '-q', `${proxy.host}/resume`]);
      expect(again.code).toBe(0);
      expect(proxy.requests.some((q) => q.range === `bytes=${got}-`)).toBe(true);
      expect(readdirSync(join(root, 'images/ingest')).filter((n) => n.endsWith('.partial'))).toEqual([]);
      await proxy.stop();
      proxy = null;
    });

    it('gets bearer tokens from the realm of the challenge, with the stored credentials', async () => {
      proxy = await startProxy({ upstream: reg.host, bearer: { user: 'bob', password: 'pw' } });
      const cfg = mkdtempSync(join(work, 'cfg-'));
      writeFileSync(join(cfg, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('bob:pw').toString('base64') } }, credHelpers: {} }));
      const root = newRoot();
      const r = await dock(root, ['pull', '-q', `${proxy.host}/resume`], { env: { DOCKER_CONFIG: cfg } });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const t = proxy.tokenRequests[0];
      expect(t.url).toContain('service=skiff-test');
      expect(decodeURIComponent(t.url)).toContain('scope=repository:resume:pull');
      expect(t.auth).toBe('Basic ' + Buffer.from('bob:pw').toString('base64'));
      expect(proxy.requests.filter((q) => q.auth?.startsWith('Bearer ')).length).toBeGreaterThan(2);
      // Wrong password: the token service says no, and dock says so.
      writeFileSync(join(cfg, 'config.json'), JSON.stringify({ auths: { [proxy.host]: { auth: Buffer.from('bob:nope').toString('base64') } } }));
      const bad = await dock(newRoot(), ['pull', '-q', `${proxy.host}/resume`], { env: { DOCKER_CONFIG: cfg } });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^dock: 127\.0\.0\.1:\d+: the token service refused the credentials of "bob" \(unauthorized: bad credentials\)\n$/);
    });
  });
});
