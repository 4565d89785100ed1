// `dock compose logs` and attached `up`: the json-file logs of several containers at once, each
// line prefixed with the container's service-number, padded to one width, in a colour per
// service on a terminal (docker compose's look: "web-1  | line").

import { Writable } from 'node:stream';
import type { Engine } from '../containers/engine';
import { streamLogs, type LogOptions } from '../containers/logs';
import type { ContainerDoc } from '../containers/types';
import { L } from './labels';

const COLOURS = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94]; // cyan, yellow, green, magenta, blue, bright ones

export const prefixName = (d: ContainerDoc) => (d.Config.Labels[L.oneoff] === 'True' ? d.Name : `${d.Config.Labels[L.service]}-${d.Config.Labels[L.number]}`);

/** A stream that writes whole lines to `out`, each after `prefix`. */
export class PrefixedLines extends Writable {
  private rest = '';
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly prefix: string,
  ) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const text = this.rest + chunk.toString();
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    if (lines.length) this.out.write(lines.map((l) => this.prefix + l + '\n').join(''));
    done();
  }
  override _final(done: (e?: Error | null) => void): void {
    if (this.rest) this.out.write(this.prefix + this.rest + '\n');
    this.rest = '';
    done();
  }
}

export interface MultiLogOptions extends Omit<LogOptions, 'stdout' | 'stderr'> {
  colour?: boolean;
  /** No prefixes (--no-log-prefix). */
  noPrefix?: boolean;
  out?: NodeJS.WritableStream;
}

/** Streams the logs of `docs` together; with follow, until each container stops (or the signal). */
export async function streamProjectLogs(engine: Engine, docs: ContainerDoc[], o: MultiLogOptions): Promise<void> {
  const out = o.out ?? process.stdout;
  const width = Math.max(0, ...docs.map((d) => prefixName(d).length));
  const services = [...new Set(docs.map((d) => d.Config.Labels[L.service]))];
  await Promise.all(
    docs.map(async (d) => {
      const name = prefixName(d).padEnd(width);
      const c = COLOURS[services.indexOf(d.Config.Labels[L.service]) % COLOURS.length];
      const prefix = o.noPrefix ? '' : o.colour ? `\x1b[${c}m${name}  |\x1b[0m ` : `${name}  | `;
      const stream = new PrefixedLines(out, prefix);
      try {
        await streamLogs(engine, d, { ...o, stdout: stream, stderr: stream });
      } finally {
        await new Promise<void>((r) => stream.end(r));
      }
    }),
  );
}
