// dock pull/push/tag/images/rmi against Debian's docker-registry filled by skopeo with images
// made by umoci. The tree dock unpacks (its snapshot dirs mounted as an overlay) must equal the
// tree `umoci unpack` makes of the same image.
import { mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLayout, Layout, manifestOf, pushToRegistry, umociUnpack } from '../fixtures/images/images';
import { startRegistry, TestRegistry } from '../fixtures/images/registry';
import { listTree, mountOverlay } from '../fixtures/images/tree';
import { dock } from '../fixtures/images/dock';
import { ImageStore } from '../../src/engine/store/store';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { needRoot, needTools, skipWhen } from '../host';
import { resolveImage } from '../../src/engine/images/rootfs';

const skip = skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'docker-registry'));

let layout: Layout;
let reg: TestRegistry;
let work: string;
const roots: string[] = [];
const newRoot = () => {
  const r = mkdtempSync(join(work, 'root-'));
  roots.push(r);
  return r;
};

async function dockTree(root: string, ref: string): Promise<string[]> {
  const store = await ImageStore.open(root);
  try {
    const img = await resolveImage(store, ref);
    const ovl = mountOverlay(img.lowerdirs);
    try {
      return listTree(ovl.dir, { mtimes: true });
    } finally {
      ovl.unmount();
    }
  } finally {
    store.close();
  }
}

function umociTree(tag: string): string[] {
  const dest = mkdtempSync(join(work, 'umoci-'));
  rmSync(dest, { recursive: true });
  return listTree(umociUnpack(layout.dir, tag, dest), { mtimes: true });
}

beforeAll(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'skiff-images-'));
  layout = await buildLayout();
});
afterAll(() => {
  layout?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('dock with a registry', () => {
  beforeAll(async () => {
    reg = await startRegistry();
    pushToRegistry(layout.dir, 'base', `${reg.host}/busybox:schema2`, { format: 'v2s2' });
    pushToRegistry(layout.dir, 'base', `${reg.host}/busybox:oci`, { format: 'oci' });
    pushToRegistry(layout.dir, 'three', `${reg.host}/three:latest`, { format: 'v2s2' });
    pushToRegistry(layout.dir, 'opaque', `${reg.host}/opaque:latest`, { format: 'oci' });
    pushToRegistry(layout.dir, 'multi', `${reg.host}/multi:latest`, { all: true });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  for (const [ref, tag] of [
    ['busybox:schema2', 'base'],
    ['busybox:oci', 'base'],
    ['three', 'three'],
    ['opaque', 'opaque'],
  ] as const) {
    it(`pulls ${ref} into the same tree as umoci unpack`, async () => {
      const root = newRoot();
      const r = await dock(root, ['pull', `${reg.host}/${ref}`]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Status: Downloaded newer image for ${reg.host}/${ref.includes(':') ? ref : ref + ':latest'}`);
      const want = umociTree(tag);
      const got = await dockTree(root, `${reg.host}/${ref}`);
      expect(got).toEqual(want);
      expect(want.length).toBeGreaterThan(10);
    });
  }

  it('keeps what matters in the three-layer image: deleted file, replaced directory, opaque dir', async () => {
    const root = newRoot();
    expect((await dock(root, ['pull', '-q', `${reg.host}/opaque`])).code).toBe(0);
    const tree = (await dockTree(root, `${reg.host}/opaque`)).map((l) => l.split(' ')[0]);
    expect(tree).not.toContain('/etc/motd');
    expect(tree).toContain('/etc/passwd');
    expect(tree).toContain('/data/old/new');
    expect(tree).not.toContain('/data/old/keep');
    expect(tree).not.toContain('/data/old/deep');
    expect(tree).toContain('/opt/app/only');
    expect(tree).not.toContain('/opt/app/run.sh');
    const store = await ImageStore.open(root);
    const img = await resolveImage(store, `${reg.host}/opaque`);
    expect(img.layers).toHaveLength(4);
    expect(img.lowerdirs[0]).toBe(img.layers[3].path);
    expect(img.config.rootfs.diff_ids).toEqual(img.layers.map((l) => l.diffId));
    store.close();
  });

  it('run and create pull a missing image (--pull missing, the default), always, or never', async () => {
    const root = newRoot();
    const ref = `${reg.host}/busybox:schema2`;
    const never = await dock(root, ['run', '--rm', '--network', 'none', '--pull', 'never', ref, 'echo', 'hi']);
    expect(never.code).toBe(125);
    expect(never.stderr).toMatch(/no such image/);
    const first = await dock(root, ['run', '--rm', '--network', 'none', ref, '/bin/echo', 'hi']);
    expect(first.stdout).toBe('hi\n'); // the pull's progress goes to stderr, never into the container's output
    expect(first.stderr).toContain(`Unable to find image '${ref}' locally`);
    expect(first.code).toBe(0);
    const again = await dock(root, ['run', '--rm', '--network', 'none', ref, '/bin/echo', 'hi']);
    expect(again.stderr).toBe('');
    const always = await dock(root, ['create', '--network', 'none', '--pull', 'always', ref, '/bin/echo']);
    expect(always.code).toBe(0);
    expect(always.stdout).toMatch(/^[0-9a-f]{64}\n$/);
    expect(always.stderr).toMatch(/Status: Image is up to date|Digest: sha256:/);
    expect((await dock(root, ['rm', always.stdout.trim()])).code).toBe(0);
    const bad = await dock(root, ['run', '--rm', '--network', 'none', '--pull', 'sometimes', ref]);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toBe(`dock: invalid pull option: 'sometimes': must be one of "always", "missing" or "never"\n`);
  });

  it('selects the platform from an index', async () => {
    const root = newRoot();
    const amd = await dock(root, ['pull', `${reg.host}/multi`]);
    expect(amd.code).toBe(0);
    const arm = await dock(root, ['pull', '--platform', 'linux/arm64', `${reg.host}/multi`]);
    expect(arm.code).toBe(0);
    const ins = JSON.parse((await dock(root, ['image', 'inspect', `${reg.host}/multi`])).stdout);
    expect(ins[0].Architecture).toBe('arm64');
    expect(ins[0].Variant).toBe('v8');
    const ids = (await dock(root, ['images', '-q'])).stdout.trim().split('\n');
    expect(ids).toHaveLength(2);
    const bad = await dock(root, ['pull', '--platform', 'linux/s390x', `${reg.host}/multi`]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^dock: no image for platform linux\/s390x in .*multi:latest \(it has linux\/amd64, linux\/arm64\/v8\)\n$/);
  });

  it('skips layers it has, pulls by digest, lists, tags, inspects, shows history', async () => {
    const root = newRoot();
    expect((await dock(root, ['pull', `${reg.host}/busybox:schema2`])).code).toBe(0);
    const again = await dock(root, ['pull', `${reg.host}/busybox:schema2`]);
    expect(again.stdout).toContain('Already exists');
    expect(again.stdout).toContain('Image is up to date');
    // The three-layer image shares its base layer when pushed in the same format.
    const three = await dock(root, ['pull', `${reg.host}/three`]);
    expect(three.stdout).toMatch(/Already exists/);

    const digest = JSON.parse((await dock(root, ['image', 'inspect', `${reg.host}/busybox:schema2`])).stdout)[0].RepoDigests[0].split('@')[1];
    const byDigest = await dock(root, ['pull', `${reg.host}/busybox@${digest}`]);
    expect(byDigest.code).toBe(0);
    expect(byDigest.stdout).toContain(`Digest: ${digest}`);

    expect((await dock(root, ['tag', `${reg.host}/busybox:schema2`, 'mybox:1'])).code).toBe(0);
    const fmt = await dock(root, ['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(fmt.stdout.split('\n').filter(Boolean).sort()).toEqual([`${reg.host}/busybox:schema2`, `${reg.host}/three:latest`, 'mybox:1'].sort());
    const table = await dock(root, ['images']);
    expect(table.stdout.split('\n')[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    const ins = JSON.parse((await dock(root, ['image', 'inspect', 'mybox:1'])).stdout)[0];
    expect(ins.RepoTags.sort()).toEqual([`${reg.host}/busybox:schema2`, 'mybox:1']);
    expect(ins.Config.Cmd).toEqual(['/bin/sh']);
    expect(ins.Os).toBe('linux');
    const hist = await dock(root, ['history', '--no-trunc', 'mybox:1']);
    expect(hist.code).toBe(0);
    expect(hist.stdout).toContain(ins.Id);
    expect(hist.stdout).toContain('umoci');
    const shortId = ins.Id.slice(7, 19);
    expect((await dock(root, ['image', 'inspect', '-f', '{{.Id}}', shortId])).stdout.trim()).toBe(ins.Id);
  });

  it('pushes to another repository (blobs mounted or skipped), and the pushed image pulls back the same', async () => {
    const root = newRoot();
    expect((await dock(root, ['pull', `${reg.host}/three`])).code).toBe(0);
    expect((await dock(root, ['tag', `${reg.host}/three`, `${reg.host}/copy/three:v1`])).code).toBe(0);
    const push = await dock(root, ['push', `${reg.host}/copy/three:v1`]);
    expect(push.stderr).toBe('');
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/Mounted from another repository/);
    expect(push.stdout).toMatch(/v1: digest: sha256:[0-9a-f]{64} size: \d+/);
    // Push again: everything is there.
    const again = await dock(root, ['push', `${reg.host}/copy/three:v1`]);
    expect(again.stdout).toMatch(/Already exists/);
    const fresh = newRoot();
    expect((await dock(fresh, ['pull', `${reg.host}/copy/three:v1`])).code).toBe(0);
    const a = JSON.parse((await dock(root, ['image', 'inspect', `${reg.host}/three`])).stdout)[0].Id;
    const b = JSON.parse((await dock(fresh, ['image', 'inspect', `${reg.host}/copy/three:v1`])).stdout)[0].Id;
    expect(b).toBe(a);
    // The registry's manifest is byte-identical: same digest as umoci's.
    const pushed = JSON.parse((await dock(fresh, ['image', 'inspect', `${reg.host}/copy/three:v1`])).stdout)[0].RepoDigests[0];
    expect(pushed.split('@')[1]).toMatch(/^sha256:/);
    expect(manifestOf(layout.dir, 'three').manifest.layers).toHaveLength(3);
  });

  it('removes images and collects their content', async () => {
    const root = newRoot();
    expect((await dock(root, ['pull', `${reg.host}/busybox:oci`])).code).toBe(0);
    expect((await dock(root, ['tag', `${reg.host}/busybox:oci`, 'other:1'])).code).toBe(0);
    const id = (await dock(root, ['images', '-q', '--no-trunc'])).stdout.trim();
    const byId = await dock(root, ['rmi', id]);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toMatch(/referenced in several repositories.*use -f/);
    const untag = await dock(root, ['rmi', 'other:1']);
    expect(untag.stdout).toBe('Untagged: other:1\n');
    const store = await ImageStore.open(root);
    store.addImageUser('container-1', id);
    store.close();
    const used = await dock(root, ['rmi', `${reg.host}/busybox:oci`]);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/used by container container-1/);
    const s2 = await ImageStore.open(root);
    s2.removeImageUser('container-1');
    s2.close();
    const rm = await dock(root, ['rmi', `${reg.host}/busybox:oci`]);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain(`Deleted: ${id}`);
    expect((await dock(root, ['images', '-q'])).stdout).toBe('');
    expect(readdirSync(join(root, 'images/blobs/sha256'))).toEqual([]);
    expect(readdirSync(join(root, 'snapshots'))).toEqual([]);
  });
});

describe.skipIf(skip || skipWhen(needTools('htpasswd')))('dock with a registry that wants basic auth', () => {
  let authReg: TestRegistry;
  let cfgDir: string | undefined;
  beforeAll(async () => {
    cfgDir = mkdtempSync(join(tmpdir(), 'skiff-dockercfg-'));
    authReg = await startRegistry({ users: { alice: 's3cret' } });
    pushToRegistry(layout.dir, 'base', `${authReg.host}/private/busybox:1`, { format: 'oci', creds: 'alice:s3cret' });
  });
  afterAll(async () => {
    // Whatever part of the setup ran.
    await authReg?.stop();
    if (cfgDir) rmSync(cfgDir, { recursive: true, force: true });
  });

  it('needs login, refuses a bad password, pulls after login, forgets after logout', async () => {
    const root = newRoot();
    const env = { DOCKER_CONFIG: cfgDir! };
    const ref = `${authReg.host}/private/busybox:1`;
    const anon = await dock(root, ['pull', ref], { env });
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(new RegExp(`^dock: ${authReg.host.replace(/\./g, '\\.')} requires authentication.*dock login`));
    const badLogin = await dock(root, ['login', '-u', 'alice', '--password-stdin', authReg.host], { env, input: 'wrong\n' });
    expect(badLogin.code).toBe(1);
    expect(badLogin.stderr).toMatch(/refused the credentials of "alice"/);
    const login = await dock(root, ['login', '-u', 'alice', '--password-stdin', authReg.host], { env, input: 's3cret\n' });
    expect(login.stdout).toBe('Login Succeeded\n');
    const cfg = JSON.parse(readFileSync(join(cfgDir!, 'config.json'), 'utf8'));
    expect(Buffer.from(cfg.auths[authReg.host].auth, 'base64').toString()).toBe('alice:s3cret');
    const pull = await dock(root, ['pull', ref], { env });
    expect(pull.stderr).toBe('');
    expect(pull.code).toBe(0);
    expect(await dockTree(root, ref)).toEqual(umociTree('base'));
    expect((await dock(root, ['logout', authReg.host], { env })).stdout).toBe(`Removing login credentials for ${authReg.host}\n`);
    expect((await dock(root, ['pull', ref], { env })).code).toBe(1);
  });
});
