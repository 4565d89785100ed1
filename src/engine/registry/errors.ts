// Errors of the registry client: reference parsing, HTTP, authentication, manifests. Messages are
// lower-case and read well after "dock: ".

export type RegistryErrorCode =
  | 'EREFERENCE' // the image reference does not parse
  | 'EUNAUTHORIZED' // credentials missing or refused
  | 'ENOTFOUND' // manifest, tag or blob unknown to the registry
  | 'EDENIED' // the registry refused the operation
  | 'EHTTP' // unexpected HTTP status
  | 'ENETWORK' // connection failed, reset or timed out
  | 'EMANIFEST' // unsupported or malformed manifest
  | 'EPLATFORM' // no manifest for the wanted platform
  | 'EDIGEST' // content does not match its digest
  | 'ESIZE' // content shorter or longer than announced
  | 'ECANCELED' // the caller gave up (an API client that went away)
  | 'ECONFIG'; // docker config.json unreadable

export class RegistryError extends Error {
  readonly domain = 'registry' as const;
  readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'RegistryError';
    this.code = code;
  }
}
