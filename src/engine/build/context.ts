// The build context: a directory filtered by `.dockerignore` (or `<Dockerfile>.dockerignore`
// beside the Dockerfile, which BuildKit prefers). The ignore rules are applied while the tree is
// listed, before any file is read: an excluded file is never opened, and an excluded directory is
// not even entered unless an exception (`!pattern`) could re-include something inside it.
// Matching is @balena/dockerignore's, which follows Docker's rules (Go filepath.Match per path
// segment, `**`, `!` exceptions, the last matching pattern winning).
//
// COPY and ADD name sources with globs (`*`, `?`, `[...]`, and `**` for any depth), matched
// against the included entries; contentHash() hashes what a step reads, for the cache.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdtempSync, promises as fsp, readFileSync, readlinkSync, rmSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, posix } from 'node:path';
import dockerignore from '@balena/dockerignore';
import { BuildError } from './errors';

export interface ContextEntry {
  rel: string;
  st: Stats;
}

/** Reads .dockerignore lines as Docker does: comments and blank lines out, paths cleaned. */
export function parseIgnoreFile(text: string): string[] {
  const out: string[] = [];
  for (let line of text.split(/\r?\n/)) {
    if (line.startsWith('#')) continue;
    line = line.trim();
    if (line === '') continue;
    let neg = false;
    if (line.startsWith('!')) {
      neg = true;
      line = line.slice(1).trim();
    }
    if (line !== '') {
      line = posix.normalize(line);
      if (line.startsWith('/')) line = line.slice(1) || '/';
      if (line.endsWith('/') && line.length > 1) line = line.slice(0, -1);
    }
    out.push((neg ? '!' : '') + line);
  }
  return out;
}

export class BuildContext {
  /** Included entries by relative path ('' is the root), files, directories and links. */
  readonly entries = new Map<string, Stats>();
  private readonly hashes = new Map<string, string>();

  private constructor(
    /** The context directory, or null for a Dockerfile read from stdin (empty context). */
    readonly dir: string | null,
    readonly patterns: string[],
  ) {}

  static empty(): BuildContext {
    return new BuildContext(null, []);
  }

  /** Lists `dir` with the ignore rules of `dockerfilePath`'s ignore file or `dir/.dockerignore`. */
  static async open(dir: string, dockerfilePath?: string): Promise<BuildContext> {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      throw new BuildError('ECONTEXT', `unable to prepare context: path "${dir}" not found`);
    }
    if (!st.isDirectory()) throw new BuildError('ECONTEXT', `unable to prepare context: path "${dir}" is not a directory`);
    let text = '';
    const specific = dockerfilePath ? join(dirname(dockerfilePath), `${basename(dockerfilePath)}.dockerignore`) : null;
    const ignoreFile = specific && existsSync(specific) ? specific : join(dir, '.dockerignore');
    if (existsSync(ignoreFile)) text = readFileSync(ignoreFile, 'utf8');
    const ctx = new BuildContext(dir, parseIgnoreFile(text));
    await ctx.walk();
    return ctx;
  }

  private async walk(): Promise<void> {
    const ig = dockerignore({ ignorecase: false }).add(this.patterns);
    const exceptions = this.patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
    const dir = this.dir!;
    this.entries.set('', lstatSync(dir));
    const visit = async (rel: string): Promise<void> => {
      const names = (await fsp.readdir(rel ? join(dir, rel) : dir)).sort();
      for (const n of names) {
        const r = rel ? `${rel}/${n}` : n;
        const st = lstatSync(join(dir, r));
        const excluded = ig.ignores(r);
        if (!excluded) this.entries.set(r, st);
        if (st.isDirectory() && (!excluded || exceptions.some((e) => mayMatchBelow(e, r)))) await visit(r);
      }
    };
    await visit('');
    // A re-included file inside an excluded directory brings its parents along.
    for (const r of [...this.entries.keys()]) {
      for (let p = parentOf(r); p !== '' && !this.entries.has(p); p = parentOf(p)) this.entries.set(p, lstatSync(join(dir, p)));
    }
  }

  /** Host path of an entry. */
  abs(rel: string): string {
    return rel ? join(this.dir!, rel) : this.dir!;
  }

  isIgnored(rel: string): boolean {
    return !this.entries.has(rel);
  }

  /**
   * The entries a COPY source names: an exact path, or a glob. Throws "not found" as Docker
   * does when nothing matches.
   */
  resolveSource(source: string): string[] {
    const rel = cleanContextPath(source);
    if (!/[*?[]/.test(rel)) {
      if (!this.dir || !this.entries.has(rel)) throw new BuildError('ECONTEXT', `"/${rel}": not found in the build context${this.dir && existsSync(this.abs(rel)) ? ' (excluded by .dockerignore)' : ''}`);
      return [rel];
    }
    const re = globPathRegex(rel);
    const out = [...this.entries.keys()].filter((k) => k !== '' && re.test(k)).sort();
    if (out.length === 0) throw new BuildError('ECONTEXT', `no source files were specified: "${source}" matches nothing in the build context`);
    return out;
  }

  /** Included entries at or below `rel`, sorted (for copying and hashing). */
  below(rel: string): string[] {
    if (rel === '') return [...this.entries.keys()].sort();
    const pre = rel + '/';
    return [...this.entries.keys()].filter((k) => k === rel || k.startsWith(pre)).sort();
  }

  /**
   * sha256 over what copying `roots` reads: each entry's path (relative to its root), type, mode
   * and content (file bytes, link target). Owners and times are left out: COPY from a context
   * gives files to root (or --chown) and Docker's cache ignores mtimes.
   */
  async contentHash(roots: string[]): Promise<string> {
    const h = createHash('sha256');
    for (const root of roots) {
      h.update(`root ${root}\0`);
      for (const rel of this.below(root)) {
        const st = this.entries.get(rel)!;
        const name = rel.slice(root.length);
        const mode = (st.mode & 0o7777).toString(8);
        if (st.isDirectory()) h.update(`d ${name} ${mode}\0`);
        else if (st.isSymbolicLink()) h.update(`l ${name} ${readlinkSync(this.abs(rel))}\0`);
        else if (st.isFile()) h.update(`f ${name} ${mode} ${await this.fileHash(rel, st)}\0`);
        else h.update(`o ${name} ${mode} ${st.rdev}\0`);
      }
    }
    return 'sha256:' + h.digest('hex');
  }

  private async fileHash(rel: string, st: Stats): Promise<string> {
    const key = `${rel}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
    const known = this.hashes.get(key);
    if (known) return known;
    const h = createHash('sha256');
    for await (const chunk of createReadStream(this.abs(rel))) h.update(chunk as Buffer);
    const d = h.digest('hex');
    this.hashes.set(key, d);
    return d;
  }
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** Whether exception pattern `pat` could match a path below directory `dir`. */
function mayMatchBelow(pat: string, dir: string): boolean {
  if (pat.includes('**')) return true;
  const pSegs = pat.split('/');
  const dSegs = dir.split('/');
  if (pSegs.length <= dSegs.length) return false;
  for (let i = 0; i < dSegs.length; i++) if (!segmentRegex(pSegs[i]).test(dSegs[i])) return false;
  return true;
}

/**
 * A context-relative path from a COPY source or a --mount source: cleaned as BuildKit does, with
 * the context as "/" (so `..` never climbs out of it).
 */
export function cleanContextPath(p: string): string {
  const norm = posix.normalize('/' + p).replace(/^\/+/, '');
  return norm === '.' ? '' : norm.replace(/\/+$/, '');
}

/** One path segment of a Go filepath.Match pattern. */
function segmentRegex(seg: string): RegExp {
  return new RegExp('^' + segmentSource(seg) + '$', 's');
}

function segmentSource(seg: string): string {
  let re = '';
  const c = [...seg];
  for (let i = 0; i < c.length; i++) {
    const ch = c[i];
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\' && i + 1 < c.length) re += escapeRe(c[++i]);
    else if (ch === '[') {
      const end = c.indexOf(']', i + 2);
      if (end < 0) throw new BuildError('ECONTEXT', `syntax error in pattern "${seg}"`);
      let cls = c.slice(i + 1, end).join('');
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += '[' + cls.replace(/\\(?!])/g, '\\\\') + ']';
      i = end;
    } else re += escapeRe(ch);
  }
  return re;
}

/** A whole-path glob: segments as filepath.Match, and `**` for any number of directories. */
export function globPathRegex(pattern: string): RegExp {
  const segs = pattern.split('/');
  let re = '^';
  segs.forEach((s, i) => {
    const last = i === segs.length - 1;
    if (s === '**') re += last ? '.*' : '(?:[^/]+/)*';
    else re += segmentSource(s) + (last ? '' : '/');
  });
  return new RegExp(re + '$', 's');
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

// ---- a context sent as a tar archive on stdin (`docker build - < context.tar`) ----------------------

const ARCHIVE_FLAGS: Array<[Buffer, string]> = [
  [Buffer.from([0x1f, 0x8b]), '-z'],
  [Buffer.from('BZh'), '-j'],
  [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), '-J'],
  [Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), '--zstd'],
];

/** The tar flag for a context archive's compression ('' for plain tar), or null when not an archive. */
export function contextArchiveKind(head: Buffer): string | null {
  for (const [magic, flag] of ARCHIVE_FLAGS) if (head.length >= magic.length && head.subarray(0, magic.length).equals(magic)) return flag;
  if (head.length >= 262 && head.toString('latin1', 257, 262) === 'ustar') return '';
  return null;
}

/** Unpacks a context archive into a new temporary directory (GNU tar: no `..`, no absolute paths). */
export function extractContextArchive(data: Buffer, kind: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'dock-context-'));
  const r = spawnSync('tar', ['-x', ...(kind ? [kind] : []), '--no-same-owner', '--no-same-permissions', '-C', dir, '-f', '-'], { input: data, stdio: ['pipe', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new BuildError('ECONTEXT', `cannot unpack the build context from stdin: ${(r.stderr?.toString() || r.error?.message || '').trim()}`);
  }
  return dir;
}
