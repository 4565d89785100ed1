// dock build --progress on a real terminal (script(1) gives dock a pty): the live tty view with its
// header, step times, CACHED steps and final frame; plain lines when asked for on a terminal; quiet;
// and a bad --progress value as a usage error. (The redraws and dimmed tails: test/unit/build-progress.)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { d, dockScript, ops, type TestImage, useDockRoot } from './dock-helpers';

let img: TestImage;
let root: string;
const dirs: string[] = [];

function context(dockerfile: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'build-progress-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  return dir;
}

/** `dock ARGS` on a pseudo-terminal 100 columns wide: its exit status and all it drew. */
async function onTerminal(args: string[]): Promise<{ code: number | null; out: string }> {
  const cmd = `stty cols 100 rows 40; ${process.execPath} ${await dockScript()} ${args.map((a) => `'${a}'`).join(' ')}`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, DOCK_ROOT: root, TERM: 'xterm' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (x) => (out += x));
  child.stderr.on('data', (x) => (out += x));
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  return { code, out };
}

// What a terminal would finally show of the last frame: the text after the last cursor-up.
const lastFrame = (out: string) => out.slice(out.lastIndexOf('[+] Building'));

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS, 'script')))('dock build --progress', () => {
  useDockRoot((i, r) => ((img = i), (root = r)));
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('draws the live view on a terminal: header, step times, CACHED on a rebuild, the final frame', async () => {
    const ctx = context([`FROM ${img.name}`, 'RUN echo progress-one && echo progress-two', 'ENV STAGE=done', ''].join('\n'));
    const first = await onTerminal(['build', '--network', 'none', '-t', 'progress:1', ctx]);
    expect(first.code).toBe(0);
    const frame = lastFrame(first.out);
    expect(frame).toMatch(/^\[\+\] Building \d+\.\ds \(3\/3\) DONE/);
    expect(frame).toMatch(/ => \[2\/3\] RUN echo progress-one && echo progress-two +\d+\.\ds/);
    expect(frame).toContain('naming to docker.io/library/progress:1');
    // Lines fit the terminal's 100 columns.
    for (const l of frame.split(/\r?\n/)) expect(l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').length).toBeLessThan(100);

    const again = await onTerminal(['build', '--network', 'none', '-t', 'progress:1', ctx]);
    expect(again.code).toBe(0);
    const cached = lastFrame(again.out);
    expect(cached).toMatch(/ => \[2\/3\] RUN echo progress-one && echo progress-two +CACHED/);
    expect(cached).toMatch(/ => \[3\/3\] ENV STAGE=done +CACHED/);
    expect(cached).not.toContain('progress-two\x1b'); // a cached step ran nothing
  }, ops(3));

  it('ends a failing build with an ERROR frame that keeps the failed step and its last lines', async () => {
    const ctx = context([`FROM ${img.name}`, 'RUN echo about to fail && exit 3', ''].join('\n'));
    const r = await onTerminal(['build', '--network', 'none', ctx]);
    expect(r.code).toBe(3);
    const frame = lastFrame(r.out);
    expect(frame).toMatch(/^\[\+\] Building \d+\.\ds \(1\/2\) ERROR/);
    expect(frame).toMatch(/ => \[2\/2\] RUN echo about to fail && exit 3 +ERROR/);
    expect(frame).toContain(' => => about to fail');
  }, ops(2));

  it('prints plain lines on a terminal with --progress=plain, only the id with --progress=quiet', async () => {
    const ctx = context([`FROM ${img.name}`, 'RUN echo plain-out', ''].join('\n'));
    const plain = await onTerminal(['build', '--network', 'none', '--no-cache', '--progress=plain', ctx]);
    expect(plain.code).toBe(0);
    expect(plain.out).not.toContain('[+] Building');
    expect(plain.out).toContain('[2/2] RUN echo plain-out');
    expect(plain.out).toContain('[2/2] | plain-out');
    const quiet = await onTerminal(['build', '--network', 'none', '--progress', 'quiet', ctx]);
    expect(quiet.code).toBe(0);
    expect(quiet.out.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, ops(2));

  it('refuses an unknown --progress as a usage error', async () => {
    const r = await d(root, ['build', '--progress=bogus', '.']);
    expect(r.code).toBe(125);
    expect(r.stderr.split('\n')[0]).toMatch(/--progress.*bogus.*auto, tty, plain, quiet/);
    expect(r.stdout).toBe('');
  });
});
