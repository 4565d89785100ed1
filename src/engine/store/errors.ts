// Errors of the image store: blobs, snapshots, layer unpacking and the metadata database.

export type StoreErrorCode =
  | 'ENOIMAGE' // no image by that name or id
  | 'EAMBIGUOUS' // an id prefix matches several images
  | 'EINUSE' // a container uses the image
  | 'EDIGEST' // a blob or layer does not match its digest / diffID
  | 'EBLOB' // a blob is missing or unreadable
  | 'ELAYER' // a layer tarball is malformed or unsafe
  | 'EDB' // the metadata database failed
  | 'EARCHIVE' // a save/load/import archive is malformed
  | 'EIO'; // filesystem error

export class StoreError extends Error {
  readonly domain = 'store' as const;
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'StoreError';
    this.code = code;
  }
}
