// runc's log lines, the one definition the runtime's logger and the CLI's failure path share.
// runc (logrus) writes `time="2006-01-02T15:04:05Z" level=error msg="..."` in text format and
// {"level":"error","msg":"...","time":"..."} in json format, to --log or stderr. Engines read them:
// containerd's shim and podman parse the last error line of the --log file (json) to show why a
// container could not be created. No imports beyond node:fs and output.ts, so the CLI can load it first.
import { appendFileSync, writeSync } from 'node:fs';
import { output } from './output';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogSettings {
  /** runc's --log: the file to append to; stderr when undefined. */
  logFile?: string;
  logFormat?: 'text' | 'json';
  debug?: boolean;
}

/** RFC 3339 in UTC to the second, as logrus prints it by default. */
function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

export function formatLogLine(level: LogLevel, msg: string, format: 'text' | 'json' | undefined): string {
  const name = level === 'warn' ? 'warning' : level; // logrus's name for it
  if (format === 'json') return JSON.stringify({ level: name, msg, time: now() }) + '\n';
  return `time="${now()}" level=${name} msg=${JSON.stringify(msg)}\n`;
}

/**
 * Write one line where runc would: the --log file, or stderr. Debug lines only with --debug.
 * `skipStderr`: the caller shows this line on stderr itself (the CLI's `skiff: <error>` line).
 * A log that cannot be written must never hide the real outcome: errors here are swallowed.
 */
export function writeLogLine(s: LogSettings, level: LogLevel, msg: string, skipStderr = false): void {
  if (level === 'debug' && !s.debug) return;
  const line = formatLogLine(level, msg, s.logFormat);
  try {
    if (s.logFile) appendFileSync(s.logFile, line);
    else if (!skipStderr) writeSync(output.err, line);
  } catch {
    // see above
  }
}
