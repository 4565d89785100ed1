// `dock logs`: the json-file log the supervisor writes (container.log and its rotated .1, .2, ...),
// with --tail, --since/--until, -t and -f (follow until the container stops, across rotations).

import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from './engine';
import { ContainerError, usage } from './errors';
import { containerDir } from './paths';
import { liveState } from './status';
import type { ContainerDoc } from './types';

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  tail?: string;
  since?: string;
  until?: string;
  timestamps?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Stop following (tests, signals). */
  signal?: AbortSignal;
}

/** "2013-01-02T13:23:37Z", a unix time "1700000000.5", or a duration ago ("10m", "1h30m"). */
export function parseTime(v: string, flag: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v) ?? null;
  const rel = /^((\d+(?:\.\d+)?)(h|m|s|ms))+$/.test(v);
  if (d || rel) {
    let ms = 0;
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)) ms += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms']!;
    return Date.now() - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw usage(`invalid value "${v}" for ${flag}: want a timestamp (2024-01-02T15:04:05Z), a unix time, or a duration such as 10m`);
  return t;
}

function logFiles(dir: string): string[] {
  const files: string[] = [];
  for (let i = 1; i < 100; i++) {
    try {
      statSync(join(dir, `container.log.${i}`));
      files.unshift(join(dir, `container.log.${i}`));
    } catch {
      break;
    }
  }
  files.push(join(dir, 'container.log'));
  return files;
}

function parseLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as LogEntry);
    } catch {
      /* a line being written */
    }
  }
  return out;
}

/** Docker's answer for a log driver that keeps nothing to read back (none). */
export function checkReadableLogs(doc: ContainerDoc): void {
  if (doc.HostConfig.LogConfig.Type === 'none') throw new ContainerError('ENOTSUP', 'configured logging driver does not support reading');
}

export async function streamLogs(engine: Engine, doc: ContainerDoc, o: LogOptions): Promise<void> {
  checkReadableLogs(doc);
  const dir = containerDir(engine.paths, doc.Id);
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const since = o.since ? parseTime(o.since, '--since') : undefined;
  const until = o.until ? parseTime(o.until, '--until') : undefined;
  let tail = Infinity;
  if (o.tail !== undefined && o.tail !== 'all') {
    if (!/^\d+$/.test(o.tail)) throw usage(`invalid value "${o.tail}" for --tail: a number of lines or "all"`);
    tail = Number(o.tail);
  }
  const emit = (e: LogEntry) => {
    const t = Date.parse(e.time);
    if (since !== undefined && t < since) return;
    if (until !== undefined && t > until) return;
    const text = o.timestamps ? `${e.time} ${e.log}` : e.log;
    (e.stream === 'stderr' ? err : out).write(text);
  };

  // What is there now: container.log is opened first and read up to its size at that moment, so
  // that following goes on from exactly there (nothing written meanwhile is lost or repeated).
  const path = join(dir, 'container.log');
  let fd = -1;
  let ino = 0;
  let pos = 0;
  try {
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    ino = st.ino;
    pos = st.size;
  } catch {
    /* created later */
  }
  let entries: LogEntry[] = [];
  for (const f of logFiles(dir).slice(0, -1)) {
    try {
      entries.push(...parseLines(readFileSync(f, 'utf8')));
    } catch {
      /* rotated away */
    }
  }
  let head = '';
  if (fd >= 0 && pos > 0) {
    const b = Buffer.alloc(pos);
    let got = 0;
    while (got < pos) {
      const n = readSync(fd, b, got, pos - got, got);
      if (n <= 0) break;
      got += n;
    }
    const text = b.subarray(0, got).toString('utf8');
    const nl = text.lastIndexOf('\n');
    entries.push(...parseLines(text.slice(0, nl + 1)));
    head = text.slice(nl + 1); // a line being written: completed by what follows
  }
  if (tail !== Infinity) entries = tail === 0 ? [] : entries.slice(-tail);
  for (const e of entries) emit(e);
  if (!o.follow) {
    if (fd >= 0) closeSync(fd);
    return;
  }

  let partial = head;
  const buf = Buffer.alloc(65536);
  const drain = () => {
    if (fd < 0) return;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
      partial += buf.subarray(0, n).toString('utf8');
      const nl = partial.lastIndexOf('\n');
      if (nl >= 0) {
        for (const e of parseLines(partial.slice(0, nl))) emit(e);
        partial = partial.slice(nl + 1);
      }
    }
  };
  try {
    for (;;) {
      drain();
      let st;
      try {
        st = statSync(path);
      } catch {
        st = null;
      }
      if (st && st.ino !== ino) {
        drain();
        if (fd >= 0) closeSync(fd);
        fd = openSync(path, 'r');
        ino = st.ino;
        pos = 0;
        partial = '';
        continue;
      }
      const cur = engine.containers.get(doc.Id);
      const s = cur ? liveState(engine, cur).status : 'exited';
      if (s !== 'running' && s !== 'paused' && s !== 'restarting') {
        drain();
        return;
      }
      if (o.signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
