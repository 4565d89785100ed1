// Debian's docker-compose 1.29 (Python, docker-py) driving `dock system service` end to end: a
// two-service app with a build, a user network with an alias, a named volume, a published port and
// depends_on service_healthy; then ps, logs, exec (-T and with a terminal), a second up that changes
// nothing, and down -v leaving nothing. The service runs with DOCK_HOST_NETNS: its bridges, veths,
// rules and port proxies live in a network namespace made for the test, never the machine's.

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { dockerConfigDir, removeConfigDir, request, startService, type TestService } from './api-helpers';
import { buildAppImage, cleanRoot, newRoot, type TestImage } from './dock-helpers';
import { NET_TOOLS, TestNetns } from './net-env';

const project = `apic${process.pid}`;
const PORT = 8080;

const composeFile = `
version: "2.4"
services:
  kv:
    image: skiff-test/app:1
    command: [sh, -c, "mkdir -p /srv && (cat /data/value 2>/dev/null || echo empty) > /srv/index.html; echo kv up; exec httpd -f -p 8080 -h /srv"]
    volumes:
      - kvdata:/data
    networks:
      back:
        aliases: [store]
    healthcheck:
      test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  web:
    build:
      context: ./web
      args: {GREETING: built-by-compose}
    image: ${project}/web:1
    command: [sh, -c, "echo web up; exec httpd -f -p 80 -h /www"]
    ports:
      - "${PORT}:80"
    networks: [back]
    depends_on:
      kv: {condition: service_healthy}
volumes:
  kvdata: {}
networks:
  back:
    ipam:
      config: [{subnet: 10.95.0.0/24}]
`;

const dockerfile = `FROM skiff-test/app:1
ARG GREETING
RUN mkdir -p /www && echo "$GREETING" > /www/index.html
`;

interface Res {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(skipWhen(needRoot(), needTools('docker-compose', 'script', ...NET_TOOLS, ...IMAGE_TOOLS)))('docker-compose 1.29 against dock system service', () => {
  let img: TestImage;
  let root: string;
  let host: TestNetns;
  let svc: TestService;
  let dir: string;

  const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, DOCKER_HOST: `unix://${svc.sock}`, DOCKER_CONFIG: dockerConfigDir(), COMPOSE_DOCKER_CLI_BUILD: '0', COMPOSE_INTERACTIVE_NO_CLI: '1' });
  /** docker-compose ARGS in the project directory; bounded in time, never throws on a status. */
  const dc = (args: string[], timeoutMs = 120_000): Promise<Res> =>
    new Promise((resolve) => {
      const child = spawn('docker-compose', ['-p', project, '--no-ansi', ...args], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c ?? -1, stdout, stderr });
      });
    });
  const ok = async (args: string[]) => {
    const r = await dc(args);
    if (r.code !== 0) throw new Error(`docker-compose ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  };
  const api = async (path: string) => (await request(svc.sock, 'GET', path)).json();
  /** Containers of the project as the API lists them. */
  const containers = async () => (await api(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }))}`)) as Array<{ Id: string; Names: string[]; State: string }>;

  beforeAll(async () => {
    host = new TestNetns('cmp');
    img = buildAppImage();
    root = await newRoot(img);
    dir = mkdtempSync(join(tmpdir(), 'api-compose-'));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'docker-compose.yml'), composeFile);
    writeFileSync(join(dir, 'web', 'Dockerfile'), dockerfile);
    svc = await startService(root, { DOCK_HOST_NETNS: host.path });
  }, 300_000);

  afterAll(async () => {
    if (svc) await dc(['down', '-v', '-t', '1']).catch(() => undefined);
    await svc?.stop();
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    host?.remove();
    img?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    removeConfigDir();
  }, 300_000);

  it('up -d builds, makes the network and volume, starts kv healthy then web', async () => {
    const r = await ok(['up', '-d']);
    expect(r.stderr).toContain(`Creating network "${project}_back" with the default driver`);
    expect(r.stderr).toContain(`Creating volume "${project}_kvdata" with default driver`);
    expect(r.stdout + r.stderr).toMatch(/Successfully built [0-9a-f]{12}/);
    expect(r.stderr).toContain(`Creating ${project}_web_1 ... done`);
    const ps = (await ok(['ps'])).stdout;
    expect(ps).toMatch(new RegExp(`^${project}_kv_1 .*Up \\(healthy\\)`, 'm'));
    expect(ps).toMatch(new RegExp(`^${project}_web_1 .*Up .*0\\.0\\.0\\.0:${PORT}->80/tcp`, 'm'));
    expect((await ok(['ps', '-q'])).stdout.trim().split('\n')).toHaveLength(2);

    // What compose asked for is what dock made: labels, the network with its subnet and alias.
    const web = await api(`/containers/${project}_web_1/json`);
    expect(web.Config.Labels).toMatchObject({ 'com.docker.compose.project': project, 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1' });
    expect(web.NetworkSettings.Networks[`${project}_back`].IPAddress).toMatch(/^10\.95\.0\.\d+$/);
    const kv = await api(`/containers/${project}_kv_1/json`);
    expect(kv.NetworkSettings.Networks[`${project}_back`].Aliases).toContain('store');
    expect(kv.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: `${project}_kvdata`, Destination: '/data' })]);
    const netw = await api(`/networks/${project}_back`);
    expect(netw.IPAM.Config).toEqual([expect.objectContaining({ Subnet: '10.95.0.0/24' })]);
    expect(Object.keys(netw.Containers).sort()).toEqual([kv.Id, web.Id].sort());
  }, 300_000);

  it('the services reach each other by name and alias; the published port is in the test namespace only', async () => {
    expect((await ok(['exec', '-T', 'web', 'wget', '-q', '-O', '-', 'http://store:8080/'])).stdout).toBe('empty\n');
    expect((await ok(['exec', '-T', 'kv', 'wget', '-q', '-O', '-', 'http://web/'])).stdout).toBe('built-by-compose\n');
    const inNs = host.run(['wget', '-q', '-O', '-', `http://127.0.0.1:${PORT}/`]);
    expect(inNs.stdout).toBe('built-by-compose\n');
    // The process holding the port lives in the test namespace, not in the machine's.
    const listener = host.run(['ss', '-ltnpH', `sport = :${PORT}`]).stdout;
    const pid = Number(/pid=(\d+)/.exec(listener)?.[1]);
    expect(pid, listener).toBeGreaterThan(0);
    expect(readlinkSync(`/proc/${pid}/ns/net`)).toBe(`net:[${statSync(host.path).ino}]`);
    expect(readlinkSync(`/proc/${pid}/ns/net`)).not.toBe(readlinkSync('/proc/self/ns/net'));
  }, 120_000);

  it('exec passes output and exit codes through, with -T and with a terminal', async () => {
    // docker-py's exec (COMPOSE_INTERACTIVE_NO_CLI=1) writes both streams to compose's stdout.
    const r = await dc(['exec', '-T', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.code).toBe(3);
    expect(r.stdout.split('\n').sort()).toEqual(['', 'err', 'out']);
    // A one-off container (run --rm) on the project's network, its exit code passed through, then removed.
    const once = await dc(['run', '--rm', '-T', 'web', 'sh', '-c', 'wget -q -O - http://store:8080/; exit 4']);
    expect(once, `stderr: ${once.stderr}`).toMatchObject({ code: 4, stdout: 'empty\n' }); // why, if the output is missing
    expect((await containers()).map((c) => c.Names[0]).sort()).toEqual([`/${project}_kv_1`, `/${project}_web_1`]);
    const data = await dc(['exec', '-T', 'kv', 'sh', '-c', 'echo kept > /data/value && cat /data/value']);
    expect(data).toMatchObject({ code: 0, stdout: 'kept\n' });
    // docker-compose exec without -T allocates a terminal (dockerpty): run it under script(1).
    const tty = await new Promise<Res>((resolve) => {
      const child = spawn('script', ['-qec', `docker-compose -p ${project} --no-ansi exec web sh -c 'tty; exit 7'`, '/dev/null'], { cwd: dir, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', (c) => {
        clearTimeout(timer);
        resolve({ code: c ?? -1, stdout, stderr: '' });
      });
    });
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(tty.code).toBe(7);
  }, 120_000);

  it('logs shows each service with its prefix', async () => {
    const r = await ok(['logs', '--no-color']);
    expect(r.stdout).toMatch(/^kv_1 +\| kv up$/m);
    expect(r.stdout).toMatch(/^web_1 +\| web up$/m);
    const one = await ok(['logs', '--no-color', '--tail', '1', 'web']);
    expect(one.stdout).not.toContain('kv up');
  }, 60_000);

  it('a second up changes nothing; stop and start keep the volume data', async () => {
    const before = (await containers()).map((c) => c.Id).sort();
    const again = await ok(['up', '-d']);
    expect(again.stderr).toContain(`${project}_web_1 is up-to-date`);
    expect((await containers()).map((c) => c.Id).sort()).toEqual(before);
    await ok(['stop', '-t', '1', 'kv']);
    expect((await containers()).find((c) => c.Names[0] === `/${project}_kv_1`)?.State).toBe('exited');
    await ok(['start', 'kv']);
    // kv serves /data/value (written by the exec above) from its named volume.
    const deadline = Date.now() + 90_000; // each try is a docker-compose exec: seconds on a busy machine
    let got = '';
    while (Date.now() < deadline && got !== 'kept\n') {
      got = (await dc(['exec', '-T', 'web', 'wget', '-q', '-O', '-', 'http://store:8080/'])).stdout;
      if (got !== 'kept\n') await new Promise((r) => setTimeout(r, 300));
    }
    expect(got, `kv: ${(await dc(['exec', '-T', 'kv', 'sh', '-c', 'cat /data/value /srv/index.html; ip -4 addr show eth0'])).stdout}; web: ${(await dc(['exec', '-T', 'web', 'nslookup', 'store'])).stdout}`).toBe('kept\n');
  }, 180_000);

  it('down -v removes the containers, the network, the volume; the test namespace is empty again', async () => {
    const r = await ok(['down', '-v', '-t', '1']);
    expect(r.stderr).toContain(`Removing network ${project}_back`);
    expect(r.stderr).toContain(`Removing volume ${project}_kvdata`);
    expect(await containers()).toEqual([]);
    expect((await api('/networks')).map((n: { Name: string }) => n.Name)).not.toContain(`${project}_back`);
    expect((await api('/volumes')).Volumes.map((v: { Name: string }) => v.Name)).not.toContain(`${project}_kvdata`);
    // Only the default bridge stays (the build's RUN step was on it, as docker build is on docker0):
    // no veth of a container or of a build step.
    expect(host.links()).toEqual(['lo', 'dock0']);
    expect(host.nft()).not.toContain('10.95.0.0');
    // Nothing listens on the port any more, in the test namespace either.
    const gone = host.run(['timeout', '3', 'wget', '-O', '-', `http://127.0.0.1:${PORT}/`]);
    expect(gone.stderr).toMatch(/refused/i);
  }, 120_000);
});
