// Content-addressed blobs in an OCI image layout (`<dir>/blobs/sha256/<hex>`). A blob reaches its
// final name only by rename(2) after its content was hashed and fsync'd, so a blob file that exists
// is complete and correct. Downloads write to `ingest/<hex>.partial` under an exclusive lock file
// (`<hex>.lock`, holding the writer's pid) and keep the partial file for a resumed download.

import { createHash, Hash } from 'node:crypto';
import { closeSync, constants, createReadStream, openSync, promises as fsp, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { digestHex, sha256 } from './digest';
import { StoreError } from './errors';
import { parseJsonDocument } from '../../oci/json';

export class BlobStore {
  readonly dir: string;
  readonly blobsDir: string;
  readonly ingestDir: string;

  constructor(dir: string) {
    this.dir = dir;
    this.blobsDir = join(dir, 'blobs', 'sha256');
    this.ingestDir = join(dir, 'ingest');
  }

  async init(): Promise<void> {
    await fsp.mkdir(this.blobsDir, { recursive: true });
    await fsp.mkdir(this.ingestDir, { recursive: true });
    const layout = join(this.dir, 'oci-layout');
    try {
      await fsp.writeFile(layout, JSON.stringify({ imageLayoutVersion: '1.0.0' }), { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }

  path(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  async has(digest: string): Promise<boolean> {
    try {
      await fsp.access(this.path(digest));
      return true;
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    return (await fsp.stat(this.path(digest))).size;
  }

  async read(digest: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.path(digest));
    } catch (err) {
      throw new StoreError('EBLOB', `blob ${digest} is missing from the store`, { cause: err });
    }
  }

  async readJson<T>(digest: string): Promise<T> {
    const buf = await this.read(digest);
    try {
      return parseJsonDocument(buf.toString('utf8')) as T;
    } catch (err) {
      throw new StoreError('EBLOB', `blob ${digest} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  stream(digest: string) {
    return createReadStream(this.path(digest), { highWaterMark: 1 << 20 });
  }

  /** Writes a small blob whole; returns its digest. Checks `expected` when given. */
  async put(data: Buffer, expected?: string): Promise<string> {
    const digest = sha256(data);
    if (expected && expected !== digest) throw new StoreError('EDIGEST', `content is ${digest}, expected ${expected}`);
    if (await this.has(digest)) return digest;
    const tmp = join(this.ingestDir, `${digestHex(digest)}.${process.pid}.${Date.now()}.tmp`);
    const fh = await fsp.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, this.path(digest));
    return digest;
  }

  /**
   * Takes the ingest slot for `digest`: an exclusive lock plus the partial file so far, whose
   * content is hashed again so the download can go on from its end. Returns null if another live
   * process holds the slot (the caller waits for the blob, then tries again).
   */
  async openIngest(digest: string): Promise<Ingest | null> {
    const hex = digestHex(digest);
    const lock = join(this.ingestDir, `${hex}.lock`);
    if (!takeLock(lock)) return null;
    const partial = join(this.ingestDir, `${hex}.partial`);
    const hash = createHash('sha256');
    let offset = 0;
    try {
      const st = await fsp.stat(partial);
      offset = st.size;
      if (offset > 0) {
        for await (const chunk of createReadStream(partial, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    return new Ingest(this, digest, partial, lock, hash, offset);
  }

  /** Removes blobs by digest (used by garbage collection). */
  async remove(digest: string): Promise<void> {
    await fsp.rm(this.path(digest), { force: true });
  }

  async list(): Promise<string[]> {
    const names = await fsp.readdir(this.blobsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /** Removes ingest files whose lock is not held by a live process (partials older than maxAgeMs). */
  async cleanIngest(maxAgeMs: number): Promise<number> {
    let removed = 0;
    const names = await fsp.readdir(this.ingestDir).catch(() => [] as string[]);
    const now = Date.now();
    for (const n of names) {
      const p = join(this.ingestDir, n);
      const m = /^([0-9a-f]{64})\.(partial|lock)$|^([0-9a-f]{64})\.(\d+)\.\d+\.tmp$/.exec(n);
      if (!m) continue;
      if (m[2] === 'lock') {
        if (!lockAlive(p)) await fsp.rm(p, { force: true });
        continue;
      }
      if (m[4] && pidAlive(Number(m[4]))) continue;
      if (m[2] === 'partial' && lockAlive(join(this.ingestDir, `${m[1]}.lock`))) continue;
      const st = await fsp.stat(p).catch(() => null);
      if (st && now - st.mtimeMs >= maxAgeMs) {
        await fsp.rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}

export class Ingest {
  constructor(
    readonly blobs: BlobStore,
    readonly digest: string,
    readonly partialPath: string,
    private readonly lockPath: string,
    readonly hash: Hash,
    /** Bytes already in the partial file (and in `hash`). */
    public offset: number,
  ) {}

  /** Starts over: empties the partial file and the hash (server ignored the Range request). */
  async reset(): Promise<void> {
    await fsp.rm(this.partialPath, { force: true });
    (this as { hash: Hash }).hash = createHash('sha256');
    this.offset = 0;
  }

  currentDigest(): string {
    return 'sha256:' + this.hash.copy().digest('hex');
  }

  /**
   * Verifies the whole content against the digest, then moves it to its final name. A mismatch
   * removes the partial file: resuming from corrupt bytes would never succeed.
   */
  async commit(expectedSize?: number): Promise<void> {
    const got = this.currentDigest();
    if (got !== this.digest) {
      await fsp.rm(this.partialPath, { force: true });
      throw new StoreError('EDIGEST', `blob ${this.digest}: downloaded content hashes to ${got}`);
    }
    if (expectedSize !== undefined && this.offset !== expectedSize) {
      await fsp.rm(this.partialPath, { force: true });
      throw new StoreError('EDIGEST', `blob ${this.digest}: got ${this.offset} bytes, the manifest says ${expectedSize}`);
    }
    const fh = await fsp.open(this.partialPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(this.partialPath, this.blobs.path(this.digest));
  }

  async discard(): Promise<void> {
    await fsp.rm(this.partialPath, { force: true });
  }

  async release(): Promise<void> {
    await fsp.rm(this.lockPath, { force: true });
  }
}

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function lockAlive(lock: string): boolean {
  try {
    return pidAlive(Number(readFileSync(lock, 'utf8').trim()));
  } catch {
    return false;
  }
}

/** O_EXCL lock file holding our pid; a lock left by a dead process is taken over. */
function takeLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (lockAlive(lock)) return false;
      // Stale: its owner died. Remove and retry once (another process may win the race).
      try {
        rmSync(lock, { force: true });
      } catch {
        /* raced */
      }
    }
  }
  return false;
}
