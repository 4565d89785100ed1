// Overlay mounts for build steps: a step's root is the layers so far (snapshot directories as
// lowerdirs, top first) plus a fresh upper/work pair; what the step changes lands in upper/, which
// is the layer's diff. The features that would make upper/ something else than a plain diff are
// turned off explicitly (the host's defaults may differ): redirect_dir (a renamed directory would
// be a redirect xattr instead of its content), metacopy (a chmod would copy up metadata only, the
// data staying below) and index.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from './errors';

const SAFE_OPTIONS = 'redirect_dir=off,metacopy=off,index=off';

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
}

/** Mount points at or below `dir`. */
export function mountsBelow(dir: string): string[] {
  const d = dir.replace(/\/+$/, '');
  return mountPoints().filter((p) => p === d || p.startsWith(d + '/'));
}

export function isMounted(dir: string): boolean {
  const want = dir.replace(/\/+$/, '');
  return mountPoints().includes(want);
}

/**
 * Short names for lowerdirs: symlinks in `links` (as Docker's overlay2 `l/` directory), so that
 * mount data, one page at most, holds a few hundred layers instead of ~60 snapshot paths.
 */
function shortNames(links: string, dirs: string[]): string[] {
  mkdirSync(links, { recursive: true, mode: 0o700 });
  return dirs.map((d) => {
    const hex = createHash('sha256').update(d).digest('hex');
    for (const len of [10, 20, 64]) {
      const name = hex.slice(0, len);
      const p = join(links, name);
      try {
        symlinkSync(d, p);
        return name;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        if (readlinkSync(p) === d) return name; // made by an earlier step or build
      }
    }
    return d;
  });
}

function mountWith(target: string, lowerdirs: string[], rw: { upper: string; work: string } | null, links: string): void {
  // The mount is made from the links directory with the short names relative to it.
  const lower = shortNames(links, lowerdirs).join(':');
  const base = `lowerdir=${lower}${rw ? `,upperdir=${rw.upper},workdir=${rw.work}` : ''}`;
  let last = '';
  for (const data of [`${base},${SAFE_OPTIONS}`, base]) {
    try {
      execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', data, target], { cwd: links, stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (e) {
      last = ((e as { stderr?: Buffer }).stderr?.toString() ?? (e as Error).message).trim();
    }
  }
  throw new BuildError('ESTEP', `mount the build step's overlay root filesystem: ${last}`);
}

/**
 * Mounts <dir>/rootfs as lowerdirs + <dir>/upper. `empty` is an empty directory used as the
 * bottom layer, so that an image without layers (scratch) mounts too.
 */
export function mountStepRoot(dir: string, lowerdirs: string[], empty: string, links: string): { rootfs: string; upper: string } {
  const rootfs = join(dir, 'rootfs');
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  for (const d of [rootfs, upper, work]) mkdirSync(d, { recursive: true, mode: 0o755 });
  mountWith(rootfs, [...lowerdirs, empty], { upper, work }, links);
  return { rootfs, upper };
}

/** A read-only view of an image's layers at `target` (COPY --from, RUN --mount from=). */
export function mountReadOnly(target: string, lowerdirs: string[], empty: string, links: string): void {
  mkdirSync(target, { recursive: true, mode: 0o755 });
  mountWith(target, [...lowerdirs, empty], null, links);
}

export function unmount(target: string): void {
  if (!isMounted(target)) return;
  try {
    execFileSync('umount', [target], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch {
    execFileSync('umount', ['-l', target], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
}
