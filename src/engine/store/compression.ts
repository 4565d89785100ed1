// Layer compression: recognised by magic bytes, not by media type, because registries and archives
// often label layers loosely (docker-archive layers are plain tar whatever their name says).

import { createGunzip } from 'node:zlib';
import { Readable, Transform, TransformCallback } from 'node:stream';
import { Decompress } from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

export function detectCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** zstd decompression as a Node transform stream (fzstd is pure JS, streaming). */
class ZstdDecompressStream extends Transform {
  private readonly d: Decompress;
  constructor() {
    super();
    this.d = new Decompress((chunk) => {
      if (chunk.length) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.d.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
  override _flush(cb: TransformCallback): void {
    try {
      this.d.push(new Uint8Array(0), true);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}

export function decompressor(c: Compression): Transform | null {
  if (c === 'gzip') return createGunzip();
  if (c === 'zstd') return new ZstdDecompressStream();
  return null;
}

/**
 * Peeks at the first bytes of a stream to find its compression, and returns a stream of the
 * decompressed content (the peeked bytes are put back).
 */
export async function decompressStream(src: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const head = await peek(src, 4);
  const compression = detectCompression(head);
  const d = decompressor(compression);
  if (!d) return { compression, stream: src };
  src.on('error', (e) => d.destroy(e));
  return { compression, stream: src.pipe(d) };
}

async function peek(src: Readable, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk: Buffer | null = src.read();
    if (chunk === null) {
      if (src.readableEnded) break;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          src.off('readable', done);
          src.off('end', done);
          src.off('error', onErr);
          resolve();
        };
        const onErr = (e: Error) => {
          src.off('readable', done);
          src.off('end', done);
          reject(e);
        };
        src.once('readable', done);
        src.once('end', done);
        src.once('error', onErr);
      });
      continue;
    }
    chunks.push(chunk);
    have += chunk.length;
  }
  const head = Buffer.concat(chunks);
  if (head.length) src.unshift(head);
  return head;
}
