// Errors of `dock build`: a Dockerfile that does not parse, an instruction used wrongly, a step
// that failed (with the exit code of a failing RUN), a context that cannot be read.

export type BuildErrorCode =
  | 'EPARSE' // the Dockerfile does not parse
  | 'EUSAGE' // bad flags or arguments to dock build, or an instruction used wrongly
  | 'ECONTEXT' // the build context cannot be read, or a source is outside it or missing
  | 'ESTEP' // a step failed (not a RUN exit code: mount, copy, config)
  | 'ERUN' // a RUN step exited non-zero (exitCode says with what)
  | 'EREFUSED'; // something this engine will not do here (remote URLs, secrets, emulation)

export class BuildError extends Error {
  readonly domain = 'build' as const;
  readonly code: BuildErrorCode;
  /** The RUN step's exit status, for ERUN. */
  readonly exitCode?: number;
  constructor(code: BuildErrorCode, message: string, opts: { cause?: unknown; exitCode?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BuildError';
    this.code = code;
    if (opts.exitCode !== undefined) this.exitCode = opts.exitCode;
  }
}

export const parseError = (line: number, why: string) => new BuildError('EPARSE', `Dockerfile:${line}: ${why}`);
