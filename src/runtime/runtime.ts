// The runtime library's context: where state lives, how to log, which cgroup driver.
import { appendFileSync } from 'node:fs';
import { initPath } from './native';
import { StateStore } from './state';
import { defaultStateRoot } from './userns';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RuntimeOptions {
  root?: string;
  debug?: boolean;
  systemdCgroup?: boolean;
  /** Log file (runc's --log); default stderr. */
  logFile?: string;
  logFormat?: 'text' | 'json';
}

export interface Runtime {
  readonly root: string;
  readonly store: StateStore;
  readonly debug: boolean;
  readonly systemdCgroup: boolean;
  readonly log: Logger;
  readonly initPath: string;
}

export function openRuntime(opts: RuntimeOptions = {}): Runtime {
  const root = opts.root ?? defaultStateRoot();
  const log = makeLogger(opts);
  return {
    root,
    store: new StateStore(root),
    debug: !!opts.debug,
    systemdCgroup: !!opts.systemdCgroup,
    log,
    get initPath() {
      return initPath();
    },
  };
}

/** runc-compatible logging: text or JSON lines {"level","msg","time"} to --log or stderr. */
export function makeLogger(opts: RuntimeOptions): Logger {
  const write = (level: LogLevel, msg: string) => {
    if (level === 'debug' && !opts.debug) return;
    const time = new Date().toISOString();
    const line =
      opts.logFormat === 'json'
        ? JSON.stringify({ level, msg, time }) + '\n'
        : `time="${time}" level=${level} msg=${JSON.stringify(msg)}\n`;
    try {
      if (opts.logFile) appendFileSync(opts.logFile, line);
      else if (level !== 'error') process.stderr.write(line); // errors reach stderr from the CLI
    } catch {
      // A log that cannot be written must not hide the real outcome.
    }
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
