// The supervisor's jobs on real containers: logs (follow, tail, rotation), exec -it through a pty,
// attach after dock went away, restart policies, health checks, pause, wait, and a dock killed at
// every step of `run` followed by `ps -a` and `rm -f`.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, dockCgroups, dockChild, dockScript, mountsUnder, newRoot, ok, ops, supervisorsOf, type TestImage, waitFor } from './dock-helpers';

let img: TestImage;
let root: string;

/** skiff-init processes (a created container waits in one) whose exec fifo is under the root. */
function initsUnder(r: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      for (const fd of readdirSync(`/proc/${p}/fd`)) {
        try {
          if (readlinkSync(`/proc/${p}/fd/${fd}`).startsWith(r + '/')) out.push(Number(p));
        } catch {
          /* closed */
        }
      }
    } catch {
      /* gone */
    }
  }
  return [...new Set(out)];
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock supervisor', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
  });
  // What a test made goes with it, even when it failed half-way: the next test starts from an empty root.
  afterEach(async () => {
    const ids = (await d(root, ['ps', '-aq', '--no-trunc'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await d(root, ['rm', '-f', '-v', ...ids]);
  });

  it('streams the logs of a detached server with logs -f, in json-file format with stream and time', async () => {
    const id = (await ok(root, ['run', '--network', 'none', '-d', '--name', 'server', img.name, 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do echo out $i; echo err $i >&2; i=$((i+1)); sleep 0.05; done; echo bye'])).trim();
    const follow = dockChild(root, ['logs', '-f', 'server']);
    const code = await follow.closed; // -f returns once the server has exited
    expect(code).toBe(0);
    const outLines = follow.out().trim().split('\n');
    expect(outLines[0]).toBe('out 0');
    expect(outLines.at(-1)).toBe('bye');
    expect(outLines).toHaveLength(41);
    expect(follow.err().trim().split('\n')).toHaveLength(40);
    const raw = readFileSync(join(root, 'containers', id, 'container.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(raw[0]).toEqual({ log: expect.stringMatching(/^(out|err) 0\n$/), stream: expect.stringMatching(/^std(out|err)$/), time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/) });
    // --tail counts entries of both streams: the last two are "err 39" (stderr) and "bye".
    const tail = await d(root, ['logs', '--tail', '2', 'server']);
    expect([tail.stdout, tail.stderr]).toEqual(['bye\n', 'err 39\n']);
    const stamped = (await ok(root, ['logs', '-t', '--tail', '1', 'server'])).trim();
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z bye$/);
    expect(await ok(root, ['logs', '--since', '2099-01-01T00:00:00Z', 'server'])).toBe('');
    await ok(root, ['rm', '-v', 'server']);
  }, ops(6));

  it('follows a running container live (lines arrive while it runs) and across log rotation', async () => {
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'ticker', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', img.name, 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.02; done']);
    const follow = dockChild(root, ['logs', '-f', '--tail', '0', 'ticker']);
    await waitFor(() => /tick \d+\n.*tick \d+\n/s.test(follow.out()), 'live lines');
    const id = (await ok(root, ['inspect', '-f', '{{.Id}}', 'ticker'])).trim();
    await waitFor(() => existsSync(join(root, 'containers', id, 'container.log.2')), 'two rotations');
    expect(readFileSync(join(root, 'containers', id, 'container.log.1')).length).toBeLessThanOrEqual(2048);
    const before = follow.out().trim().split('\n').length;
    await waitFor(() => follow.out().trim().split('\n').length > before + 50, 'lines after rotation');
    await ok(root, ['rm', '-f', 'ticker']);
    expect(await follow.closed).toBe(0);
    // What -f printed is consecutive: no line lost or repeated across rotations.
    const nums = follow.out().trim().split('\n').map((l) => Number(l.split(' ')[1]));
    for (let i = 1; i < nums.length; i++) expect(nums[i]).toBe(nums[i - 1] + 1);
  }, ops(6));

  it('runs exec -it through a pseudo-terminal, and exec -e -u -w', async () => {
    const id = (await ok(root, ['run', '--network', 'none', '-d', img.name, 'sleep', '120'])).trim();
    // script(1) gives dock a terminal; the commands go through it to the container's pty.
    const child = spawn('script', ['-qfec', `${process.execPath} ${await dockScript()} exec -it ${id} sh`, '/dev/null'], { env: { ...process.env, DOCK_ROOT: root, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (x) => (out += x));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await waitFor(() => out.includes('# '), 'the shell prompt');
    child.stdin.write('echo answer=$((6*7)); tty; stty size\n');
    await waitFor(() => /answer=42/.test(out) && /\/dev\/pts\/\d+/.test(out), 'the command output');
    child.stdin.write('exit 4\n');
    expect(await closed).toBe(4);
    expect(out).toMatch(/\/dev\/pts\/\d+\r+\n/);
    const r = await ok(root, ['exec', '-e', 'X=1', '-u', 'app', '-w', '/home/app', id, 'sh', '-c', 'echo $X $(id -u) $(pwd)']);
    expect(r).toBe('1 1000 /home/app\n');
    // Without -i the process does not read our stdin; with -i it does.
    expect(await ok(root, ['exec', id, 'sh', '-c', 'cat; echo end'], { input: 'not for it\n' })).toBe('end\n');
    expect(await ok(root, ['exec', '-i', id, 'sh', '-c', 'cat; echo end'], { input: 'for it\n' })).toBe('for it\nend\n');
    const failed = await d(root, ['exec', id, 'sh', '-c', 'exit 9']);
    expect(failed.code).toBe(9);
    // -d returns at once (our pipes are not held by the process) and the process runs on.
    const bg = await d(root, ['exec', '-d', id, 'sh', '-c', 'sleep 1; echo late > /tmp/bg']);
    expect(bg).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await waitFor(async () => (await d(root, ['exec', id, 'cat', '/tmp/bg'])).stdout === 'late\n', 'the detached exec');
    const missing = await d(root, ['exec', '-d', id, 'nosuchcmd']);
    expect(missing.stderr).toBe('dock: exec: "nosuchcmd": executable file not found in $PATH\n');
    await ok(root, ['rm', '-f', id]);
  }, ops(10));

  it('runs run -it with the pty held by the supervisor: input, window size, exit status, and the log', async () => {
    const child = spawn('script', ['-qfec', `stty cols 91 rows 33; ${process.execPath} ${await dockScript()} run -it --network none --name ttyrun ${img.name} sh`, '/dev/null'], { env: { ...process.env, DOCK_ROOT: root, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (x) => (out += x));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    await waitFor(() => out.includes('# '), 'the shell prompt');
    child.stdin.write('tty; stty size; echo $TERM; echo sum=$((40+2))\n');
    await waitFor(() => /sum=42/.test(out), 'the command output');
    child.stdin.write('exit 6\n');
    expect(await closed).toBe(6);
    expect(out).toMatch(/\/dev\/pts\/0\r+\n33 91\r+\nxterm\r+\n/);
    // The terminal's output is in the json log too (one stream: stdout).
    const logs = await ok(root, ['logs', 'ttyrun']);
    expect(logs).toMatch(/sum=42/);
    expect(await ok(root, ['inspect', '-f', '{{.State.ExitCode}} {{.Config.Tty}}', 'ttyrun'])).toBe('6 true\n');
    await ok(root, ['rm', 'ttyrun']);
  }, ops(5));

  it('keeps the container when dock is killed, and attach reconnects to it', async () => {
    // A foreground run whose dock dies: the container lives on under its supervisor.
    const run = dockChild(root, ['run', '--network', 'none', '--name', 'survivor', img.name, 'sh', '-c', 'echo ready; trap "exit 0" TERM; while true; do sleep 0.1; done']);
    await waitFor(() => run.out().includes('ready'), 'the container to start');
    run.child.kill('SIGKILL');
    await run.closed;
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'survivor'])).toBe('running\n');
    expect(await ok(root, ['stop', 'survivor'])).toBe('survivor\n');
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'survivor'])).toBe('exited 0\n');

    // attach, go away, attach again: input and output reach the same container process.
    await ok(root, ['run', '--network', 'none', '-d', '-i', '--name', 'echoer', img.name, 'sh', '-c', 'while read l; do echo "got $l"; done; echo eof']);
    const first = dockChild(root, ['attach', 'echoer']);
    await new Promise((r) => setTimeout(r, 300));
    first.child.stdin.write('one\n');
    await waitFor(() => first.out().includes('got one'), 'the first echo');
    first.child.kill('SIGKILL');
    await first.closed;
    const second = dockChild(root, ['attach', 'echoer']);
    await new Promise((r) => setTimeout(r, 300));
    second.child.stdin.write('two\n');
    await waitFor(() => second.out().includes('got two'), 'the second echo');
    second.child.stdin.end(); // attach stays until the container exits; its input ending closes nothing
    await new Promise((r) => setTimeout(r, 300));
    second.child.kill('SIGKILL');
    await second.closed;
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'echoer'])).toBe('running\n');
    expect(await ok(root, ['logs', 'echoer'])).toBe('got one\ngot two\n');
    await ok(root, ['rm', '-f', 'survivor', 'echoer']);
  }, ops(10));

  it('explains a container whose supervisor was killed, and starts it again', async () => {
    const id = (await ok(root, ['run', '--network', 'none', '-d', img.name, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.1; done'])).trim();
    const [sup] = supervisorsOf(root);
    process.kill(sup, 'SIGKILL');
    await waitFor(() => supervisorsOf(root).length === 0, 'the supervisor to die');
    // The container does not depend on its supervisor to run.
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', id])).toBe('running\n');
    await ok(root, ['stop', id]);
    // Nobody recorded the exit: the code is unknown (255), as Docker reports a missed exit.
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id])).toBe('exited 255\n');
    await ok(root, ['start', id]);
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', id])).toBe('running\n');
    expect(supervisorsOf(root)).toHaveLength(1);
    await ok(root, ['rm', '-f', id]);
  }, ops(8));

  it('brings a crashing container back N times with on-failure:N', async () => {
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'crasher', '--restart', 'on-failure:3', img.name, 'sh', '-c', 'echo run; exit 2']);
    await waitFor(async () => (await ok(root, ['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'crasher'])) === '3 exited\n', 'three restarts', ops(3)); // three container starts
    expect(await ok(root, ['logs', 'crasher'])).toBe('run\nrun\nrun\nrun\n');
    expect(await ok(root, ['inspect', '-f', '{{.State.ExitCode}}', 'crasher'])).toBe('2\n');
    await waitFor(() => supervisorsOf(root).length === 0, 'the supervisor to leave');
    // always: restarted until stopped; stop cancels it.
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'always', '--restart', 'always', img.name, 'sh', '-c', 'sleep 0.2; exit 0']);
    await waitFor(async () => Number((await ok(root, ['inspect', '-f', '{{.RestartCount}}', 'always'])).trim()) >= 2, 'restarts of always', ops(2));
    await ok(root, ['stop', 'always']);
    const n = (await ok(root, ['inspect', '-f', '{{.RestartCount}}', 'always'])).trim();
    await new Promise((r) => setTimeout(r, 1000));
    expect((await ok(root, ['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', 'always'])).trim()).toBe(`${n} exited`);
    await ok(root, ['rm', 'crasher', 'always']);
  }, ops(12));

  it('shows a health check starting until its first probe', async () => {
    // The first probe runs one interval after the start: with an hour, "starting" is all it can be.
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'unprobed', '--health-cmd', 'true', '--health-interval', '1h', img.name, 'sleep', '120']);
    expect(await ok(root, ['ps', '--format', '{{.Status}}', '--filter', 'name=unprobed'])).toMatch(/\(health: starting\)/);
    expect(await ok(root, ['inspect', '-f', '{{.State.Health.Status}}', 'unprobed'])).toBe('starting\n');
    await ok(root, ['rm', '-f', 'unprobed']);
  }, ops(4));

  it('turns a health check unhealthy after the retries, and healthy again', async () => {
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'checked', '--health-cmd', 'test -e /tmp/healthy && echo fine', '--health-interval', '300ms', '--health-retries', '2', '--health-timeout', '5s', img.name, 'sleep', '120']);
    await waitFor(async () => (await ok(root, ['inspect', '-f', '{{.State.Health.Status}}', 'checked'])) === 'unhealthy\n', 'unhealthy', ops(2)); // a start and two probes
    const h = JSON.parse(await ok(root, ['inspect', '-f', '{{json .State.Health}}', 'checked']));
    expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(h.Log.at(-1).ExitCode).toBe(1);
    expect(await ok(root, ['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}'])).toBe('checked\n');
    await ok(root, ['exec', 'checked', 'touch', '/tmp/healthy']);
    await waitFor(async () => (await ok(root, ['inspect', '-f', '{{.State.Health.Status}}', 'checked'])) === 'healthy\n', 'healthy', ops(1)); // one probe
    const h2 = JSON.parse(await ok(root, ['inspect', '-f', '{{json .State.Health}}', 'checked']));
    expect(h2.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'fine\n' });
    await ok(root, ['rm', '-f', 'checked']);
  }, ops(10));

  it('pauses, unpauses, waits, kills, renames and lists with filters and formats', async () => {
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'p1', '-l', 'role=worker', img.name, 'sh', '-c', 'while true; do sleep 0.1; done']);
    await ok(root, ['pause', 'p1']);
    expect(await ok(root, ['ps', '--filter', 'name=p1', '--format', '{{.Names}} {{.State}}'])).toBe('p1 paused\n');
    const freezer = readFileSync(`/sys/fs/cgroup/freezer/dock/${(await ok(root, ['inspect', '-f', '{{.Id}}', 'p1'])).trim()}/freezer.state`, 'utf8').trim();
    expect(freezer).toBe('FROZEN');
    await ok(root, ['unpause', 'p1']);
    expect(await ok(root, ['ps', '-q', '--filter', 'label=role=worker'])).toMatch(/^[0-9a-f]{12}\n$/);
    await ok(root, ['rename', 'p1', 'p2']);
    const top = await ok(root, ['top', 'p2']);
    expect(top.split('\n')[0]).toMatch(/PID/);
    expect(top).toMatch(/while true/);
    const waiter = dockChild(root, ['wait', 'p2']);
    await new Promise((r) => setTimeout(r, 300));
    await ok(root, ['kill', '-s', 'TERM', 'p2']); // sh as pid 1 ignores TERM: nothing happens
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'p2'])).toBe('running\n');
    await ok(root, ['kill', 'p2']);
    expect(await waiter.closed).toBe(0);
    expect(waiter.out()).toBe('137\n');
    expect(await ok(root, ['ps', '-a', '--filter', 'exited=137', '--format', '{{.Names}}: {{.Status}}'])).toMatch(/^p2: Exited \(137\) .* ago\n$/);
    const p2 = (await ok(root, ['inspect', '-f', '{{.Id}}', 'p2'])).trim();
    const pruned = await ok(root, ['container', 'prune', '-f']);
    expect(pruned).toMatch(new RegExp(`Deleted Containers:\n(.*\n)*${p2}\n`));
    expect(await ok(root, ['ps', '-aq', '--filter', 'name=p2'])).toBe('');
  }, ops(17));

  for (const step of ['mounted', 'supervised', 'created', 'attached']) {
    it(`explains and cleans up after a dock killed during run (at "${step}")`, async () => {
      const name = `crash-${step}`;
      const r = await d(root, ['run', '--network', 'none', '--name', name, img.name, 'sleep', '60'], { env: { DOCK_CRASH_AT: step } });
      expect(r.code).not.toBe(0); // SIGKILL
      const ps = await ok(root, ['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Names}} {{.State}}']);
      expect(ps).toBe(`${name} created\n`);
      const id = (await ok(root, ['inspect', '-f', '{{.Id}}', name])).trim();
      await ok(root, ['rm', '-f', name]);
      expect(await ok(root, ['ps', '-aq', '--filter', `name=${name}`])).toBe('');
      expect(mountsUnder(join(root, 'containers'))).toEqual([]);
      expect(dockCgroups([id])).toEqual([]);
      await waitFor(() => supervisorsOf(root).length === 0, 'no supervisor');
      expect(initsUnder(root)).toEqual([]);
      expect(existsSync(join(root, 'containers', id))).toBe(false);
      expect(existsSync(join(root, 'runtime', id))).toBe(false);
    }, ops(7));
  }
});
