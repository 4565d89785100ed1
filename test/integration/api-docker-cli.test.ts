// The real docker CLI (28.x) driving `dock system service` over its unix socket: version, info,
// pull from a local registry (Debian's docker-registry on loopback), run --rm with the exit code
// passed through, run -d, logs, exec, attach, top, stats, cp both ways, stop, rm, build, tag/push,
// save | load, volumes, system df, container prune. Containers use no network (dock's default);
// networks are tested in api-network.test.ts, inside a namespace of their own.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type TestRegistry } from '../fixtures/images/registry';
import { DOCKER, docker, removeConfigDir, request, startService, type TestService } from './api-helpers';
import { buildAppImage, cleanRoot, newRoot, type TestImage } from './dock-helpers';
import { needRoot, needTools, skipWhen } from '../host';

let img: TestImage;
let root: string;
let svc: TestService;
let reg: TestRegistry;
let work: string;
let sock: string;

const dk = (args: string[], opts: Parameters<typeof docker>[2] = {}) => docker(sock, args, opts);
async function ok(args: string[], opts: Parameters<typeof docker>[2] = {}): Promise<string> {
  const r = await dk(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(skipWhen(needRoot(), DOCKER ? undefined : 'no docker CLI (docker.io, installed by scripts/test-setup.sh)', needTools('docker-registry')))('the docker CLI against dock system service', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    work = mkdtempSync(join(tmpdir(), 'dock-api-'));
    reg = await startRegistry();
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${img.archive}`, `docker://${reg.host}/app:1`]);
    svc = await startService(root);
    sock = svc.sock;
  });

  afterAll(async () => {
    await svc?.stop();
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    await reg?.stop();
    img?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    removeConfigDir();
  });

  it('answers version and info', async () => {
    const v = JSON.parse(await ok(['version', '--format', '{{json .Server}}']));
    expect(v.ApiVersion).toBe('1.50');
    expect(v.MinAPIVersion).toBe('1.24');
    const info = JSON.parse(await ok(['info', '--format', '{{json .}}']));
    expect(info.Driver).toBe('overlay');
    expect(info.Images).toBeGreaterThanOrEqual(1);
    expect(info.DockerRootDir).toBe(root);
  });

  it('pulls from a registry, lists, tags and inspects images', async () => {
    const r = await dk(['pull', `${reg.host}/app:1`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Status: Downloaded newer image');
    const images = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images.split('\n')).toContain(`${reg.host}/app:1`);
    await ok(['tag', `${reg.host}/app:1`, 'api-test/renamed:2']);
    const labels = JSON.parse(await ok(['image', 'inspect', '--format', '{{json .Config.Labels}}', 'api-test/renamed:2']));
    expect(labels['org.test.kind']).toBe('app');
    const missing = await dk(['image', 'inspect', 'api-test/none:1']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no such image/i);
  });

  it('runs a container in the foreground and passes its exit code through', async () => {
    const r = await dk(['run', '--network', 'none', '--rm', img.name, 'echo', 'hi']);
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' });
    const e = await dk(['run', '--network', 'none', '--rm', img.name, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(e.code).toBe(3);
    expect(e.stdout).toBe('out\n');
    expect(e.stderr).toContain('err');
    const i = await dk(['run', '--network', 'none', '-i', '--rm', img.name, 'cat'], { input: 'from stdin\n' });
    expect(i).toMatchObject({ code: 0, stdout: 'from stdin\n' });
    expect((await ok(['ps', '-aq'])).trim()).toBe(''); // --rm removed them
  });

  it('runs detached: ps, logs, exec (-i, -it), top, stats, inspect, stop, rm', async () => {
    const id = (await ok(['run', '--network', 'none', '-d', '--name', 'api-web', img.name, 'sh', '-c', 'echo started; while true; do sleep 1; done'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    try {
      expect(await ok(['ps', '--format', '{{.Names}} {{.State}}'])).toContain('api-web running');
      const logs = await dk(['logs', 'api-web']);
      expect(logs.stdout).toBe('started\n');
      const ex = await dk(['exec', 'api-web', 'sh', '-c', 'echo in $PWD; exit 4']);
      expect(ex).toMatchObject({ code: 4, stdout: 'in /work-image\n' });
      const ei = await dk(['exec', '-i', 'api-web', 'cat'], { input: 'piped\n' });
      expect(ei.stdout).toBe('piped\n');
      const tty = execFileSync('script', ['-qec', `${DOCKER} exec -it api-web sh -c 'tty; echo $((6*7))'`, '/dev/null'], {
        env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
        timeout: 30_000,
      }).toString();
      expect(tty).toMatch(/\/dev\/pts\/\d+/);
      expect(tty).toContain('42');
      const top = await ok(['top', 'api-web']);
      expect(top).toContain('while true');
      const stats = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'api-web']);
      expect(stats.trim()).toMatch(/^api-web [1-9]\d*$/);
      expect((await ok(['inspect', '-f', '{{.State.Status}} {{.Config.Image}}', 'api-web'])).trim()).toBe(`running ${img.name}`);
      await ok(['stop', '-t', '1', 'api-web']);
      expect((await ok(['inspect', '-f', '{{.State.Status}}', 'api-web'])).trim()).toBe('exited');
    } finally {
      await dk(['rm', '-f', 'api-web']);
    }
    expect((await dk(['inspect', 'api-web'])).code).not.toBe(0);
  });

  it('copies files in and out (docker cp)', async () => {
    await ok(['create', '--network', 'none', '--name', 'api-cp', img.name, 'true']);
    try {
      const src = join(work, 'in.txt');
      writeFileSync(src, 'to the container\n');
      await ok(['cp', src, 'api-cp:/tmp/']);
      await ok(['cp', 'api-cp:/tmp/in.txt', join(work, 'back.txt')]);
      expect(readFileSync(join(work, 'back.txt'), 'utf8')).toBe('to the container\n');
      await ok(['cp', 'api-cp:/etc/group', join(work, 'group')]);
      expect(readFileSync(join(work, 'group'), 'utf8')).toContain('extra:x:2000:app');
      // A symlink: copied as one, or followed inside the container with -L (the stat says symlink).
      await ok(['cp', 'api-cp:/bin/sh', join(work, 'sh-link')]);
      expect(readlinkSync(join(work, 'sh-link'))).toBe('busybox');
      await ok(['cp', '-L', 'api-cp:/bin/sh', join(work, 'sh-file')]);
      expect(statSync(join(work, 'sh-file')).size).toBe(statSync('/bin/busybox').size);
      const bad = await dk(['cp', 'api-cp:/no/such/file', work]);
      expect(bad.code).not.toBe(0);
      // The 404 of the archive stat, as each CLI words it: "Could not find the file" (docker 23+),
      // "No such container:path" (Debian's docker.io 20.10).
      expect(bad.stderr).toMatch(/could not find|no such container:path/i);
    } finally {
      await dk(['rm', '-f', 'api-cp']);
    }
  });

  it('keeps a volume across containers', async () => {
    await ok(['volume', 'create', 'api-vol']);
    try {
      await ok(['run', '--network', 'none', '--rm', '-v', 'api-vol:/v', img.name, 'sh', '-c', 'echo kept > /v/f']);
      expect(await ok(['run', '--network', 'none', '--rm', '-v', 'api-vol:/v', img.name, 'cat', '/v/f'])).toBe('kept\n');
      expect(await ok(['volume', 'ls', '--format', '{{.Name}}'])).toContain('api-vol');
      expect((await ok(['volume', 'inspect', '-f', '{{.Driver}}', 'api-vol'])).trim()).toBe('local');
    } finally {
      await dk(['volume', 'rm', '-f', 'api-vol']);
    }
  });

  it('builds a multi-stage Dockerfile, pushes it, saves and loads it', async () => {
    const ctx = join(work, 'ctx');
    execFileSync('mkdir', ['-p', ctx]);
    writeFileSync(join(ctx, 'msg.txt'), 'built by dock\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${img.name} AS first\nCOPY msg.txt /msg.txt\nRUN cat /msg.txt > /out.txt\n\nFROM ${img.name}\nCOPY --from=first /out.txt /final.txt\nCMD ["cat", "/final.txt"]\n`);
    const b = await dk(['build', '--network', 'none', '-t', `${reg.host}/built:1`, ctx], { timeoutMs: 180_000 });
    expect(b.code, b.stderr + b.stdout).toBe(0);
    expect(b.stdout).toContain('Successfully tagged');
    expect(await ok(['run', '--network', 'none', '--rm', `${reg.host}/built:1`])).toBe('built by dock\n');
    const p = await dk(['push', `${reg.host}/built:1`]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/digest: sha256:[0-9a-f]{64}/);
    const tar = join(work, 'built.tar');
    await ok(['save', '-o', tar, `${reg.host}/built:1`]);
    await ok(['rmi', `${reg.host}/built:1`]);
    const l = await dk(['load', '-i', tar]);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toContain(`Loaded image: ${reg.host}/built:1`);
    const failing = await dk(['build', '--network', 'none', '-'], { input: `FROM ${img.name}\nRUN exit 7\n`, timeoutMs: 120_000 });
    expect(failing.code).not.toBe(0);
  });

  it('reports disk usage and prunes stopped containers', async () => {
    await ok(['create', '--network', 'none', '--name', 'api-prune', img.name, 'true']);
    const df = await ok(['system', 'df', '--format', '{{.Type}}']);
    expect(df).toContain('Images');
    expect(df).toContain('Containers');
    const pr = await ok(['container', 'prune', '-f']);
    expect(pr).toContain('Deleted Containers');
    expect((await dk(['inspect', 'api-prune'])).code).not.toBe(0);
  });

  it('builds with the classic builder when DOCKER_BUILDKIT is unset; BuildKit clients get a clear 501', async () => {
    // /_ping says Builder-Version 1, so the CLI picks the classic builder by itself.
    const dir = mkdtempSync(join(work, 'bk-'));
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${img.name}\nRUN echo classic > /how\n`);
    const r = await dk(['build', '-q', '--network', 'none', '-t', 'api-test/bk:1', dir], { env: { DOCKER_BUILDKIT: '' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    // What buildx's docker driver would ask for: gRPC and the session over h2c, and /build?version=2.
    for (const path of ['/v1.50/grpc', '/v1.50/session']) {
      const g = await request(sock, 'POST', path, undefined, { Upgrade: 'h2c', Connection: 'Upgrade' });
      expect(g.status, path).toBe(501);
      expect(g.json().message).toMatch(/BuildKit is not supported by dock.*DOCKER_BUILDKIT=0/);
    }
    const v2 = await request(sock, 'POST', '/v1.50/build?version=2', '');
    expect(v2.status).toBe(501);
    expect(v2.json().message).toMatch(/BuildKit is not supported/);
    await ok(['rmi', 'api-test/bk:1']);
  });
});
