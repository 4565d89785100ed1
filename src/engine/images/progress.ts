// Progress of pulls and pushes. The library reports events to a ProgressSink; the CLI picks the
// renderer: one bar per layer (bytes, speed) on a terminal, plain lines when piped.

import { MultiBar, SingleBar, Presets } from 'cli-progress';

export type LayerStatus =
  | 'waiting'
  | 'exists'
  | 'downloading'
  | 'verifying'
  | 'downloaded'
  | 'extracting'
  | 'complete'
  | 'uploading'
  | 'mounted'
  | 'pushed'
  | 'failed';

export const LAYER_STATUS_TEXT: Record<LayerStatus, string> = {
  waiting: 'Waiting',
  exists: 'Already exists',
  downloading: 'Downloading',
  verifying: 'Verifying checksum',
  downloaded: 'Download complete',
  extracting: 'Extracting',
  complete: 'Pull complete',
  uploading: 'Pushing',
  mounted: 'Mounted from another repository',
  pushed: 'Pushed',
  failed: 'Failed',
};

export interface ProgressSink {
  /** A line of its own ("Pulling from library/busybox", "Digest: sha256:..."). */
  message(text: string): void;
  /** A layer (id: 12 hex digits) changed status; bytes/total for transfers. */
  layer(id: string, status: LayerStatus, bytes?: number, total?: number): void;
  /** No more events: finish bars. */
  close(): void;
}

export const silentProgress: ProgressSink = { message() {}, layer() {}, close() {} };

function humanBytes(n: number): string {
  const u = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)}${u[i]}`;
}

/** Plain lines, one per status change (byte counts only at the end of a transfer). */
export class LineProgress implements ProgressSink {
  private readonly last = new Map<string, LayerStatus>();
  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}
  message(text: string): void {
    this.out.write(text + '\n');
  }
  layer(id: string, status: LayerStatus, bytes?: number, total?: number): void {
    if (this.last.get(id) === status) return;
    this.last.set(id, status);
    const size = status === 'downloaded' || status === 'pushed' ? ` (${humanBytes(total ?? bytes ?? 0)})` : '';
    this.out.write(`${id}: ${LAYER_STATUS_TEXT[status]}${size}\n`);
  }
  close(): void {}
}

/** One cli-progress bar per layer, with bytes and speed while transferring. */
export class BarProgress implements ProgressSink {
  private readonly multi: MultiBar;
  private readonly bars = new Map<string, { bar: SingleBar; started: number; total: number }>();
  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.multi = new MultiBar(
      {
        stream,
        clearOnComplete: false,
        hideCursor: true,
        autopadding: true,
        format: '{id}: {status} {bar} {done}/{size} {speed}',
        barsize: 30,
        fps: 10,
      },
      Presets.shades_classic,
    );
  }
  message(text: string): void {
    this.multi.log(text + '\n');
  }
  layer(id: string, status: LayerStatus, bytes?: number, total?: number): void {
    let b = this.bars.get(id);
    if (!b) {
      const bar = this.multi.create(Math.max(total ?? 1, 1), 0, { id, status: LAYER_STATUS_TEXT[status], done: '', size: '', speed: '' });
      b = { bar, started: Date.now(), total: total ?? 0 };
      this.bars.set(id, b);
    }
    if (total !== undefined && total !== b.total) {
      b.total = total;
      b.bar.setTotal(Math.max(total, 1));
    }
    const transferring = status === 'downloading' || status === 'uploading';
    if (transferring && bytes === 0) b.started = Date.now();
    const secs = (Date.now() - b.started) / 1000;
    const value = bytes ?? (status === 'complete' || status === 'pushed' || status === 'exists' || status === 'downloaded' || status === 'mounted' ? b.total : 0);
    b.bar.update(Math.max(value, 0), {
      status: LAYER_STATUS_TEXT[status].padEnd(18),
      done: b.total ? humanBytes(value) : '',
      size: b.total ? humanBytes(b.total) : '',
      speed: transferring && secs > 0.2 && bytes ? `${humanBytes(bytes / secs)}/s` : '',
    });
  }
  close(): void {
    this.multi.stop();
  }
}

/** `lines`: where plain progress lines go when there is no terminal (run/create keep stdout for the container). */
export function defaultProgress(quiet = false, lines: NodeJS.WriteStream = process.stdout): ProgressSink {
  if (quiet) return silentProgress;
  return process.stderr.isTTY && lines.isTTY ? new BarProgress(process.stderr) : new LineProgress(lines);
}
