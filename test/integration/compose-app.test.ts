// `dock compose` end to end, inside a network namespace made for the test (DOCK_HOST_NETNS): a
// three-service app from a local busybox image — an HTTP server (web), a worker, and a key/value
// store (kv: busybox httpd with a CGI script over a named volume) — on a user network, with a
// health check and depends_on service_healthy. Then bad input: each failure is one line and
// leaves nothing half-made.

import { spawn } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockScript, isRoot, waitFor } from './dock-helpers';
import { ComposeWorld } from './compose-world';

const KV_CGI = `#!/bin/sh
# A tiny key/value store: ?set=KEY=VALUE stores, ?get=KEY reads, from files in /data.
echo "Content-Type: text/plain"
echo
case "$QUERY_STRING" in
  set=*) kv=\${QUERY_STRING#set=}; echo "\${kv#*=}" > "/data/\${kv%%=*}"; echo stored ;;
  get=*) cat "/data/\${QUERY_STRING#get=}" ;;
esac
`;

const composeFile = (project: string, subnet: string) => `
name: ${project}
x-image: &image skiff-test/app:1
services:
  kv:
    image: *image
    command: [sh, -c, "mkdir -p /srv && echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    volumes:
      - kvdata:/data
      - ./cgi:/srv/cgi-bin:ro
    networks:
      back:
        aliases: [store]
    healthcheck:
      test: [CMD, timeout, "3", wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  web:
    image: *image
    command: [sh, -c, "mkdir -p /www && echo \\"web $$APP_MODE\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    environment:
      APP_MODE: \${APP_MODE:-one}
    networks: [back]
    depends_on:
      kv: {condition: service_healthy}
  worker:
    image: *image
    command: [sh, -c, "while true; do echo \\"beat from $$(hostname)\\"; timeout 3 wget -q -O /dev/null \\"http://store:8080/cgi-bin/kv?set=beat=$$(hostname)\\"; sleep 1; done"]
    networks: [back]
    depends_on:
      kv: {condition: service_healthy}
volumes:
  kvdata: {}
networks:
  back:
    ipam:
      config: [{subnet: ${subnet}}]
`;

describe.skipIf(skipWhen(needRoot()))('dock compose: a three-service app in a test network namespace', () => {
  const w = new ComposeWorld();
  const project = `capp${process.pid}`;
  const dc = (args: string[], env: Record<string, string> = {}, dir?: string) => w.compose(args, { env, dir });
  const ok = (args: string[], env: Record<string, string> = {}) => w.ok(args, { env });
  const dk = (args: string[]) => w.dock(args);
  const get = (service: string, url: string) => dc(['exec', '-T', service, 'timeout', '5', 'wget', '-q', '-O', '-', url]);
  const ps = async () => (await ok(['ps', '-a', '--format', 'json'])).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Name: string; ID: string; Service: string; State: string; Health: string });
  const ids = async () => Object.fromEntries((await ps()).map((c) => [c.Name, c.ID]));

  beforeAll(async () => {
    await w.setUp('co');
    mkdirSync(join(w.dir, 'cgi'));
    writeFileSync(join(w.dir, 'cgi', 'kv'), KV_CGI);
    chmodSync(join(w.dir, 'cgi', 'kv'), 0o755);
    writeFileSync(join(w.dir, 'compose.yaml'), composeFile(project, '10.93.0.0/24'));
  }, 300_000);

  afterAll(() => w.tearDown(), 300_000);

  it('up -d --wait starts the app healthy; services reach each other by name and alias', async () => {
    await ok(['up', '-d', '--wait']);
    const rows = await ps();
    expect(rows.map((r) => r.Name).sort()).toEqual([`${project}-kv-1`, `${project}-web-1`, `${project}-worker-1`]);
    expect(rows.every((r) => r.State === 'running')).toBe(true);
    expect(rows.find((r) => r.Service === 'kv')!.Health).toBe('healthy');
    // Docker compose's labels and names on what was made.
    const inspect = JSON.parse(await dk(['inspect', `${project}-web-1`]))[0];
    expect(inspect.Config.Labels).toMatchObject({ 'com.docker.compose.project': project, 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1', 'com.docker.compose.oneoff': 'False', 'com.docker.compose.project.working_dir': w.dir });
    expect(await dk(['network', 'ls', '--format', '{{.Name}}'])).toContain(`${project}_back`);
    expect(await dk(['volume', 'ls', '-q'])).toContain(`${project}_kvdata`);

    expect((await get('web', 'http://kv:8080/cgi-bin/kv?set=greeting=hello')).stdout).toBe('stored\n');
    expect((await get('web', 'http://store:8080/cgi-bin/kv?get=greeting')).stdout).toBe('hello\n');
    expect((await get('worker', 'http://web/')).stdout).toBe('web one\n');
    expect((await get('kv', `http://${project}-web-1/`)).stdout).toBe('web one\n');
  }, 300_000);

  it('a second up changes nothing; the volume data survives down and up', async () => {
    const before = await ids();
    const again = await dc(['up', '-d', '--wait']);
    expect(again.code).toBe(0);
    expect(await ids()).toEqual(before);
    await ok(['down', '-t', '1']);
    expect(await ps()).toEqual([]);
    // Anonymous volumes (the image's VOLUME) stay without -v, as with docker compose: prune them.
    await dk(['volume', 'prune', '-f']);
    expect((await dk(['volume', 'ls', '-q'])).split('\n').filter(Boolean)).toEqual([`${project}_kvdata`]);
    expect(await dk(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(`${project}_back`);
    await ok(['up', '-d', '--wait']);
    expect((await get('web', 'http://store:8080/cgi-bin/kv?get=greeting')).stdout).toBe('hello\n');
  }, 300_000);

  it('a changed environment recreates only that service', async () => {
    const before = await ids();
    const out = await dc(['up', '-d', '--wait', '-t', '1'], { APP_MODE: 'two' });
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`Container ${project}-web-1  Recreate`);
    const after = await ids();
    expect(after[`${project}-kv-1`]).toBe(before[`${project}-kv-1`]);
    expect(after[`${project}-worker-1`]).toBe(before[`${project}-worker-1`]);
    expect(after[`${project}-web-1`]).not.toBe(before[`${project}-web-1`]);
    // `up --wait` waits for running (web has no health check), not for httpd to listen: ask until it answers.
    let body = '';
    await waitFor(async () => (body = (await get('worker', 'http://web/')).stdout) === 'web two\n', 'the new web to answer', 60_000).catch(() => {});
    expect(body).toBe('web two\n');
  }, 300_000);

  it('--scale worker=3 gives three workers; logs -f shows them all with prefixes', async () => {
    await ok(['up', '-d', '--wait', '--scale', 'worker=3'], { APP_MODE: 'two' });
    const workers = (await ps()).filter((r) => r.Service === 'worker');
    expect(workers.map((w) => w.Name).sort()).toEqual([1, 2, 3].map((n) => `${project}-worker-${n}`));
    expect(workers.every((w) => w.State === 'running')).toBe(true);

    const js = await dockScript();
    const child = spawn(process.execPath, [js, 'compose', '--project-directory', w.dir, '-f', join(w.dir, 'compose.yaml'), 'logs', '-f', '--tail', '2', 'worker', 'kv'], { env: { ...process.env, DOCK_ROOT: w.root, ...w.env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c) => (text += c));
    try {
      await waitFor(() => [1, 2, 3].every((n) => new RegExp(`^worker-${n}  \\| beat from `, 'm').test(text)), 'beats of three workers in logs -f', 30_000);
      const seen = text.split('\n').filter(Boolean).length;
      await waitFor(() => text.split('\n').filter(Boolean).length > seen, 'logs -f to go on', 15_000);
      expect(text.split('\n').filter(Boolean).every((l) => /^(worker-[123]|kv-1    )  \| /.test(l))).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  }, 300_000);

  it('down -v leaves no container, network, volume, mount or veth', async () => {
    await ok(['down', '-v', '-t', '1']);
    expect(await dk(['ps', '-aq'])).toBe('');
    expect(await dk(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(project);
    expect(await dk(['volume', 'ls', '-q'])).toBe('');
    expect(w.host.links().filter((l) => l.startsWith('veth') || l.startsWith('br-'))).toEqual([]);
    expect((await dc(['ls', '-a', '-q'])).stdout).toBe('');
  }, 300_000);

  describe('bad input: one clear line, nothing half-made', () => {
    const bad = async (name: string, text: string, args: string[] = ['up', '-d']) => {
      const sub = join(w.dir, name);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, 'compose.yaml'), text);
      const r = await dc(args, {}, sub);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith(' '));
      expect(lines).toHaveLength(1);
      expect(await dk(['ps', '-aq'])).toBe('');
      expect(await dk(['network', 'ls', '--format', '{{.Name}}'])).not.toMatch(/_default|_back/);
      return lines[0];
    };
    it.each([
      ['yaml', 'services:\n  web:\n    image: [a\n', /^dock: .*compose.yaml:4:1: yaml: /],
      ['schema', 'services:\n  web:\n    image: skiff-test/app:1\n    ports: [{target: 80, publish: 1}]\n', /^dock: .*compose.yaml: services\.web\.ports\[0\]\.publish: unsupported key/],
      ['cycle', 'services:\n  a: {image: skiff-test/app:1, depends_on: [b]}\n  b: {image: skiff-test/app:1, depends_on: [a]}\n', /^dock: dependency cycle between services: a -> b -> a$/],
      ['unknown', 'services:\n  a: {image: skiff-test/app:1, depends_on: [nope]}\n', /^dock: services\.a\.depends_on: service "a" depends on undefined service nope$/],
      ['required', 'services:\n  a: {image: "skiff-test/app:${TAG:?give TAG}"}\n', /^dock: services\.a\.image: required variable TAG is missing a value: give TAG$/],
      ['noimage', 'services:\n  a: {image: "127.0.0.1:1/nothing:1", command: [sleep, "60"]}\n  b: {image: skiff-test/app:1, command: [sleep, "60"]}\n', /^dock: service a: pull access denied or image not found: 127\.0\.0\.1:1\/nothing:1/],
    ])('%s', async (name, text, msg) => {
      expect(await bad(name, text)).toMatch(msg);
    });

    it('a port already taken: the containers this up created are removed again', async () => {
      const line = await bad('port', 'services:\n  a: {image: skiff-test/app:1, command: [sleep, "60"], ports: ["18080:80"]}\n  b: {image: skiff-test/app:1, command: [sleep, "60"], ports: ["18080:80"], depends_on: [a]}\n');
      expect(line).toMatch(/^dock: .*18080/);
      expect(await dk(['volume', 'ls', '-q'])).toBe('');
    });
  });
});
