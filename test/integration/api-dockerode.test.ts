// dockerode (the Node SDK) driving `dock system service`: pull from a local registry with its
// progress followed, create/attach/start/wait/logs/remove, exec with demultiplexed streams and with
// stdin, volumes, an image built from a tar context, and networks (create, connect at create and
// later, inspect, disconnect, prune, remove). The service runs with DOCK_HOST_NETNS: bridges, veths
// and rules live in a network namespace made for the test.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { startRegistry, type TestRegistry } from '../fixtures/images/registry';
import { startService, type TestService } from './api-helpers';
import { buildAppImage, cleanRoot, newRoot, waitFor, type TestImage } from './dock-helpers';
import { NET_TOOLS, TestNetns } from './net-env';

const tag = `dkr${process.pid}`;

/** dockerode is a devDependency: a checkout whose node_modules predates it skips with the reason. */
function needDockerode(): string | undefined {
  try {
    require.resolve('dockerode');
    return undefined;
  } catch {
    return 'dockerode not installed (npm install: it is a devDependency)';
  }
}

/** Everything a stream gives, as text. */
function collect(s: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

/** A multiplexed stream (8-byte frame headers) split into stdout and stderr text. */
function demux(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  let stdout = '';
  let stderr = '';
  out.on('data', (d) => (stdout += d));
  err.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    stream.on('end', () => resolve({ stdout, stderr }));
    stream.on('close', () => resolve({ stdout, stderr }));
    stream.on('error', reject);
  });
}

/** followProgress as a promise: every event, or the error the stream ended with. */
function follow(docker: Docker, stream: NodeJS.ReadableStream): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null, out: Array<Record<string, unknown>>) => (err ? reject(err) : resolve(out))));
}

/** A tar archive of files (a build context). */
function tarOf(files: Record<string, string>): NodeJS.ReadableStream {
  const p = pack();
  for (const [name, text] of Object.entries(files)) p.entry({ name, mode: 0o644 }, text);
  p.finalize();
  return p as unknown as NodeJS.ReadableStream;
}

/**
 * A proxy in front of the registry that sends the first 64 KiB of any blob larger than 256 KiB,
 * then holds the rest: a pull through it stays in the middle of a download until its client goes.
 */
async function stallingProxy(upstream: string) {
  const held = new Set<http.ServerResponse>();
  let closedMidway = 0;
  const server = http.createServer((req, res) => {
    const up = http.request({ host: '127.0.0.1', port: Number(upstream.split(':')[1]), method: req.method, path: req.url, headers: req.headers }, (ur) => {
      const size = Number(ur.headers['content-length'] ?? 0);
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      if (!/\/blobs\/sha256:/.test(req.url ?? '') || size <= 256 << 10 || req.method !== 'GET') return void ur.pipe(res);
      held.add(res);
      let sent = 0;
      ur.on('data', (c: Buffer) => {
        if (sent >= 64 << 10) return;
        res.write(c.subarray(0, (64 << 10) - sent));
        sent += c.length;
      });
      res.on('close', () => {
        if (!res.writableEnded) closedMidway++;
        held.delete(res);
        ur.destroy();
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.size,
    closedMidway: () => closedMidway,
    close: () => new Promise<void>((r) => {
      for (const res of held) res.destroy();
      server.close(() => r());
    }),
  };
}

describe.skipIf(skipWhen(needRoot(), needDockerode(), needTools('docker-registry', ...NET_TOOLS, ...IMAGE_TOOLS)))('dockerode against dock system service', () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let svc: TestService;
  let reg: TestRegistry;
  let docker: Docker;
  let pulled: string;

  beforeAll(async () => {
    host = new TestNetns('dkr');
    img = buildAppImage();
    root = await newRoot(img);
    reg = await startRegistry();
    pulled = `${reg.host}/sdk/app:1`;
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `docker-archive:${img.archive}`, `docker://${pulled}`]);
    svc = await startService(root, { DOCK_HOST_NETNS: host.path });
    const { default: Dockerode } = await import('dockerode');
    docker = new Dockerode({ socketPath: svc.sock });
  }, 300_000);

  afterAll(async () => {
    if (docker) {
      for (const c of await docker.listContainers({ all: true }).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      for (const n of await docker.listNetworks().catch(() => [])) if (!['bridge', 'host', 'none'].includes(n.Name)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    }
    await svc?.stop();
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    await reg?.stop();
    host?.remove();
    img?.cleanup();
  }, 300_000);

  it('answers ping and version', async () => {
    expect(String(await docker.ping())).toBe('OK');
    const v = await docker.version();
    expect(v.ApiVersion).toBe('1.50');
  });

  it('a pull whose client goes away stops its download and leaves no partial blob, lock or image', async () => {
    const proxy = await stallingProxy(reg.host);
    try {
      const ref = `${proxy.host}/sdk/app:1`;
      const stream = await docker.pull(ref);
      const lines: string[] = [];
      stream.on('data', (d: Buffer) => lines.push(d.toString()));
      await waitFor(() => proxy.held() > 0 && lines.join('').includes('Downloading'), 'the pull to be in the middle of its layer', 30_000);
      const ingest = join(root, 'images', 'ingest');
      expect(readdirSync(ingest).some((f) => f.endsWith('.partial'))).toBe(true);
      (stream as unknown as { destroy(): void }).destroy();
      // The service gives up its own download (the registry side sees it go) and cleans up.
      await waitFor(() => proxy.closedMidway() > 0, 'the service to drop its registry download', 30_000);
      await waitFor(() => readdirSync(ingest).length === 0, 'no partial or lock file in the ingest directory', 30_000);
      await expect(docker.getImage(ref).inspect()).rejects.toMatchObject({ statusCode: 404 });
      // Only verified blobs are in the store: every file is named by its content's digest.
      const blobsDir = join(root, 'images', 'blobs', 'sha256');
      if (existsSync(blobsDir)) for (const f of readdirSync(blobsDir)) expect(f).toMatch(/^[0-9a-f]{64}$/);
      // The service still serves (the next test pulls the same layer whole).
      expect(String(await docker.ping())).toBe('OK');
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('pulls from the registry, following the progress', async () => {
    const events = await follow(docker, await docker.pull(pulled));
    const statuses = events.map((e) => e.status);
    expect(statuses[0]).toBe('1: Pulling from sdk/app'); // dockerd's words: the path on the registry
    expect(statuses).toContain('Pull complete');
    expect(statuses.at(-1)).toBe(`Status: Downloaded newer image for ${pulled}`);
    expect(events.some((e) => e.error)).toBe(false);
    const image = await docker.getImage(pulled).inspect();
    expect(image.RepoTags).toContain(pulled);
    // An image the registry does not have: a 404 before any progress, as dockerd answers.
    await expect(docker.pull(`${reg.host}/sdk/none:1`)).rejects.toMatchObject({ statusCode: 404, message: expect.stringMatching(/manifest unknown/) });
  }, 120_000);

  it('creates, attaches, starts, waits, reads logs and removes a container', async () => {
    const c = await docker.createContainer({ Image: pulled, name: `${tag}-run`, Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    const attached = demux(docker, stream);
    await c.start();
    expect(await c.wait()).toEqual({ StatusCode: 3 });
    expect(await attached).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    const info = await c.inspect();
    expect(info.State).toMatchObject({ Status: 'exited', ExitCode: 3 });
    const logs = await c.logs({ stdout: true, stderr: true, follow: false });
    // Without follow, dockerode gives the multiplexed body as a Buffer.
    const split = { stdout: '', stderr: '' };
    for (let i = 0; i + 8 <= logs.length; ) {
      const n = logs.readUInt32BE(i + 4);
      split[logs[i] === 2 ? 'stderr' : 'stdout'] += logs.subarray(i + 8, i + 8 + n).toString();
      i += 8 + n;
    }
    expect(split).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    await c.remove();
    await expect(c.inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 120_000);

  it('runs execs with demultiplexed streams, with stdin, and reports their exit codes', async () => {
    const c = await docker.createContainer({ Image: pulled, name: `${tag}-exec`, Cmd: ['sleep', '600'] });
    await c.start();
    try {
      const ex = await c.exec({ Cmd: ['sh', '-c', 'echo to-out; echo to-err >&2; exit 5'], AttachStdout: true, AttachStderr: true });
      const s = await ex.start({ hijack: true, stdin: false });
      expect(await demux(docker, s)).toEqual({ stdout: 'to-out\n', stderr: 'to-err\n' });
      expect(await ex.inspect()).toMatchObject({ Running: false, ExitCode: 5 });

      const cat = await c.exec({ Cmd: ['sh', '-c', 'tr a-z A-Z'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const duplex = await cat.start({ hijack: true, stdin: true });
      const result = demux(docker, duplex);
      duplex.write('piped through\n');
      // Half-close: the exec sees the end of its input, the answer still comes back.
      (duplex as unknown as { end(): void }).end();
      expect((await result).stdout).toBe('PIPED THROUGH\n');
      expect((await cat.inspect()).ExitCode).toBe(0);
    } finally {
      await c.remove({ force: true });
    }
  }, 120_000);

  it('keeps data in a named volume across containers, then removes it', async () => {
    const vol = `${tag}-vol`;
    await docker.createVolume({ Name: vol, Labels: { 'org.test': 'dockerode' } });
    expect((await docker.getVolume(vol).inspect()).Labels).toEqual({ 'org.test': 'dockerode' });
    const w = await docker.createContainer({ Image: pulled, Cmd: ['sh', '-c', 'echo kept > /v/file'], HostConfig: { Binds: [`${vol}:/v`] } });
    await w.start();
    expect((await w.wait()).StatusCode).toBe(0);
    await w.remove();
    const r = await docker.createContainer({ Image: pulled, Cmd: ['cat', '/v/file'], HostConfig: { Mounts: [{ Type: 'volume', Source: vol, Target: '/v', ReadOnly: true }] } });
    const out = demux(docker, await r.attach({ stream: true, stdout: true, stderr: true }));
    await r.start();
    expect((await r.wait()).StatusCode).toBe(0);
    expect((await out).stdout).toBe('kept\n');
    await expect(docker.getVolume(vol).remove()).rejects.toMatchObject({ statusCode: 409 });
    await r.remove();
    await docker.getVolume(vol).remove();
    expect(((await docker.listVolumes()).Volumes ?? []).map((v) => v.Name)).not.toContain(vol);
  }, 120_000);

  it('builds an image from a tar context with build args and labels', async () => {
    const ctx = tarOf({ Dockerfile: `FROM ${pulled}\nARG WHO\nLABEL org.test.built=yes\nRUN echo "hello $WHO" > /greeting\nCMD ["cat", "/greeting"]\n` });
    const events = await follow(docker, await docker.buildImage(ctx, { t: `${tag}/built:1`, buildargs: { WHO: 'dockerode' } }));
    const id = events.find((e) => (e.aux as { ID?: string } | undefined)?.ID)?.aux as { ID: string };
    expect(id.ID).toMatch(/^sha256:[0-9a-f]{64}$/);
    const image = await docker.getImage(`${tag}/built:1`).inspect();
    expect(image.Id).toBe(id.ID);
    expect(image.Config.Labels).toMatchObject({ 'org.test.built': 'yes' });
    const c = await docker.createContainer({ Image: `${tag}/built:1` });
    const out = demux(docker, await c.attach({ stream: true, stdout: true, stderr: true }));
    await c.start();
    await c.wait();
    expect((await out).stdout).toBe('hello dockerode\n');
    await c.remove();
    // A failing step: the error line (with the step's exit code) ends the stream; no image is tagged.
    const failed = await follow(docker, await docker.buildImage(tarOf({ Dockerfile: `FROM ${pulled}\nRUN exit 9\n` }), { t: `${tag}/bad:1` }));
    expect(failed.at(-1)).toMatchObject({ error: expect.stringContaining('exit code: 9'), errorDetail: { code: 9 } });
    await expect(docker.getImage(`${tag}/bad:1`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await docker.getImage(`${tag}/built:1`).remove();
  }, 180_000);

  it('a build whose client goes away stops its running step and tags nothing', async () => {
    const marker = `300.${process.pid}`;
    const running = () =>
      readdirSync('/proc').some((p) => {
        try {
          return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8') === `sleep\0${marker}\0`;
        } catch {
          return false;
        }
      });
    const stream = await docker.buildImage(tarOf({ Dockerfile: `FROM ${pulled}\nRUN echo step-started && sleep ${marker}\n` }), { t: `${tag}/cancelled:1` });
    let text = '';
    stream.on('data', (d: Buffer) => (text += d.toString()));
    await waitFor(() => text.includes('step-started') && running(), 'the RUN step to be running', 60_000);
    (stream as unknown as { destroy(): void }).destroy();
    await waitFor(() => !running(), 'the step to be stopped after the client left', 30_000);
    await expect(docker.getImage(`${tag}/cancelled:1`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    expect(String(await docker.ping())).toBe('OK');
  }, 120_000);

  it('creates a network, connects containers at create and later, resolves names, disconnects, prunes', async () => {
    const name = `${tag}-net`;
    const created = await docker.createNetwork({ Name: name, IPAM: { Config: [{ Subnet: '10.96.0.0/24' }] }, Labels: { 'org.test': 'net' } });
    const net = docker.getNetwork(created.id);
    const server = await docker.createContainer({
      Image: pulled,
      name: `${tag}-srv`,
      Cmd: ['sh', '-c', 'mkdir -p /w && echo served > /w/index.html && exec httpd -f -p 80 -h /w'],
      HostConfig: { NetworkMode: name },
      NetworkingConfig: { EndpointsConfig: { [name]: { Aliases: ['web'] } } },
    });
    await server.start();
    // A client on the default bridge, connected to the user network while created: it joins both at start.
    const client2 = await docker.createContainer({ Image: pulled, name: `${tag}-cli2`, Cmd: ['sleep', '600'] });
    await net.connect({ Container: client2.id, EndpointConfig: { Aliases: ['cli'] } });
    await expect(net.connect({ Container: client2.id })).rejects.toMatchObject({ statusCode: 409 });
    await client2.start();
    try {
      const inspect = await net.inspect();
      expect(inspect).toMatchObject({ Name: name, Driver: 'bridge', Labels: { 'org.test': 'net' }, IPAM: { Config: [{ Subnet: '10.96.0.0/24', Gateway: '10.96.0.1' }] } });
      expect(Object.keys(inspect.Containers ?? {}).sort()).toEqual([server.id, client2.id].sort());
      const ex = await client2.exec({ Cmd: ['timeout', '5', 'wget', '-q', '-O', '-', 'http://web/'], AttachStdout: true, AttachStderr: true });
      expect((await demux(docker, await ex.start({ hijack: true, stdin: false }))).stdout).toBe('served\n');
      expect((await client2.inspect()).NetworkSettings.Networks[name].IPAddress).toMatch(/^10\.96\.0\.\d+$/);
      const back = await server.exec({ Cmd: ['ping', '-c', '1', '-W', '3', 'cli'], AttachStdout: true, AttachStderr: true });
      expect((await demux(docker, await back.start({ hijack: true, stdin: false }))).stdout).toContain('1 packets received');
      // Bridges and veths are in the test namespace: the server's, and the client's on both networks.
      expect(host.links().filter((l) => l.startsWith('veth'))).toHaveLength(3);
      expect(host.links()).toContain(`br-${created.id.slice(0, 12)}`);

      await net.disconnect({ Container: client2.id });
      expect(Object.keys((await net.inspect()).Containers ?? {})).toEqual([server.id]);
      await expect(net.disconnect({ Container: client2.id })).rejects.toMatchObject({ statusCode: 404 });
      await expect(net.remove()).rejects.toMatchObject({ statusCode: 409 });
    } finally {
      await client2.remove({ force: true });
      await server.remove({ force: true });
    }
    // An unused network goes with prune; the built-in ones stay.
    const pruned = await docker.pruneNetworks();
    expect(pruned.NetworksDeleted).toEqual([name]);
    expect((await docker.listNetworks()).map((n) => n.Name).sort()).toEqual(['bridge', 'host', 'none']);
    expect(host.links().filter((l) => l.startsWith('veth') || l.startsWith('br-'))).toEqual([]);
    expect(host.nft()).not.toContain('10.96.0.0');
    await expect(net.inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 180_000);
});
