// Layer unpacking into overlay-ready snapshot directories, on crafted tarballs (needs root for
// device nodes, ownership and trusted.* xattrs).
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, mkdirSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tarStream from 'tar-stream';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { unpackLayerStream } from '../../src/engine/store/unpack';
import { sha256 } from '../../src/engine/store/digest';
import { needTools, skipWhen } from '../host';

interface Entry {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
  body?: string | Buffer;
}

async function makeTar(entries: Entry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c) => { chunks.push(c as Buffer); });
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const e of entries) {
    const { body, ...h } = e;
    await new Promise<void>((resolve, reject) => pack.entry({ ...{ mtime: new Date(1_600_000_000_000), uid: 0, gid: 0 }, ...h } as tarStream.Header, body ?? '', (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const root = process.getuid?.() === 0;
let work: string;
let n = 0;
const fresh = () => {
  const d = join(work, `snap${n++}`);
  mkdirSync(d);
  return d;
};

describe.skipIf(!root)('layer unpacking', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'skiff-unpack-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('keeps files, modes, owners, mtimes, links, devices, fifos and xattrs', async () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const tar = await makeTar([
      { name: './', type: 'directory', mode: 0o755 },
      { name: 'etc/', type: 'directory', mode: 0o750, uid: 0, gid: 42 },
      { name: 'etc/passwd', type: 'file', mode: 0o644, body: 'root:x:0:0::/root:/bin/sh\n' },
      { name: 'bin/su', type: 'file', mode: 0o4755, uid: 0, gid: 0, body: 'setuid' },
      { name: 'home/u/file', type: 'file', mode: 0o600, uid: 1000, gid: 1001, body: 'mine', mtime: new Date(1_500_000_000_000) },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/rel', type: 'symlink', linkname: '../etc/passwd', uid: 5, gid: 6 },
      { name: 'bin/su2', type: 'link', linkname: 'bin/su' },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/loop9', type: 'block-device', mode: 0o660, devmajor: 7, devminor: 9, gid: 6 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
      { name: 'bin/ping', type: 'file', mode: 0o755, body: 'ping', pax: { 'SCHILY.xattr.security.capability': cap.toString('latin1'), 'SCHILY.xattr.user.note': 'héllo' } },
    ]);
    const dest = fresh();
    const r = await unpackLayerStream(Readable.from([gzipSync(tar)]), dest, { expectedDiffId: sha256(tar) });
    expect(r.compression).toBe('gzip');
    expect(r.diffId).toBe(sha256(tar));
    const st = (p: string) => lstatSync(join(dest, p));
    expect(st('etc').mode & 0o7777).toBe(0o750);
    expect(st('etc').gid).toBe(42);
    expect(readFileSync(join(dest, 'etc/passwd'), 'utf8')).toContain('root:x');
    expect(st('bin/su').mode & 0o7777).toBe(0o4755);
    expect(st('home/u/file').uid).toBe(1000);
    expect(st('home/u/file').gid).toBe(1001);
    expect(st('home/u/file').mtimeMs).toBe(1_500_000_000_000);
    expect(st('etc/passwd').mtimeMs).toBe(1_600_000_000_000);
    expect(st('etc').mtimeMs).toBe(1_600_000_000_000);
    expect(readlinkSync(join(dest, 'bin/sh'))).toBe('/bin/busybox');
    expect(readlinkSync(join(dest, 'bin/rel'))).toBe('../etc/passwd');
    expect(st('bin/rel').uid).toBe(5);
    expect(st('bin/su2').ino).toBe(st('bin/su').ino);
    expect(st('dev/null').isCharacterDevice()).toBe(true);
    expect(st('dev/null').rdev).toBe((1 << 8) | 3);
    expect(st('dev/null').mode & 0o7777).toBe(0o666);
    expect(st('dev/loop9').isBlockDevice()).toBe(true);
    expect(st('dev/loop9').gid).toBe(6);
    expect(st('run/fifo').isFIFO()).toBe(true);
    expect(st('run/fifo').mode & 0o7777).toBe(0o620);
    expect(getAttributeSync(join(dest, 'bin/ping'), 'security.capability')).toEqual(cap);
    expect(getAttributeSync(join(dest, 'bin/ping'), 'user.note')?.toString('utf8')).toBe('héllo');
  });

  it('keeps binary xattr values written by GNU tar', async () => {
    const src = join(work, 'gnu');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'x');
    const bin = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x01]);
    setAttributeSync(join(src, 'f'), 'user.bin', bin);
    const t = spawnSync('tar', ['--xattrs', '--xattrs-include=*', '-C', src, '-cf', '-', 'f']);
    expect(t.status).toBe(0);
    const dest = fresh();
    await unpackLayerStream(Readable.from([t.stdout]), dest, { expectedDiffId: sha256(t.stdout) });
    expect(getAttributeSync(join(dest, 'f'), 'user.bin')).toEqual(bin);
  });

  it('turns whiteouts into overlay whiteouts and opaque markers into the opaque xattr', async () => {
    const tar = await makeTar([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/.wh.motd', type: 'file', mode: 0o644 },
      { name: 'var/lib/', type: 'directory', mode: 0o755 },
      { name: 'var/lib/.wh..wh..opq', type: 'file', mode: 0o644 },
      { name: 'var/lib/new', type: 'file', body: 'new' },
      { name: '.wh.gone-dir', type: 'file' },
    ]);
    const dest = fresh();
    await unpackLayerStream(Readable.from([tar]), dest, { expectedDiffId: sha256(tar) });
    const wh = lstatSync(join(dest, 'etc/motd'));
    expect(wh.isCharacterDevice()).toBe(true);
    expect(wh.rdev).toBe(0);
    expect(lstatSync(join(dest, 'gone-dir')).isCharacterDevice()).toBe(true);
    expect(existsSync(join(dest, 'etc/.wh.motd'))).toBe(false);
    expect(getAttributeSync(join(dest, 'var/lib'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    expect(readdirSync(join(dest, 'var/lib'))).toEqual(['new']);
  });

  it.skipIf(skipWhen(needTools('zstd')))('reads zstd and uncompressed layers', async () => {
    const tar = await makeTar([{ name: 'a', type: 'file', body: 'zstd!' }]);
    const z = spawnSync('zstd', ['-q', '-c'], { input: tar });
    expect(z.status).toBe(0);
    const d1 = fresh();
    const r1 = await unpackLayerStream(Readable.from([z.stdout]), d1, { expectedDiffId: sha256(tar) });
    expect(r1.compression).toBe('zstd');
    expect(readFileSync(join(d1, 'a'), 'utf8')).toBe('zstd!');
    const d2 = fresh();
    const r2 = await unpackLayerStream(Readable.from([tar]), d2, { expectedDiffId: sha256(tar) });
    expect(r2.compression).toBe('none');
  });

  it('refuses a diffID mismatch', async () => {
    const tar = await makeTar([{ name: 'a', type: 'file', body: 'x' }]);
    await expect(unpackLayerStream(Readable.from([tar]), fresh(), { expectedDiffId: 'sha256:' + '0'.repeat(64), label: 'L' })).rejects.toThrow(
      /layer L: uncompressed content is sha256:[0-9a-f]{64}, the image config says sha256:0000/,
    );
  });

  const escapes: Array<[string, Entry[]]> = [
    ['a ../ path', [{ name: '../escaped', type: 'file', body: 'x' }]],
    ['a nested ../ path', [{ name: 'a/../../escaped', type: 'file', body: 'x' }]],
    ['a whiteout with ../', [{ name: 'a/../../.wh.escaped', type: 'file' }]],
    ['a hardlink out of the layer', [{ name: 'pw', type: 'link', linkname: '../../../etc/passwd' }]],
    [
      'a file through a symlink',
      [
        { name: 'evil', type: 'symlink', linkname: join(tmpdir()) },
        { name: 'evil/skiff-escaped', type: 'file', body: 'x' },
      ],
    ],
    [
      'a hardlink to a file of a lower layer',
      [{ name: 'x', type: 'link', linkname: 'bin/busybox' }],
    ],
  ];
  for (const [what, entries] of escapes) {
    it(`refuses ${what}`, async () => {
      const tar = await makeTar(entries);
      await expect(unpackLayerStream(Readable.from([tar]), fresh(), { label: 'L' })).rejects.toThrow(/^layer L: /);
      expect(existsSync(join(work, 'escaped'))).toBe(false);
      expect(existsSync(join(tmpdir(), 'skiff-escaped'))).toBe(false);
    });
  }

  it('refuses a truncated or corrupt stream', async () => {
    const tar = await makeTar([{ name: 'a', type: 'file', body: 'y'.repeat(100_000) }]);
    const gz = gzipSync(tar);
    await expect(unpackLayerStream(Readable.from([gz.subarray(0, gz.length >> 1)]), fresh(), { label: 'L' })).rejects.toThrow(/^layer L: /);
    const bad = Buffer.from(gz);
    bad[bad.length >> 1] ^= 0xff;
    await expect(unpackLayerStream(Readable.from([bad]), fresh(), { label: 'L', expectedDiffId: sha256(tar) })).rejects.toThrow(/^layer L: /);
  });
});
