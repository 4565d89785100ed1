// How a skiff call fails, the way runc's does: which exit status, which stderr line, which line in
// the --log file. One module for the commander CLI and any fast path of a verb, so that every
// failure of every verb, from the first argument read to the last cleanup step, reaches the log
// in the requested format (containerd's shim reads the error from `--log log.json --log-format
// json`; a missing file shows as "unable to retrieve OCI runtime error").
import { writeSync } from 'node:fs';
import { output } from '../runtime/output';
import { type LogSettings, writeLogLine } from '../runtime/log';

/** runc's exit statuses: 1 for a failure, 3 for an unknown command, 255 for a failed exec. */
export const EXIT = { ok: 0, failure: 1, unknownCommand: 3, execFailure: 255 } as const;

/** The verbs whose failures exit with another status than 1 (runc's fatalWithCode). */
export const FAILURE_STATUS: Readonly<Record<string, number>> = { exec: EXIT.execFailure };

export interface GlobalArgs extends LogSettings {
  root?: string;
  /** The first word after the global options: the verb, or undefined when there is none. */
  command?: string;
}

/** Global options that take a value, and those that do not (runc's). */
const WITH_VALUE = new Set(['--root', '--log', '--log-format', '--criu', '--rootless']);

/**
 * The global options, read from argv before commander parses it: a failure of the parsing itself
 * (an unknown option, a missing argument) must still reach the --log file in its format.
 */
export function scanGlobalArgs(argv: readonly string[]): GlobalArgs {
  const out: GlobalArgs = { logFormat: 'text' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.command = argv[i + 1];
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      out.command = a;
      break;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (WITH_VALUE.has(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) break;
      if (name === '--log') out.logFile = v;
      else if (name === '--log-format') out.logFormat = v === 'json' ? 'json' : 'text';
      else if (name === '--root') out.root = v;
    } else if (name === '--debug') {
      out.debug = true;
    }
  }
  return out;
}

/** runc's words for a verb it does not know (urfave/cli's help lookup). */
export function unknownCommandMessage(name: string): string {
  return `No help topic for '${name}'`;
}

/** One failure: `skiff: <message>` on stderr, an error line in the --log file. */
export function reportFailure(log: LogSettings, message: string): void {
  const msg = message.replace(/\s+$/, '');
  try {
    writeSync(output.err, `skiff: ${msg}\n`);
  } catch {
    // stderr closed: the log line below is all that is left
  }
  writeLogLine(log, 'error', msg, true);
}
