// `dock image bootstrap debian:bookworm`: makes a Debian image with debootstrap from the Debian
// archive this machine's apt already uses (or --mirror), then imports the tree as a one-layer
// image named after the reference (the tag is the suite).

import { spawn } from 'node:child_process';
import { createReadStream, promises as fsp, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatReference, parseReference } from '../registry/reference';
import { ImageStore } from '../store/store';
import { removeTree } from '../store/unpack';
import { ImageError } from './errors';
import { importRootfs } from './import';

export interface BootstrapOptions {
  mirror?: string;
  variant?: string;
  include?: string[];
  /** debootstrap's output, line by line. */
  log?: (line: string) => void;
}

/** The first Debian archive URI in apt's sources (one-line or deb822 format). */
export function aptMirror(etc = '/etc/apt'): string | null {
  const files: string[] = [join(etc, 'sources.list')];
  try {
    for (const f of readdirSync(join(etc, 'sources.list.d')).sort()) files.push(join(etc, 'sources.list.d', f));
  } catch {
    /* none */
  }
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const one = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/.exec(line);
      if (one && !/security/.test(one[1]) && /debian/.test(one[1])) return one[1];
      const uris = /^\s*URIs:\s*(\S+)/i.exec(line);
      if (uris && !/security/.test(uris[1]) && /debian/.test(uris[1])) return uris[1];
    }
  }
  return null;
}

function run(cmd: string, args: string[], log?: (l: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const onData = (d: Buffer) => {
      const s = d.toString();
      tail = (tail + s).slice(-4000);
      if (log) for (const l of s.split('\n')) if (l.trim()) log(l);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => reject(new ImageError('EBOOTSTRAP', `cannot run ${cmd}: ${e.message}${(e as NodeJS.ErrnoException).code === 'ENOENT' ? ` (install it: apt-get install ${cmd})` : ''}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else reject(new ImageError('EBOOTSTRAP', `${cmd} failed (exit ${code}): ${tail.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

function dpkgArch(): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'armhf', ia32: 'i386', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' };
  return map[process.arch] ?? process.arch;
}

export async function bootstrapDebian(store: ImageStore, reference: string, opts: BootstrapOptions = {}): Promise<{ id: string; reference: string }> {
  const ref = parseReference(reference);
  const suite = !ref.tag || ref.tag === 'latest' ? 'stable' : ref.tag;
  const mirror = opts.mirror ?? aptMirror() ?? 'http://deb.debian.org/debian';
  const dir = await fsp.mkdtemp(join(store.blobs.ingestDir, 'bootstrap-'));
  const rootfs = join(dir, 'rootfs');
  try {
    const args = [`--variant=${opts.variant ?? 'minbase'}`, `--arch=${dpkgArch()}`];
    if (opts.include?.length) args.push(`--include=${opts.include.join(',')}`);
    await run('debootstrap', [...args, suite, rootfs, mirror], opts.log);
    // What Debian's own images drop: downloaded packages and apt lists.
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists']) {
      for (const n of await fsp.readdir(join(rootfs, d)).catch(() => [] as string[])) {
        if (n.endsWith('.deb') || (d.endsWith('lists') && n !== 'partial' && n !== 'lock')) await fsp.rm(join(rootfs, d, n), { force: true });
      }
    }
    const tarball = join(dir, 'rootfs.tar');
    await run('tar', ['--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', rootfs, '-cf', tarball, '.']);
    const id = await importRootfs(store, createReadStream(tarball), {
      reference: formatReference(ref),
      config: { Cmd: ['bash'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      createdBy: `debootstrap --variant=${opts.variant ?? 'minbase'} ${suite} ${mirror}`,
    });
    return { id, reference: formatReference(ref) };
  } finally {
    await removeTree(dir);
  }
}
