// Errors of `dock compose`: one class, a machine-readable code, a message that reads well after
// "dock: " (lower-case, what failed, then why; a place in a file as `services.web.ports[0]`).

export type ComposeErrorCode =
  | 'ENOFILE' // no compose file found, or one named cannot be read
  | 'EYAML' // YAML syntax, multi-document, unsupported tag
  | 'ESCHEMA' // the file does not match what dock reads (a path and why)
  | 'EINTERP' // bad ${...} syntax, or ${VAR:?} / ${VAR?} of an unset variable
  | 'EUNSUPPORTED' // a key or value dock knows but cannot do
  | 'EMODEL' // a reference to an unknown service/network/volume, a cycle in depends_on
  | 'EUSAGE' // a bad flag or argument
  | 'ENOTFOUND' // no such service or project
  | 'EDEPENDENCY' // a depends_on condition failed (unhealthy, exited non-zero)
  | 'ERUNTIME'; // the engine failed to do something

export class ComposeError extends Error {
  readonly domain = 'compose' as const;
  readonly code: ComposeErrorCode;
  constructor(code: ComposeErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ComposeError';
    this.code = code;
  }
}
