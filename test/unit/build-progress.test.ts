// The tty view of dock build, fed events with a clock of our own: frames redrawn in place, the
// running step's last lines dimmed, CACHED, lines cut to the terminal's width, the final frame.
import { describe, expect, it } from 'vitest';
import { resolveMode, ttyProgress } from '../../src/cli/dock/build-progress';

function terminal(columns: number) {
  let text = '';
  const stream = { columns, isTTY: true, write: (s: string) => ((text += s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('dock build tty progress', () => {
  it('redraws one frame per event, dims the running step tail, and ends with DONE', () => {
    const term = terminal(60);
    let t = 1000;
    const p = ttyProgress(term.stream, () => t);
    p.output.step('[1/3]', 'FROM docker.io/library/busybox:latest', false);
    t += 200;
    p.output.stepDone!('[1/3]');
    t += 200;
    p.output.step('[2/3]', 'COPY . /app', true);
    t += 200;
    p.output.step('[3/3]', 'RUN ' + 'x'.repeat(100), false);
    for (let i = 1; i <= 8; i++) {
      t += 200;
      p.output.line('[3/3]', `line ${i}`);
    }
    const running = term.text();
    const frames = running.split('[+] Building');
    const last = frames[frames.length - 1];
    expect(running).toMatch(/\x1b\[\d+A\r/); // back over the previous frame
    expect(last).toContain('\x1b[2m => => line 8'); // dimmed
    expect(last).toContain('line 3');
    expect(last).not.toContain('line 2'); // only the last 6 lines
    expect(last).toMatch(/=> \[2\/3\] COPY \. \/app +CACHED/);
    expect(last).toMatch(/=> \[1\/3\] FROM docker\.io\/library\/busybox:latest +0\.2s/);
    for (const l of last.split('\n')) expect(plain(l).length).toBeLessThan(60);
    t += 500;
    p.output.stepDone!('[3/3]');
    p.say('writing image sha256:abc');
    p.finish(true);
    const out = term.text();
    const final = out.slice(out.lastIndexOf('[+] Building'));
    expect(final).toMatch(/^\[\+\] Building 2\.7s \(3\/3\) DONE/);
    expect(final).toMatch(/=> \[3\/3\] RUN x+\.\.\. +2\.1s/);
    expect(final).not.toContain('line 8'); // a finished step's lines go away
    expect(final).toMatch(/\nwriting image sha256:abc\n$/);
  });

  it('marks the step that was running when the build failed ERROR and keeps its last lines', () => {
    const term = terminal(80);
    let t = 0;
    const p = ttyProgress(term.stream, () => t);
    p.output.step('[1/2]', 'FROM scratch', false);
    p.output.stepDone!('[1/2]');
    p.output.step('[2/2]', 'RUN false', false);
    p.output.line('[2/2]', 'about\tto \x1b[31mfail\r');
    t += 300;
    p.finish(false);
    const out = term.text();
    const final = out.slice(out.lastIndexOf('[+] Building'));
    expect(final).toMatch(/^\[\+\] Building 0\.3s \(1\/2\) ERROR/);
    expect(final).toMatch(/=> \[2\/2\] RUN false +ERROR/);
    expect(final).toContain('=> => about to fail\x1b[0m'); // its tab, colour and CR dropped
  });

  it('auto is tty only on a terminal', () => {
    expect(resolveMode('auto', { isTTY: false } as NodeJS.WriteStream)).toBe('plain');
    expect(resolveMode('plain', { isTTY: true } as NodeJS.WriteStream)).toBe('plain');
  });
});
