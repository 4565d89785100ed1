// dock events / system events on real containers: every dock process writes the engine's event
// log, a live `dock events` sees other processes' events as they happen, --since/--until replay,
// --filter narrows as docker's does, and --format takes Go templates and json.
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { d, dockChild, ok, waitFor, type TestImage, useDockRoot } from './dock-helpers';

let img: TestImage;
let root: string;

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  status?: string;
  id?: string;
  from?: string;
  scope: string;
  time: number;
  timeNano: number;
}

const parse = (out: string): Ev[] =>
  out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Ev);

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock events', () => {
  useDockRoot((i, r) => ((img = i), (root = r)));

  it('streams the events of other dock processes live, in order, in docker’s JSON shape', async () => {
    const t0 = Date.now() / 1000;
    const live = dockChild(root, ['events', '--format', '{{json .}}']);
    try {
      await liveScenario(live, t0);
    } finally {
      live.child.kill('SIGKILL');
    }
  }, 240_000);

  async function liveScenario(live: ReturnType<typeof dockChild>, t0: number): Promise<void> {
    // The stream starts from "now" (once that dock runs): probe volumes are made until one is seen.
    let probes = 0;
    await waitFor(async () => {
      await ok(root, ['volume', 'create', `ev-probe${++probes}`]);
      return live.out().includes('"Type":"volume","Action":"create"');
    }, 'the live stream to see the first event', 60_000);
    for (let i = 1; i <= probes; i++) await ok(root, ['volume', 'rm', `ev-probe${i}`]);
    await ok(root, ['volume', 'create', 'ev-probe']);
    const id = (await ok(root, ['run', '-d', '--network', 'none', '--name', 'ev1', '-l', 'team=blue', img.name, 'sleep', '300'])).trim();
    expect(await ok(root, ['exec', 'ev1', 'echo', 'hi'])).toBe('hi\n');
    await ok(root, ['pause', 'ev1']);
    await ok(root, ['unpause', 'ev1']);
    await ok(root, ['rename', 'ev1', 'ev2']);
    await ok(root, ['stop', '-t', '1', 'ev2']);
    await ok(root, ['rm', 'ev2']);
    await ok(root, ['volume', 'rm', 'ev-probe']);
    await waitFor(() => live.out().includes('"Type":"volume","Action":"destroy","Actor":{"ID":"ev-probe","'), 'the last event', 60_000);
    live.child.kill('SIGINT');
    expect(await live.closed).toBe(0);

    const evs = parse(live.out());
    const mine = evs.filter((e) => e.Type === 'container' && e.Actor.ID === id);
    expect(mine.map((e) => e.Action.replace(/:.*/, ''))).toEqual(['create', 'start', 'exec_create', 'exec_start', 'exec_die', 'pause', 'unpause', 'rename', 'kill', 'kill', 'die', 'stop', 'destroy']);
    const start = mine[1];
    expect(start).toMatchObject({ status: 'start', id, from: img.name, scope: 'local', Actor: { ID: id, Attributes: { image: img.name, name: 'ev1', team: 'blue' } } });
    expect(start.time).toBeGreaterThanOrEqual(Math.floor(t0));
    expect(Math.floor(start.timeNano / 1e9)).toBe(start.time);
    expect(mine[2].Action).toBe('exec_create: echo hi');
    expect(mine[4].Actor.Attributes.exitCode).toBe('0');
    expect(mine[7].Actor.Attributes).toMatchObject({ name: 'ev2', oldName: '/ev1' });
    // sleep as pid 1 ignores SIGTERM: the stop timeout's SIGKILL follows, as docker's events show.
    expect(mine[8].Actor.Attributes.signal).toBe('15');
    expect(mine[9].Actor.Attributes.signal).toBe('9');
    expect(mine[10].Actor.Attributes.exitCode).toBe('137');
    // Times never go backwards in the log's order.
    for (let i = 1; i < evs.length; i++) expect(evs[i].timeNano).toBeGreaterThanOrEqual(evs[i - 1].timeNano);
    // The volume's life, and its mount into the container.
    const vols = evs.filter((e) => e.Type === 'volume' && !/^ev-probe\d/.test(e.Actor.ID)).map((e) => `${e.Action} ${e.Actor.ID === 'ev-probe' ? 'ev-probe' : 'anon'}`);
    expect(vols).toEqual(['create ev-probe', 'create anon', 'mount anon', 'destroy ev-probe']);
  }

  it('replays with --since/--until, filters as docker does, and prints docker’s text line', { timeout: 240_000 }, async () => {
    const t0 = new Date().toISOString();
    await ok(root, ['run', '--network', 'none', '--name', 'rp1', '-l', 'app=x', img.name, 'sh', '-c', 'exit 3']).catch(() => undefined);
    await d(root, ['run', '--network', 'none', '--name', 'rp2', img.name, 'true']);
    await ok(root, ['tag', img.name, 'ev/tagged:1']);
    await ok(root, ['rmi', 'ev/tagged:1']);
    const t1 = new Date(Date.now() + 1).toISOString();

    const dies = await ok(root, ['events', '--since', t0, '--until', t1, '--filter', 'event=die']);
    const lines = dies.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z container die [0-9a-f]{64} \(app=x, exitCode=3, image=skiff-test\/app:1, name=rp1, org\.test\.keep=yes, org\.test\.kind=app\)$/);

    // Keys are ANDed, values of one key ORed; container= takes a name or an id prefix.
    const rp1 = JSON.parse(await ok(root, ['inspect', 'rp1']))[0].Id as string;
    const one = await ok(root, ['system', 'events', '--since', t0, '--until', t1, '-f', `container=${rp1.slice(0, 10)}`, '-f', 'event=start', '-f', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Status}} {{.ID | printf "%.6s"}}']);
    expect(one).toBe(`start rp1 start ${rp1.slice(0, 6)}\ndie rp1 die ${rp1.slice(0, 6)}\n`);
    const byLabel = await ok(root, ['events', '--since', t0, '--until', t1, '-f', 'label=app=x', '--format', '{{.Action}}']);
    expect(byLabel).toBe('create\nstart\ndie\n');
    const images = await ok(root, ['events', '--since', t0, '--until', t1, '-f', 'type=image', '--format', 'json']);
    expect(parse(images).map((e) => [e.Action, e.Actor.Attributes.name.startsWith('sha256:') ? 'id' : e.Actor.Attributes.name])).toEqual([
      ['tag', 'ev/tagged:1'],
      ['untag', 'id'],
    ]);
    const byImage = await ok(root, ['events', '--since', t0, '--until', t1, '-f', `image=${img.name}`, '-f', 'container=rp2', '--format', '{{.Action}}']);
    expect(byImage).toBe('create\nstart\ndie\n');

    // Bad input: one clear line, nothing streamed.
    const bad = await d(root, ['events', '--filter', 'colour=red']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toBe("dock: invalid filter 'colour'\n");
    const badTpl = await d(root, ['events', '--since', t0, '--until', t1, '--format', '{{.Nope']);
    expect(badTpl.code).toBe(125);
    expect(badTpl.stdout).toBe('');
    const badTime = await d(root, ['events', '--since', 'yesterday-ish']);
    expect(badTime.stderr).toMatch(/^dock: invalid value "yesterday-ish" for --since/);
    await ok(root, ['rm', 'rp1', 'rp2']);
  });

  it('records health changes and image save, load and import', { timeout: 240_000 }, async () => {
    const t0 = new Date(Date.now() - 1000).toISOString();
    await ok(root, ['run', '-d', '--network', 'none', '--name', 'hl1', '--health-cmd', 'true', '--health-interval', '1s', img.name, 'sleep', '300']);
    const until = () => new Date(Date.now() + 1).toISOString();
    await waitFor(async () => (await ok(root, ['events', '--since', t0, '--until', until(), '-f', 'container=hl1', '-f', 'event=health_status', '--format', '{{.Action}}'])) === 'health_status: healthy\n', 'the health_status event', 120_000);
    const archive = `${root}/saved.tar`;
    await ok(root, ['save', '-o', archive, img.name]);
    await ok(root, ['load', '-q', '-i', archive]);
    await ok(root, ['export', '-o', `${root}/fs.tar`, 'hl1']);
    await ok(root, ['import', `${root}/fs.tar`, 'ev/imported:1']);
    const images = await ok(root, ['events', '--since', t0, '--until', until(), '-f', 'type=image', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    const imageId = (await ok(root, ['image', 'inspect', '-f', '{{.Id}}', img.name])).trim();
    expect(images).toContain(`save ${imageId}\n`);
    expect(images).toContain(`load ${img.name}\n`);
    expect(images).toContain('import ev/imported:1\n');
    await ok(root, ['rm', '-f', 'hl1']);
    await ok(root, ['rmi', 'ev/imported:1']);
  });

  it('keeps the log bounded', async () => {
    const { openDb } = await import('../../src/engine/store/db');
    const { recordEvent, readEvents, MAX_EVENTS } = await import('../../src/engine/events/log');
    const db = openDb(':memory:');
    for (let i = 0; i < MAX_EVENTS + 250; i++) recordEvent(db, 'volume', 'create', `v${i}`);
    const n = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    expect(n).toBeLessThanOrEqual(MAX_EVENTS + 100);
    expect(n).toBeGreaterThanOrEqual(MAX_EVENTS);
    const last = readEvents(db, { afterSeq: MAX_EVENTS + 249 });
    expect(last.map((e) => e.event.Actor.ID)).toEqual([`v${MAX_EVENTS + 249}`]);
    db.close();
  });
});
