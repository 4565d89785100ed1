// dock save / load / import: round trips through dock itself, and archives podman and skopeo read.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLayout, Layout, pushToRegistry, umociUnpack } from '../fixtures/images/images';
import { startRegistry, TestRegistry } from '../fixtures/images/registry';
import { listTree, mountOverlay } from '../fixtures/images/tree';
import { dock } from '../fixtures/images/dock';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { needRoot, needTools, skipWhen } from '../host';
import { ImageStore } from '../../src/engine/store/store';
import { resolveImage } from '../../src/engine/images/rootfs';

let layout: Layout;
let reg: TestRegistry;
let work: string;
let source: string; // a root with the three-layer image pulled
let ref: string;
let id: string;

async function tree(root: string, name: string): Promise<string[]> {
  const store = await ImageStore.open(root);
  try {
    const img = await resolveImage(store, name);
    const o = mountOverlay(img.lowerdirs);
    try {
      return listTree(o.dir, { mtimes: true });
    } finally {
      o.unmount();
    }
  } finally {
    store.close();
  }
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'podman')))('dock save, load and import', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'skiff-archive-'));
    layout = await buildLayout();
    reg = await startRegistry();
    pushToRegistry(layout.dir, 'three', `${reg.host}/three:latest`, { format: 'v2s2' });
    source = mkdtempSync(join(work, 'src-'));
    ref = `${reg.host}/three:latest`;
    expect((await dock(source, ['pull', '-q', ref])).code).toBe(0);
    id = JSON.parse((await dock(source, ['image', 'inspect', ref])).stdout)[0].Id;
  });
  afterAll(async () => {
    await reg?.stop();
    layout?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('saves a docker archive that dock and podman load back to the same image', async () => {
    const file = join(work, 'three.tar');
    const save = await dock(source, ['save', '-o', file, ref]);
    expect(save.stderr).toBe('');
    expect(save.code).toBe(0);
    const listing = execFileSync('tar', ['tf', file]).toString().split('\n');
    expect(listing).toEqual(expect.arrayContaining(['manifest.json', 'index.json', 'oci-layout', 'repositories', `blobs/sha256/${id.slice(7)}`]));

    const dest = mkdtempSync(join(work, 'dst-'));
    const load = await dock(dest, ['load', '-i', file]);
    expect(load.stderr).toBe('');
    expect(load.stdout).toBe(`Loaded image: ${ref}\n`);
    expect(JSON.parse((await dock(dest, ['image', 'inspect', ref])).stdout)[0].Id).toBe(id);
    expect(await tree(dest, ref)).toEqual(await tree(source, ref));

    // A short path: podman refuses a runroot longer than 50 characters.
    const proot = mkdtempSync('/tmp/skpm-');
    const p = ['--root', join(proot, 'root'), '--runroot', join(proot, 'run'), '--storage-driver', 'vfs'];
    try {
      const pl = spawnSync('podman', [...p, 'load', '-i', file], { encoding: 'utf8' });
      expect(pl.stderr).not.toMatch(/Error/);
      expect(pl.status).toBe(0);
      const ids = spawnSync('podman', [...p, 'images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'], { encoding: 'utf8' }).stdout.trim();
      expect(ids).toBe(`${id} ${ref}`);
    } finally {
      // Not `system reset`: it also wipes /run/libpod, the exit codes of every other podman running.
      spawnSync('podman', [...p, 'rmi', '-af'], { stdio: 'ignore' });
      rmSync(proot, { recursive: true, force: true });
    }
  });

  it('saves an OCI archive of the stored blobs that skopeo reads and dock loads', async () => {
    const file = join(work, 'three-oci.tar');
    expect((await dock(source, ['save', '--format', 'oci', '-o', file, ref])).code).toBe(0);
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', '--raw', `oci-archive:${file}`]).toString());
    expect(inspect.config.digest).toBe(id);
    const dest = mkdtempSync(join(work, 'dst-'));
    const load = await dock(dest, ['load', '-q', '-i', file]);
    expect(load.code).toBe(0);
    const ins = JSON.parse((await dock(dest, ['image', 'inspect', ref])).stdout)[0];
    expect(ins.Id).toBe(id);
    expect(ins.Descriptor.digest).toBe(JSON.parse((await dock(source, ['image', 'inspect', ref])).stdout)[0].Descriptor.digest);
  });

  it('refuses a broken archive without recording anything', async () => {
    const file = join(work, 'broken.tar');
    expect((await dock(source, ['save', '-o', file, ref])).code).toBe(0);
    const truncated = join(work, 'truncated.tar');
    execFileSync('sh', ['-c', `head -c 100000 ${file} > ${truncated}`]);
    const dest = mkdtempSync(join(work, 'dst-'));
    const r = await dock(dest, ['load', '-i', truncated]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^dock: .+\n$/);
    expect((await dock(dest, ['images', '-q'])).stdout).toBe('');
  });

  it('imports a rootfs tarball as a one-layer image with the same tree', async () => {
    const bundle = join(work, 'bundle');
    const rootfs = umociUnpack(layout.dir, 'base', bundle);
    const tarball = join(work, 'rootfs.tar.gz');
    execFileSync('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-czf', tarball, '.']);
    const dest = mkdtempSync(join(work, 'dst-'));
    const r = await dock(dest, ['import', '-m', 'from a tarball', '-c', 'CMD ["/bin/sh"]', '-c', 'ENV A=b', tarball, 'imported:1']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const ins = JSON.parse((await dock(dest, ['image', 'inspect', 'imported:1'])).stdout)[0];
    // Docker's layout: every field of the image config, unset ones as null or empty.
    expect(ins.Config).toEqual({ Cmd: ['/bin/sh'], Env: ['A=b'], Entrypoint: null, Labels: null, OnBuild: null, User: '', Volumes: null, WorkingDir: '' });
    expect(ins.RootFS.Layers).toHaveLength(1);
    expect(ins.Comment).toBe('from a tarball');
    expect(await tree(dest, 'imported:1')).toEqual(listTree(rootfs, { mtimes: true }));
  });
});
