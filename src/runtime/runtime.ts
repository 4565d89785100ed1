// The runtime library's context: where state lives, how to log, which cgroup driver.
import { type LogLevel, writeLogLine } from './log';
import { initPath } from './native';
import { StateStore } from './state';
import { defaultStateRoot } from './userns';

export type { LogLevel } from './log';

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

/** runc-compatible logging: text or JSON lines {"level","msg","time"} to --log or stderr (log.ts). */
export function makeLogger(opts: RuntimeOptions): Logger {
  // Errors reach stderr from the CLI's own `skiff: <error>` line; the log file gets every level.
  const write = (level: LogLevel, msg: string) => writeLogLine(opts, level, msg, level === 'error');
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
