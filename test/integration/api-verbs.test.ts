// The docker CLI (28.x) against dock system service for the verbs built once in the engine:
// `docker events` (live and replayed, filtered), `docker update`, `docker diff`, `docker commit`,
// `docker system prune -f`, and the wait conditions over raw HTTP. Containers have no network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, docker, removeConfigDir, request, startService, type TestService } from './api-helpers';
import { buildAppImage, cleanRoot, isRoot, newRoot, waitFor, type TestImage } from './dock-helpers';
import { execFileSync, spawn } from 'node:child_process';

let img: TestImage;
let root: string;
let svc: TestService;
let sock: string;

const dk = (args: string[], opts: Parameters<typeof docker>[2] = {}) => docker(sock, args, opts);
async function ok(args: string[], opts: Parameters<typeof docker>[2] = {}): Promise<string> {
  const r = await dk(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!isRoot || !DOCKER)('docker events, update, diff, commit, system prune against dock', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
    svc = await startService(root);
    sock = svc.sock;
  });
  afterAll(async () => {
    await svc?.stop();
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
    removeConfigDir();
  });

  it('docker events streams live events with filters, and replays --since/--until', { timeout: 240_000 }, async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const live = spawn(DOCKER!, ['events', '--filter', 'type=container', '--filter', 'type=volume', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    live.stdout.on('data', (x) => (out += x));
    const closed = new Promise((r) => live.on('close', r));
    // Live events are those after the stream opened: probe volumes are made until one is seen.
    let probes = 0;
    await waitFor(async () => {
      await ok(['volume', 'create', `api-ev-probe${++probes}`]);
      return out.includes('volume create api-ev-probe');
    }, 'docker events to start');
    await ok(['run', '--network', 'none', '--name', 'api-ev', img.name, 'sh', '-c', 'exit 2']).catch(() => undefined);
    await ok(['rm', 'api-ev']);
    await waitFor(() => /container destroy \S+ api-ev\n/.test(out), 'the destroy event', 30_000);
    live.kill('SIGINT');
    await closed;
    const mine = out.split('\n').filter((l) => l.startsWith('container ') && l.endsWith(' api-ev')).map((l) => l.split(' ')[1]);
    // docker's own run also attaches (an event dock does not send).
    expect(mine.filter((a) => a !== 'attach')).toEqual(['create', 'start', 'die', 'destroy']);
    for (let i = 1; i <= probes; i++) await ok(['volume', 'rm', `api-ev-probe${i}`]);

    const until = Math.ceil(Date.now() / 1000) + 1;
    const replay = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'event=die', '--filter', 'container=api-ev', '--format', '{{json .}}']);
    const ev = JSON.parse(replay.trim());
    expect(ev).toMatchObject({ Type: 'container', Action: 'die', status: 'die', scope: 'local', Actor: { Attributes: { name: 'api-ev', exitCode: '2', image: img.name } } });
    const text = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'type=volume', '--filter', 'volume=api-ev-probe1']);
    expect(text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) volume create api-ev-probe1 \(driver=local\)\n\S+ volume destroy api-ev-probe1 \(driver=local\)\n$/);
    const bad = await request(sock, 'GET', `/events?filters=${encodeURIComponent('{"colour":["red"]}')}`);
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ message: "invalid filter 'colour'" });
  });

  it('docker update, diff and commit', { timeout: 240_000 }, async () => {
    const id = (await ok(['run', '-d', '--network', 'none', '--name', 'api-up', '-m', '64m', img.name, 'sh', '-c', 'echo x > /added; rm /etc/group; touch /ready; sleep 300'])).trim();
    expect(await ok(['update', '--memory', '96m', '--memory-swap', '200m', '--pids-limit', '30', '--restart', 'unless-stopped', 'api-up'])).toBe('api-up\n');
    const hc = JSON.parse(await ok(['inspect', 'api-up']))[0].HostConfig;
    expect(hc).toMatchObject({ Memory: 96 << 20, MemorySwap: 200 << 20, PidsLimit: 30, RestartPolicy: { Name: 'unless-stopped' } });
    const { readFileSync, existsSync } = await import('node:fs');
    const mem = [`/sys/fs/cgroup/memory/dock/${id}/memory.limit_in_bytes`, `/sys/fs/cgroup/dock/${id}/memory.max`].find((p) => existsSync(p))!;
    expect(readFileSync(mem, 'utf8').trim()).toBe(String(96 << 20));
    const refused = await dk(['update', '--memory', '1k', 'api-up']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/minimum memory limit allowed is 6MB/);

    await waitFor(async () => (await dk(['exec', 'api-up', 'test', '-e', '/ready'])).code === 0, 'the changes');
    expect(await ok(['diff', 'api-up'])).toBe('A /added\nC /etc\nD /etc/group\nA /ready\n');
    const ch = await request(sock, 'GET', '/v1.41/containers/api-up/changes');
    expect(ch.status).toBe(200);
    expect(ch.json()).toEqual([{ Path: '/added', Kind: 1 }, { Path: '/etc', Kind: 0 }, { Path: '/etc/group', Kind: 2 }, { Path: '/ready', Kind: 1 }]);

    const imageId = (await ok(['commit', '-c', 'CMD ["cat", "/added"]', '-c', 'ENV FROM_COMMIT=1', '-m', 'via api', '-a', 'tester', 'api-up', 'api/committed:2'])).trim();
    expect(imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await ok(['run', '--rm', '--network', 'none', 'api/committed:2'])).toBe('x\n');
    expect(await ok(['image', 'inspect', '-f', '{{.Author}} {{.Comment}} {{json .Config.Cmd}}', 'api/committed:2'])).toBe('tester via api ["cat","/added"]\n');
    expect(JSON.parse(await ok(['inspect', 'api-up']))[0].State.Status).toBe('running');
    await ok(['rm', '-f', 'api-up']);
    await ok(['rmi', 'api/committed:2']);
  });

  it('docker exec -it sizes the exec terminal to the client’s (POST /exec/{id}/resize)', { timeout: 240_000 }, async () => {
    await ok(['run', '-d', '--network', 'none', '--name', 'api-rs', img.name, 'sleep', '300']);
    // script's pty is given a size; docker sends it after the start, and the shell waits to see one.
    const out = execFileSync('script', ['-qec', `stty rows 31 cols 97; ${DOCKER} exec -it api-rs sh -c 'until stty size 2>/dev/null | grep -q "^[1-9]"; do sleep 0.1; done; stty size'`, '/dev/null'], {
      env: { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: root },
      timeout: 120_000,
    }).toString();
    expect(out, out).toContain('31 97');
    const bad = await request(sock, 'POST', '/exec/nosuch/resize?h=10&w=10');
    expect(bad.status).toBe(404);
    await ok(['rm', '-f', 'api-rs']);
  });

  it('wait conditions and docker system prune -f', { timeout: 240_000 }, async () => {
    await ok(['create', '--network', 'none', '--name', 'api-w', img.name, 'sh', '-c', 'exit 6']);
    const w = await request(sock, 'POST', '/containers/api-w/wait?condition=not-running');
    expect(w.json()).toEqual({ StatusCode: 0 });
    const bad = await request(sock, 'POST', '/containers/api-w/wait?condition=soon');
    expect(bad.status).toBe(400);
    const next = request(sock, 'POST', '/containers/api-w/wait?condition=next-exit');
    await ok(['start', 'api-w']);
    expect((await next).json()).toEqual({ StatusCode: 6 });

    await ok(['run', '-d', '--network', 'none', '--name', 'api-keep', img.name, 'sleep', '300']);
    const pr = await ok(['system', 'prune', '-f']);
    expect(pr).toContain('Deleted Containers:');
    expect(pr).toMatch(/Total reclaimed space: [\d.]+[kMG]?B\n$/);
    expect((await dk(['inspect', 'api-w'])).code).not.toBe(0);
    expect(JSON.parse(await ok(['inspect', 'api-keep']))[0].State.Status).toBe('running');
    await ok(['rm', '-f', 'api-keep']);
  });
});
