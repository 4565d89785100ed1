import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tarStream from 'tar-stream';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { BuildContext, cleanContextPath, globPathRegex, parseIgnoreFile } from '../../src/engine/build/context';
import { packUpper } from '../../src/engine/build/layer';
import { unpackLayerStream } from '../../src/engine/store/unpack';

let dir: string;

function tree(root: string, files: Record<string, string>) {
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), c);
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'build-ctx-'));
  tree(dir, {
    'Dockerfile': 'FROM x',
    'README.md': 'r',
    'notes.md': 'n',
    'docs/guide.md': 'g',
    'src/main.go': 'm',
    'src/util/x.go': 'x',
    'src/util/x_test.go': 't',
    'secret/key.pem': 'KEY',
    'secret/public.txt': 'pub',
    'build/out.bin': 'o',
    'tmp1': '1',
    'tmp22': '22',
  });
  symlinkSync('src/main.go', join(dir, 'link'));
  writeFileSync(
    join(dir, '.dockerignore'),
    ['# comment', '*.md', '!README.md', '**/*_test.go', 'secret', '!secret/public.txt', '/build/', 'tmp?', '', '  '].join('\n'),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('.dockerignore (Docker semantics)', () => {
  it('cleans patterns like Docker: comments, blanks, leading /, trailing /, negation', () => {
    expect(parseIgnoreFile('# c\n/a/b/\n !c \n\n./d/../e\n')).toEqual(['a/b', '!c', 'e']);
  });

  it('keeps excluded files out of the context, with exceptions and ** patterns', async () => {
    const ctx = await BuildContext.open(dir);
    const has = (p: string) => !ctx.isIgnored(p);
    expect(has('README.md')).toBe(true); // re-included
    expect(has('notes.md')).toBe(false); // *.md at the root
    expect(has('docs/guide.md')).toBe(true); // *.md does not cross a slash (filepath.Match)
    expect(has('src/util/x.go')).toBe(true);
    expect(has('src/util/x_test.go')).toBe(false); // **/
    expect(has('secret/key.pem')).toBe(false);
    expect(has('secret/public.txt')).toBe(true); // exception inside an excluded directory
    expect(has('secret')).toBe(true); // its parent comes along
    expect(has('build/out.bin')).toBe(false);
    expect(has('build')).toBe(false);
    expect(has('tmp1')).toBe(false);
    expect(has('tmp22')).toBe(true); // ? is one character
    expect(has('link')).toBe(true);
  });

  it('prefers <Dockerfile>.dockerignore beside the Dockerfile', async () => {
    const df = join(dir, 'custom.Dockerfile');
    writeFileSync(df, 'FROM x');
    writeFileSync(`${df}.dockerignore`, 'src\n');
    try {
      const ctx = await BuildContext.open(dir, df);
      expect(ctx.isIgnored('src/main.go')).toBe(true);
      expect(ctx.isIgnored('notes.md')).toBe(false);
    } finally {
      rmSync(df);
      rmSync(`${df}.dockerignore`);
    }
  });

  it('resolves COPY sources: exact paths, globs, and refuses what is ignored or outside', async () => {
    const ctx = await BuildContext.open(dir);
    expect(ctx.resolveSource('./src/../src/main.go')).toEqual(['src/main.go']);
    expect(ctx.resolveSource('src/*/*.go')).toEqual(['src/util/x.go']);
    expect(ctx.resolveSource('*.md')).toEqual(['README.md']);
    expect(ctx.resolveSource('src/**/*.go')).toEqual(['src/main.go', 'src/util/x.go']);
    expect(ctx.resolveSource('.')).toEqual(['']);
    expect(() => ctx.resolveSource('secret/key.pem')).toThrow(/not found.*excluded by \.dockerignore/);
    expect(() => ctx.resolveSource('nope/*.x')).toThrow(/matches nothing/);
    // As BuildKit: a path cannot climb out of the context, `..` stops at its root.
    expect(cleanContextPath('../etc/passwd')).toBe('etc/passwd');
  });

  it('hashes content: a changed file changes the hash, an ignored one does not count', async () => {
    const a = await (await BuildContext.open(dir)).contentHash(['src']);
    writeFileSync(join(dir, 'secret/key.pem'), 'OTHER');
    expect(await (await BuildContext.open(dir)).contentHash(['src'])).toBe(a);
    expect(await (await BuildContext.open(dir)).contentHash([''])).toBe(await (await BuildContext.open(dir)).contentHash(['']));
    writeFileSync(join(dir, 'src/util/x.go'), 'changed');
    expect(await (await BuildContext.open(dir)).contentHash(['src'])).not.toBe(a);
  });

  it('matches whole-path globs segment by segment', () => {
    expect(globPathRegex('a/*.txt').test('a/b.txt')).toBe(true);
    expect(globPathRegex('a/*.txt').test('a/b/c.txt')).toBe(false);
    expect(globPathRegex('a/**/c.txt').test('a/b/d/c.txt')).toBe(true);
    expect(globPathRegex('a/**/c.txt').test('a/c.txt')).toBe(true);
    expect(globPathRegex('[a-c]?').test('bz')).toBe(true);
    expect(globPathRegex('[!a]x').test('ax')).toBe(false);
  });
});

describe('layer tar from an overlay upper directory', () => {
  const isRoot = process.getuid?.() === 0;
  it.runIf(isRoot)('turns whiteouts and opaque directories into .wh. entries and drops overlay xattrs', async () => {
    const up = mkdtempSync(join(tmpdir(), 'build-upper-'));
    try {
      tree(up, { 'etc/new.conf': 'n', 'opq/kept': 'k' });
      execFileSync('mknod', [join(up, 'etc/gone'), 'c', '0', '0']);
      setAttributeSync(join(up, 'opq'), 'trusted.overlay.opaque', 'y');
      setAttributeSync(join(up, 'etc'), 'trusted.overlay.origin', Buffer.from([1, 2, 3]));
      setAttributeSync(join(up, 'etc/new.conf'), 'user.note', 'hello');
      symlinkSync('new.conf', join(up, 'etc/link'));
      execFileSync('ln', [join(up, 'etc/new.conf'), join(up, 'etc/hard')]);
      const pack = tarStream.pack();
      const entries: Array<{ name: string; type: string; linkname?: string | null; pax?: Record<string, string> | null }> = [];
      const extract = tarStream.extract();
      extract.on('entry', (h, s, next) => {
        entries.push({ name: h.name, type: h.type!, linkname: h.linkname, pax: h.pax as Record<string, string> | null });
        s.resume();
        s.on('end', next);
      });
      const done = new Promise<void>((r) => extract.on("finish", () => r()));
      (pack as unknown as Readable).pipe(extract as unknown as NodeJS.WritableStream);
      await packUpper(up, pack);
      await done;
      const byName = Object.fromEntries(entries.map((e) => [e.name, e]));
      expect(Object.keys(byName).sort()).toEqual(['etc/', 'etc/.wh.gone', 'etc/hard', 'etc/link', 'etc/new.conf', 'opq/', 'opq/.wh..wh..opq', 'opq/kept'].sort());
      expect(byName['etc/.wh.gone'].type).toBe('file');
      expect(byName['etc/link']).toMatchObject({ type: 'symlink', linkname: 'new.conf' });
      // Two names of one inode: the first in order is the file, the other a hardlink to it.
      expect(byName['etc/hard'].type).toBe('file');
      expect(byName['etc/hard'].pax).toMatchObject({ 'SCHILY.xattr.user.note': 'hello' });
      expect(byName['etc/new.conf']).toMatchObject({ type: 'link', linkname: 'etc/hard' });
      expect(JSON.stringify(byName['etc/'].pax ?? {})).not.toContain('overlay');
    } finally {
      rmSync(up, { recursive: true, force: true });
    }
  });

  it.runIf(isRoot)('keeps binary xattr values (as file capabilities are) through the store\'s unpacker, long names too', async () => {
    const up = mkdtempSync(join(tmpdir(), 'build-upper-'));
    const out = mkdtempSync(join(tmpdir(), 'build-unpacked-'));
    try {
      const long = `dir/${'d'.repeat(120)}/${'f'.repeat(90)}`;
      tree(up, { [long]: 'long\n', 'bin/tool': 'tool\n' });
      const bytes = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0x80, 0x0a, 0x41, 0x00]);
      setAttributeSync(join(up, 'bin/tool'), 'user.cap', bytes);
      setAttributeSync(join(up, 'bin/tool'), 'user.text', 'plain');
      setAttributeSync(join(up, long), 'user.cap', bytes);
      setAttributeSync(join(up, 'dir'), 'user.cap', bytes);
      const pack = tarStream.pack();
      const chunks: Buffer[] = [];
      (pack as unknown as Readable).on('data', (c: Buffer) => chunks.push(c));
      const ended = new Promise((r) => (pack as unknown as Readable).on('end', r));
      await packUpper(up, pack);
      await ended;
      await unpackLayerStream(Readable.from([Buffer.concat(chunks)]), out);
      expect(readFileSync(join(out, 'bin/tool'), 'utf8')).toBe('tool\n');
      expect(getAttributeSync(join(out, 'bin/tool'), 'user.cap')).toEqual(bytes);
      expect(getAttributeSync(join(out, 'bin/tool'), 'user.text')?.toString()).toBe('plain');
      expect(readFileSync(join(out, long), 'utf8')).toBe('long\n');
      expect(getAttributeSync(join(out, long), 'user.cap')).toEqual(bytes);
      expect(getAttributeSync(join(out, 'dir'), 'user.cap')).toEqual(bytes);
      expect(readdirSync(out).sort()).toEqual(['bin', 'dir']);
    } finally {
      rmSync(up, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});
