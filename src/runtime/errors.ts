// Errors of the runtime library. One class per domain, each with a machine-readable code; the CLI
// prints `skiff: <message>` and never a stack trace for these. Messages are lower-case and say
// what failed, then why, so they read well after "skiff: ".

export type ErrorDomain =
  | 'config' // config.json unreadable or invalid
  | 'container' // lifecycle misuse: unknown id, wrong status, duplicate id
  | 'state' // state store: lock, corrupt state.json
  | 'init' // the native init reported a failure while building the container
  | 'cgroup'
  | 'seccomp'
  | 'hook'
  | 'usage'; // bad command-line input

export class SkiffError extends Error {
  readonly domain: ErrorDomain;
  readonly code: string;
  /** Process exit status the CLI should use (runc uses 1 for almost everything). */
  readonly exitCode: number;

  constructor(domain: ErrorDomain, code: string, message: string, opts: { cause?: unknown; exitCode?: number } = {}) {
    super(oneLine(message), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SkiffError';
    this.domain = domain;
    this.code = code;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/**
 * Messages quote names and paths from config.json and the command line: their control characters
 * (a newline in a mount type) are escaped, so that an error is always one line.
 */
export function oneLine(message: string): string {
  return message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1).replace(/^[\u2028\u2029]$/, (x) => `\\u${x.charCodeAt(0).toString(16)}`));
}

export const configError = (code: string, message: string, cause?: unknown) => new SkiffError('config', code, message, { cause });
export const containerError = (code: string, message: string) => new SkiffError('container', code, message);
export const usageError = (message: string) => new SkiffError('usage', 'EUSAGE', message);

/** errno text for an OS error caught from fs calls, e.g. "no such file or directory". */
export function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') {
    const m = /^[A-Z]+: ([^,]+)/.exec(e.message);
    return m ? m[1] : e.code.toLowerCase();
  }
  return String((err as Error)?.message ?? err);
}
