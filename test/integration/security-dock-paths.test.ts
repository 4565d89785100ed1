// dock cp with a hostile container and a hostile archive: symlinks the container planted
// (/tmp/root -> /, /tmp/shadow -> /etc/shadow) resolve inside the container (or, as docker cp
// does without -L, are copied as links), never on the host;
// a tar stream with ../, absolute and symlink-then-file entries writes nothing outside the
// container's directory. Names that become paths (container, volume, network) refuse ../ and /.
import { execFileSync } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOTFS, isRoot, tmp } from '../helpers';
import { cleanRoot, d, dockScript } from './dock-helpers';

describe.skipIf(skipWhen(needRoot()))('dock paths from hostile containers, archives and names', () => {
  let root: string;
  const work = tmp('skiff-dockpaths-');
  const marker = `skiff-sec-escape-${process.pid}`;
  const IMG = 'skiff-test/paths:1';
  beforeAll(async () => {
    await dockScript();
    root = tmp('dk-');
    execFileSync('tar', ['-C', TEST_ROOTFS, '-cf', join(work, 'rootfs.tar'), '.']);
    const r = await d(root, ['import', join(work, 'rootfs.tar'), IMG]);
    if (r.code !== 0) throw new Error(`dock import: ${r.stderr}`);
    // A stopped container that planted symlinks pointing at the host's paths.
    const c = await d(root, ['run', '--network', 'none', '--name', 'planted', IMG, 'sh', '-c', 'mkdir -p /tmp && ln -s / /tmp/root && ln -s /etc/shadow /tmp/shadow && echo inside > /etc/shadow']);
    if (c.code !== 0) throw new Error(`dock run: ${c.stderr}`);
  }, 120_000);
  afterAll(async () => {
    if (root) expect(await cleanRoot(root)).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    rmSync(work, { recursive: true, force: true });
    for (const p of [join('/tmp', marker), join('/', marker), join('/etc', marker)]) rmSync(p, { force: true });
  });

  it('cp to a container through its /tmp/root -> / symlink lands in the container', async () => {
    const host = join(work, marker);
    writeFileSync(host, 'copied\n');
    const archive = join(work, 'one.tar');
    execFileSync('tar', ['-C', work, '-cf', archive, marker]);
    const r = await d(root, ['cp', '-', 'planted:/tmp/root/etc/'], { input: readFileSync(archive, 'latin1') });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join('/etc', marker))).toBe(false);
    const back = await d(root, ['cp', `planted:/etc/${marker}`, '-']);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain('copied\n');
  });

  it("cp from a container's /tmp/shadow -> /etc/shadow gives the link itself, or with -L the container's file, never the host's", async () => {
    // docker cp's semantics: without -L the symlink is copied as a symlink (no file content is read).
    const r = await d(root, ['cp', 'planted:/tmp/shadow', join(work, 'shadow')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readlinkSync(join(work, 'shadow'))).toBe('/etc/shadow');
    const l = await d(root, ['cp', '-L', 'planted:/tmp/shadow', join(work, 'shadow-followed')]);
    expect(l.code, l.stderr).toBe(0);
    expect(readFileSync(join(work, 'shadow-followed'), 'utf8')).toBe('inside\n');
    const s = await d(root, ['cp', '-L', 'planted:/tmp/shadow', '-']);
    expect(s.stdout).toContain('inside\n');
    expect(s.stdout).not.toContain('root:');
  });

  it('a hostile tar stream (../, absolute, symlink then file) writes nothing outside the container', async () => {
    const src = join(work, 'evil');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'evil\n');
    symlinkSync('/tmp', join(src, 'lnk'));
    // GNU tar writes ../ and absolute names only when told to; the entries are crafted with
    // --transform on a tar of harmless names.
    const tarOf = (name: string, args: string[]) => {
      execFileSync('tar', ['-C', src, '-cf', join(work, name), '-P', ...args]);
      return join(work, name);
    };
    const archives = [
      tarOf('dotdot.tar', [`--transform=s,^f$,../../../../../../../../tmp/${marker},`, 'f']),
      tarOf('abs.tar', [`--transform=s,^f$,/tmp/${marker},`, 'f']),
      tarOf('link.tar', [`--transform=s,^f$,lnk/${marker},`, 'lnk', 'f']),
    ];
    for (const a of archives) {
      const listing = execFileSync('tar', ['-tvf', a, '-P']).toString();
      expect(listing).toMatch(new RegExp(marker));
      const r = await d(root, ['cp', '-', 'planted:/tmp'], { input: readFileSync(a, 'latin1') });
      // Refused, or written inside: either way not on the host.
      if (r.code !== 0) expect(r.stderr).toMatch(/^dock: [^\n]+\n$/);
      expect(existsSync(join('/tmp', marker)), a).toBe(false);
      expect(existsSync(join('/', marker)), a).toBe(false);
    }
  });

  it('names that would be paths refuse ../ and /', async () => {
    for (const [args, what] of [
      [['create', '--network', 'none', '--name', '../x', IMG, 'true'], /^dock: invalid container name "..\/x"/],
      [['volume', 'create', '../x'], /^dock: invalid volume name "..\/x"/],
      [['volume', 'create', '..'], /^dock: invalid volume name ".."/],
      [['network', 'create', '../x'], /^dock: invalid network name "..\/x"/],
      [['run', '--network', 'none', '--rm', '-v', '../x:/data', IMG, 'true'], /^dock: invalid --volume/],
    ] as [string[], RegExp][]) {
      const r = await d(root, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(what);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(root, 'x'))).toBe(false);
    expect(existsSync(join(root, '..', 'x'))).toBe(false);
  });
});
