// Encoder of the flat plan that skiff-init reads (format in addon/protocol.h): records of
// { u16 tag, u16 0, u32 len, payload } each starting on an 8-byte boundary.

export class PlanWriter {
  private chunks: Buffer[] = [];
  private size = 0;

  private record(tag: number, payload: Buffer): this {
    const head = Buffer.alloc(8);
    head.writeUInt16LE(tag, 0);
    head.writeUInt32LE(payload.length, 4);
    const pad = (8 - (payload.length & 7)) & 7;
    this.chunks.push(head, payload);
    if (pad) this.chunks.push(Buffer.alloc(pad));
    this.size += 8 + payload.length + pad;
    return this;
  }

  flag(tag: number): this {
    return this.record(tag, Buffer.alloc(0));
  }

  u32(tag: number, ...values: (number | bigint)[]): this {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeUInt32LE(Number(v) >>> 0, 4 * i));
    return this.record(tag, b);
  }

  i32(tag: number, ...values: number[]): this {
    const b = Buffer.alloc(4 * values.length);
    values.forEach((v, i) => b.writeInt32LE(v, 4 * i));
    return this.record(tag, b);
  }

  /** NUL-terminated strings, one after another. */
  strings(tag: number, ...values: string[]): this {
    return this.record(tag, cstrings(values));
  }

  /** A fixed struct (already encoded) followed by NUL-terminated strings. */
  struct(tag: number, head: Buffer, ...values: string[]): this {
    return this.record(tag, values.length ? Buffer.concat([head, cstrings(values)]) : head);
  }

  finish(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

function cstrings(values: string[]): Buffer {
  for (const v of values) {
    if (v.includes('\0')) throw new Error(`string contains a NUL byte: ${JSON.stringify(v)}`);
  }
  return Buffer.from(values.map((v) => v + '\0').join(''), 'utf8');
}

/** Little-endian struct builder for the fixed parts of records. */
export class StructWriter {
  private buf: Buffer;
  private off = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  u32(v: number | bigint): this {
    this.buf.writeUInt32LE(Number(v) >>> 0, this.off);
    this.off += 4;
    return this;
  }
  u64(v: bigint | number): this {
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.off);
    this.off += 8;
    return this;
  }
  done(): Buffer {
    if (this.off !== this.buf.length) throw new Error(`struct size mismatch: wrote ${this.off} of ${this.buf.length}`);
    return this.buf;
  }
}
