// sha256 digests as the OCI image spec writes them ("sha256:<64 hex>").

import { createHash, Hash } from 'node:crypto';
import { Transform, TransformCallback } from 'node:stream';
import { StoreError } from './errors';

const SHA256_RE = /^sha256:([0-9a-f]{64})$/;

export function digestHex(digest: string): string {
  const m = SHA256_RE.exec(digest);
  if (!m) throw new StoreError('EDIGEST', `unsupported digest "${digest}": only sha256 is supported`);
  return m[1];
}

export function isSha256Digest(s: string): boolean {
  return SHA256_RE.test(s);
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** A pass-through stream that hashes and counts what goes through it. */
export class HashingStream extends Transform {
  readonly hash: Hash;
  bytes = 0;
  constructor(hash: Hash = createHash('sha256')) {
    super();
    this.hash = hash;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  digest(): string {
    return 'sha256:' + this.hash.digest('hex');
  }
}

/** Short image id as `docker images` prints it. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
