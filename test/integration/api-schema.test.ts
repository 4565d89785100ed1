// The API's answers checked against Docker's own definitions (../shared/docker-engine-api, v1.41
// and v1.50: Swagger 2.0, validated with ajv), bad input through the API (malformed JSON, wrong
// types, unknown fields, a 100 MB body, a name clash, archive paths that try to leave the
// container, a client that goes away in the middle of an attach), and a bounded load: 200 requests
// from 20 concurrent clients with nothing lost or left.

import Ajv from 'ajv';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { request, startService, type TestService } from './api-helpers';
import { buildAppImage, cleanRoot, isRoot, newRoot, supervisorsOf, waitFor, type TestImage } from './dock-helpers';

type Spec = { paths: Record<string, Record<string, { responses: Record<string, { schema?: object }> }>>; definitions: Record<string, object> };

/** Swagger's `x-nullable` as JSON Schema (a type that also admits null). */
function nullable(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(nullable);
  if (!v || typeof v !== 'object') return v;
  const o: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) o[k] = nullable(x);
  if (o['x-nullable'] && typeof o.type === 'string') o.type = [o.type, 'null'];
  // The image config's command lists are Go nil slices when unset, and dockerd sends them as null
  // (`"Entrypoint": null`) although v1.41's ContainerConfig does not say x-nullable.
  const props = o.properties as Record<string, { type?: unknown }> | undefined;
  for (const k of ['Entrypoint', 'OnBuild']) if (props?.[k]?.type === 'array') props[k].type = ['array', 'null'];
  return o;
}

const specs: Record<string, Spec> = {};
const SHARED = join(__dirname, '..', '..', '..', 'shared', 'docker-engine-api');
for (const v of ['1.41', '1.50']) {
  const file = join(SHARED, `v${v}.yaml`);
  if (existsSync(file)) specs[v] = nullable(parse(readFileSync(file, 'utf8'))) as Spec;
}

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });

/** Validates a JSON answer against the response schema of `route` in every spec version. */
function check(route: string, method: string, status: number, body: unknown): void {
  for (const [v, spec] of Object.entries(specs)) {
    const schema = spec.paths[route]?.[method]?.responses[String(status)]?.schema;
    expect(schema, `v${v} ${method} ${route} ${status} has a schema`).toBeDefined();
    const validate = ajv.compile({ ...schema, definitions: spec.definitions });
    const okay = validate(body);
    expect(okay ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`), `v${v} ${method} ${route} ${status}`).toEqual([]);
  }
}

let img: TestImage;
let root: string;
let svc: TestService;
let sock: string;
let work: string;

describe.skipIf(!isRoot || Object.keys(specs).length < 2)('the API against Docker\u2019s definitions, bad input, load', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    work = mkdtempSync(join(tmpdir(), 'dock-api-schema-'));
    svc = await startService(root);
    sock = svc.sock;
  });

  afterAll(async () => {
    if (svc && svc.child.exitCode !== null) console.error(`the service died: ${svc.log()}`);
    await svc?.stop();
    if (root) expect(await cleanRoot(root)).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    if (work) rmSync(work, { recursive: true, force: true });
    img?.cleanup();
  });

  it('answers ping with the version headers, on versioned and unversioned paths', async () => {
    for (const p of ['/_ping', '/v1.41/_ping', '/v1.50/_ping']) {
      const r = await request(sock, 'GET', p);
      expect(r.status).toBe(200);
      expect(r.body.toString()).toBe('OK');
      expect(r.headers['api-version']).toBe('1.50');
    }
    const old = await request(sock, 'GET', '/v1.12/version');
    expect(old.status).toBe(400);
    check('/version', 'get', 500, old.json());
    const none = await request(sock, 'GET', '/v1.50/no/such/route');
    expect(none.status).toBe(404);
    expect(none.json().message).toBeTruthy();
  });

  it('system, image, container, exec, volume and network answers match the definitions', async () => {
    for (const [route, path] of [['/version', '/version'], ['/info', '/info'], ['/system/df', '/system/df'], ['/images/json', '/images/json'], ['/volumes', '/volumes'], ['/networks', '/networks']]) {
      const r = await request(sock, 'GET', `/v1.50${path}`);
      expect(r.status, path).toBe(200);
      check(route, 'get', 200, r.json());
    }
    const ii = await request(sock, 'GET', `/v1.50/images/${img.name}/json`);
    check('/images/{name}/json', 'get', 200, ii.json());
    const hist = await request(sock, 'GET', `/v1.50/images/${img.name}/history`);
    check('/images/{name}/history', 'get', 200, hist.json());
    const noimg = await request(sock, 'GET', '/v1.50/images/api-none:1/json');
    expect(noimg.status).toBe(404);
    check('/images/{name}/json', 'get', 404, noimg.json());

    const c = await request(sock, 'POST', '/v1.50/containers/create?name=api-schema', { Image: img.name, Cmd: ['sh', '-c', 'sleep 60'], Labels: { a: 'b' }, HostConfig: { NetworkMode: 'none', Memory: 64 << 20, RestartPolicy: { Name: 'no' }, Tmpfs: { '/scratch': 'size=1m' } } });
    expect(c.status, c.body.toString()).toBe(201);
    check('/containers/create', 'post', 201, c.json());
    const id = c.json().Id as string;
    try {
      expect((await request(sock, 'POST', `/v1.50/containers/${id}/start`)).status).toBe(204);
      const ci = await request(sock, 'GET', `/v1.50/containers/${id}/json`);
      check('/containers/{id}/json', 'get', 200, ci.json());
      expect(ci.json().HostConfig.Memory).toBe(64 << 20);
      const list = await request(sock, 'GET', `/v1.50/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: ['a=b'] }))}`);
      check('/containers/json', 'get', 200, list.json());
      expect(list.json().map((x: { Id: string }) => x.Id)).toEqual([id]);
      const top = await request(sock, 'GET', `/v1.50/containers/${id}/top`);
      check('/containers/{id}/top', 'get', 200, top.json());
      const ex = await request(sock, 'POST', `/v1.50/containers/${id}/exec`, { Cmd: ['true'], AttachStdout: true });
      check('/containers/{id}/exec', 'post', 201, ex.json());
      const ej = await request(sock, 'GET', `/v1.50/exec/${ex.json().Id}/json`);
      check('/exec/{id}/json', 'get', 200, ej.json());
      const stats = await request(sock, 'GET', `/v1.50/containers/${id}/stats?stream=0`);
      expect(stats.status).toBe(200);
      check('/containers/{id}/stats', 'get', 200, stats.json());
    } finally {
      const rm = await request(sock, 'DELETE', `/v1.50/containers/${id}?force=1`);
      expect(rm.status).toBe(204);
    }
    const gone = await request(sock, 'GET', `/v1.50/containers/${id}/json`);
    expect(gone.status).toBe(404);
    check('/containers/{id}/json', 'get', 404, gone.json());

    const v = await request(sock, 'POST', '/v1.50/volumes/create', { Name: 'api-schema-vol', Labels: { k: 'v' } });
    expect(v.status).toBe(201);
    check('/volumes/create', 'post', 201, v.json());
    check('/volumes/{name}', 'get', 200, (await request(sock, 'GET', '/v1.50/volumes/api-schema-vol')).json());
    expect((await request(sock, 'DELETE', '/v1.50/volumes/api-schema-vol')).status).toBe(204);
    const nn = await request(sock, 'GET', '/v1.50/networks/none');
    check('/networks/{id}', 'get', 200, nn.json());
  });

  it('update, changes, commit, wait and events answers match the definitions', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const c = await request(sock, 'POST', '/v1.50/containers/create?name=api-schema-verbs', { Image: img.name, Cmd: ['sh', '-c', 'touch /made; sleep 60'], HostConfig: { NetworkMode: 'none' } });
    expect(c.status, c.body.toString()).toBe(201);
    const id = c.json().Id as string;
    try {
      expect((await request(sock, 'POST', `/v1.50/containers/${id}/start`)).status).toBe(204);
      const up = await request(sock, 'POST', `/v1.50/containers/${id}/update`, { Memory: 0, PidsLimit: 50, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 } });
      expect(up.status, up.body.toString()).toBe(200);
      check('/containers/{id}/update', 'post', 200, up.json());
      const badUp = await request(sock, 'POST', `/v1.50/containers/${id}/update`, { Memory: 1024 });
      expect(badUp.status).toBe(400);
      // The definitions list no 400 for update (dockerd sends one for an invalid value all the same).
      expect(badUp.json()).toEqual({ message: expect.stringMatching(/minimum memory limit allowed is 6MB/) });
      await waitFor(async () => (await request(sock, 'GET', `/v1.50/containers/${id}/changes`)).json().some((x: { Path: string }) => x.Path === '/made'), 'the change');
      const ch = await request(sock, 'GET', `/v1.50/containers/${id}/changes`);
      check('/containers/{id}/changes', 'get', 200, ch.json());
      const cm = await request(sock, 'POST', `/v1.50/commit?container=${id}&repo=api-schema/committed&tag=1&comment=c&changes=${encodeURIComponent('CMD ["true"]')}`);
      expect(cm.status, cm.body.toString()).toBe(201);
      check('/commit', 'post', 201, cm.json());
      const noCtr = await request(sock, 'POST', '/v1.50/commit?container=nosuch');
      expect(noCtr.status).toBe(404);
      check('/commit', 'post', 404, noCtr.json());
      expect((await request(sock, 'POST', `/v1.50/containers/${id}/kill`)).status).toBe(204);
      const w = await request(sock, 'POST', `/v1.50/containers/${id}/wait?condition=not-running`);
      check('/containers/{id}/wait', 'post', 200, w.json());
      expect(w.json().StatusCode).toBe(137);
    } finally {
      expect((await request(sock, 'DELETE', `/v1.50/containers/${id}?force=1`)).status).toBe(204);
      await request(sock, 'DELETE', '/v1.50/images/api-schema/committed:1');
    }
    const ev = await request(sock, 'GET', `/v1.50/events?since=${since}&until=${Math.ceil(Date.now() / 1000) + 1}&filters=${encodeURIComponent(JSON.stringify({ container: [id] }))}`);
    expect(ev.status).toBe(200);
    const docs = ev.body.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(docs.map((d: { Action: string }) => d.Action)).toEqual(['create', 'start', 'update', 'pause', 'unpause', 'commit', 'kill', 'die', 'destroy']);
    for (const d of docs) check('/events', 'get', 200, d);
  });

  it('refuses bad input with Docker-shaped errors and keeps serving', async () => {
    const bad = await request(sock, 'POST', '/v1.50/containers/create', '{"Image": ');
    expect(bad.status).toBe(400);
    expect(bad.json().message).toMatch(/invalid JSON/);
    const wrongType = await request(sock, 'POST', '/v1.50/containers/create', { Image: img.name, Cmd: 'true', HostConfig: { NetworkMode: 'none', Memory: 'lots' } });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json().message).toMatch(/Memory/);
    const noImage = await request(sock, 'POST', '/v1.50/containers/create', { Image: 'api-none:1', HostConfig: { NetworkMode: 'none' } });
    expect(noImage.status).toBe(404);
    // Unknown fields are ignored, as dockerd does (newer clients send fields older daemons lack).
    const unknown = await request(sock, 'POST', '/v1.50/containers/create?name=api-clash', { Image: img.name, Cmd: ['true'], HostConfig: { NetworkMode: 'none' }, NoSuchField: { x: 1 } });
    expect(unknown.status).toBe(201);
    const clash = await request(sock, 'POST', '/v1.50/containers/create?name=api-clash', { Image: img.name, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    expect(clash.status).toBe(409);
    expect(clash.json().message).toMatch(/already in use/);
    const badName = await request(sock, 'POST', '/v1.50/containers/create?name=../x', { Image: img.name, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
    expect(badName.status).toBe(400);

    // 100 MB of JSON: refused without reading it into memory; the connection may be cut.
    const big = await request(sock, 'POST', '/v1.50/containers/create', Buffer.alloc(100 << 20, 0x20)).catch((e: Error) => ({ status: -1, error: e.message }));
    expect([413, -1]).toContain(big.status);

    // Archive paths: a path that climbs out stays in the container; members with ../ are refused.
    const marker = `dock-api-escape-${process.pid}`;
    const t = join(work, 'ok');
    execFileSync('mkdir', ['-p', t]);
    writeFileSync(join(t, marker), 'x');
    const tar = execFileSync('tar', ['-c', '-f', '-', '-C', t, marker]);
    const up = await request(sock, 'PUT', `/v1.50/containers/api-clash/archive?path=${encodeURIComponent('/../../../../../tmp')}`, tar, { 'Content-Type': 'application/x-tar' });
    expect(up.status).toBe(200);
    expect(existsSync(`/tmp/${marker}`)).toBe(false);
    const evil = execFileSync('tar', ['-c', '-f', '-', '-P', '-C', t, `../ok/${marker}`], { cwd: t });
    const ev = await request(sock, 'PUT', '/v1.50/containers/api-clash/archive?path=/tmp', evil, { 'Content-Type': 'application/x-tar' });
    expect(ev.status).toBe(400);
    const head = await request(sock, 'HEAD', `/v1.50/containers/api-clash/archive?path=${encodeURIComponent(`/tmp/${marker}`)}`);
    expect(head.status).toBe(200);
    expect(JSON.parse(Buffer.from(head.headers['x-docker-container-path-stat'] as string, 'base64').toString()).name).toBe(marker);
    expect((await request(sock, 'DELETE', '/v1.50/containers/api-clash')).status).toBe(204);

    // A client that goes away in the middle of an attach: the container runs on, the service too.
    const c = await request(sock, 'POST', '/v1.50/containers/create?name=api-attach', { Image: img.name, Cmd: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'], HostConfig: { NetworkMode: 'none' } });
    expect(c.status).toBe(201);
    expect((await request(sock, 'POST', '/v1.50/containers/api-attach/start')).status).toBe(204);
    const s = net.connect(sock);
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.write('POST /v1.50/containers/api-attach/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: dock\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    await waitFor(() => got.includes('tick'), 'attach output');
    expect(got).toMatch(/^HTTP\/1.1 101/);
    s.destroy();
    expect((await request(sock, 'GET', '/_ping')).status).toBe(200);
    const st = await request(sock, 'GET', '/v1.50/containers/api-attach/json');
    expect(st.json().State.Status).toBe('running');
    expect((await request(sock, 'DELETE', '/v1.50/containers/api-attach?force=1')).status).toBe(204);
  });

  it('serves 200 requests from 20 concurrent clients with nothing lost or left', async () => {
    const results: number[] = [];
    let requests = 0;
    const client = async (n: number) => {
      for (let k = 0; k < 2; k++) {
        const c = await request(sock, 'POST', `/v1.50/containers/create?name=api-load-${n}-${k}`, { Image: img.name, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
        expect(c.status, c.body.toString()).toBe(201);
        const id = c.json().Id;
        expect((await request(sock, 'POST', `/v1.50/containers/${id}/start`)).status).toBe(204);
        const w = await request(sock, 'POST', `/v1.50/containers/${id}/wait`);
        results.push(w.json().StatusCode);
        const d = await request(sock, 'DELETE', `/v1.50/containers/${id}`);
        expect(d.status, d.body.toString()).toBe(204);
        requests += 4;
      }
      for (let k = 0; k < 2; k++) {
        expect((await request(sock, 'GET', '/v1.50/containers/json?all=1')).status).toBe(200);
        requests++;
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, n) => client(n)));
    expect(requests).toBe(200);
    expect(results).toEqual(Array(40).fill(0));
    expect((await request(sock, 'GET', '/v1.50/containers/json?all=1')).json()).toEqual([]);
    await waitFor(() => supervisorsOf(root).length === 0, 'supervisors to leave', 30_000);
  }, 600_000);
});
