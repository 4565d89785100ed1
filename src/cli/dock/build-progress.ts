// How `dock build` shows its progress (--progress auto|tty|plain|quiet), fed by the builder's
// output events; the engine knows nothing of terminals.
//   plain: one line per step and per RUN output line (the format the tests and logs read).
//   tty:   BuildKit's live view, redrawn in place: a "[+] Building" header, one line per step with
//          its time or CACHED, the running steps' last lines dimmed, a final frame DONE or ERROR.
//   quiet: nothing but the image id at the end.

import type { BuildOutput } from '../../engine/build/builder';

export const PROGRESS_MODES = ['auto', 'tty', 'plain', 'quiet'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

export interface BuildProgress {
  output: BuildOutput;
  /** A line after the build (writing image, naming to); quiet drops it. */
  say(text: string): void;
  /** The build ended; the tty view draws its last frame. */
  finish(ok: boolean): void;
}

/** auto: the live view when stderr (where it draws) is a terminal that can move the cursor. */
export function resolveMode(mode: ProgressMode, stderr: NodeJS.WriteStream = process.stderr): Exclude<ProgressMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return stderr.isTTY && process.env.TERM !== 'dumb' ? 'tty' : 'plain';
}

const warn = (t: string) => process.stderr.write(`dock: warning: ${t}\n`);

export function plainProgress(quiet: boolean): BuildProgress {
  const say = (s: string) => {
    if (!quiet) process.stdout.write(s + '\n');
  };
  return {
    output: {
      step: (label, t, cached) => say(`${cached ? 'CACHED ' : ''}${label} ${t}`),
      line: (label, t) => say(`${label} | ${t}`),
      info: (t) => say(t),
      warn,
    },
    say,
    finish() {},
  };
}

interface Step {
  label: string;
  text: string;
  cached: boolean;
  start: number;
  end?: number;
  lines: string[];
}

/** Lines of a running step shown under it, as BuildKit's tty view does. */
const TAIL = 6;
const REDRAW_MS = 100;

const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
// The stage part of a label: "[builder 2/4]" -> "builder", "[2/4]" -> "".
const stageOf = (label: string) => label.replace(/^\[/, '').replace(/\s*\d+\/\d+\]$/, '');

export function ttyProgress(out: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): BuildProgress {
  const started = now();
  const steps: Step[] = [];
  const infos: string[] = [];
  let drawn = 0; // lines of the last frame, to move back over
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  let failed = false;

  const width = () => Math.max(20, out.columns || 80);
  const fit = (s: string) => {
    const w = width() - 1; // never fill the last column: some terminals wrap there
    return s.length > w ? s.slice(0, w) : s;
  };
  const running = (label: string) => {
    for (let i = steps.length - 1; i >= 0; i--) if (steps[i].label === label && steps[i].end === undefined) return steps[i];
    return undefined;
  };
  const endStage = (stage: string, t: number) => {
    for (const s of steps) if (s.end === undefined && stageOf(s.label) === stage) s.end = t;
  };

  const frame = (): string[] => {
    const t = now();
    const doneCount = steps.filter((s) => s.end !== undefined).length;
    const lines = [`[+] Building ${secs(t - started)} (${doneCount}/${steps.length})${finished ? (failed ? ' ERROR' : ' DONE') : ''}`];
    for (const i of infos) lines.push(fit(` => ${i}`));
    for (const s of steps) {
      const head = ` => ${s.label} ${s.text}`;
      let tail: string;
      if (s.cached) tail = 'CACHED';
      else if (s.end !== undefined) tail = secs(s.end - s.start);
      else if (finished) tail = failed ? 'ERROR' : secs(t - s.start);
      else tail = secs(t - s.start);
      const room = width() - 1 - tail.length - 1;
      const text = head.length > room ? head.slice(0, Math.max(0, room - 3)) + '...' : head.padEnd(room);
      lines.push(fit(`${text} ${tail}`));
      // The last lines of a step at work, and of the step that failed in the final frame.
      if (s.end === undefined && !s.cached) for (const l of s.lines.slice(-TAIL)) lines.push(`\x1b[2m${fit(` => => ${l}`)}\x1b[0m`);
    }
    return lines;
  };

  const draw = () => {
    const lines = frame();
    // Back to the first line of the last frame, then each line rewritten and cleared to its end.
    let s = drawn ? `\x1b[${drawn}A\r` : '';
    for (const l of lines) s += `${l}\x1b[K\n`;
    if (lines.length < drawn) s += '\x1b[J'; // a shorter frame (a step's tail went away)
    out.write(s);
    drawn = lines.length;
  };
  let pending = false;
  let lastDraw = -Infinity;
  // An event redraws at once unless a frame was drawn less than REDRAW_MS ago (then the timer
  // does); the timer also keeps the clocks of running steps moving between events.
  const soon = () => {
    if (now() - lastDraw >= REDRAW_MS) {
      lastDraw = now();
      pending = false;
      draw();
    } else pending = true;
  };
  timer = setInterval(() => {
    if (pending || steps.some((s) => s.end === undefined)) {
      pending = false;
      lastDraw = now();
      draw();
    }
  }, REDRAW_MS);
  timer.unref();

  const after: string[] = [];
  return {
    output: {
      step(label, text, cached) {
        const t = now();
        endStage(stageOf(label), t); // a stage runs its steps in order
        steps.push({ label, text, cached, start: t, ...(cached ? { end: t } : {}), lines: [] });
        soon();
      },
      line(label, text) {
        const s = running(label);
        if (!s) return;
        // A step's own escapes, carriage returns or tabs would move our cursor: they are dropped.
        s.lines.push(text.replace(/\t/g, ' ').replace(/\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x1f\x7f]/g, ''));
        if (s.lines.length > TAIL) s.lines.splice(0, s.lines.length - TAIL);
        soon();
      },
      stepDone(label) {
        const s = running(label);
        if (s) s.end = now();
        soon();
      },
      info(text) {
        infos.push(text);
        soon();
      },
      warn: (t) => (finished ? warn(t) : after.push(`dock: warning: ${t}`)),
    },
    say: (text) => (finished ? out.write(text + '\n') : after.push(text)),
    finish(ok) {
      if (finished) return;
      finished = true;
      failed = !ok;
      if (timer) clearInterval(timer);
      timer = undefined;
      const t = now();
      if (ok) for (const s of steps) s.end ??= t;
      draw();
      // Warnings and the image lines, below the last frame (they would be redrawn over before).
      for (const a of after) out.write(a + '\n');
      after.length = 0;
    },
  };
}

/** The progress of a build for --progress and -q. */
export function buildProgress(mode: ProgressMode, quiet: boolean): BuildProgress {
  if (quiet || mode === 'quiet') return plainProgress(true);
  return resolveMode(mode) === 'tty' ? ttyProgress() : plainProgress(false);
}
