// dock image commands (docker/cli cli/command/image): pull, push, ls, rm, tag, inspect, history,
// prune, save, load, import, bootstrap. The work is in src/engine/images and src/engine/registry.

import type { Command } from 'commander';
import { clientOpts, collect, group, progressFor, reportError, withStore } from './common';
import { renderFormat, renderFormatDeep } from './format';

// ---- pull / push ------------------------------------------------------------------------------

const pullCmd = (cmd: Command) =>
  cmd
    .argument('<image>', 'image reference, e.g. busybox, debian:bookworm, host:5000/app@sha256:...')
    .option('--platform <os/arch[/variant]>', 'platform to pull from a multi-platform image (default: this host)')
    .option('-q, --quiet', 'print only the image reference')
    .action(async (image: string, o: { platform?: string; quiet?: boolean }) => {
      const { pullImage } = await import('../../engine/images/pull');
      const { parsePlatform } = await import('../../engine/registry/manifest');
      const progress = await progressFor(o.quiet);
      await withStore(async (store) => {
        try {
          const r = await pullImage(store, image, { ...clientOpts(), platform: o.platform ? parsePlatform(o.platform) : undefined, progress });
          progress.close();
          process.stdout.write(o.quiet ? `${r.reference}\n` : `${r.reference}\n`);
        } finally {
          progress.close();
        }
      });
    });

const pushCmd = (cmd: Command) =>
  cmd
    .argument('<image>', 'local image name to push, e.g. localhost:5000/app:1')
    .option('-q, --quiet', 'print nothing but errors')
    .action(async (image: string, o: { quiet?: boolean }) => {
      const { pushImage } = await import('../../engine/images/push');
      const progress = await progressFor(o.quiet);
      await withStore(async (store) => {
        try {
          await pushImage(store, image, { ...clientOpts(), progress });
        } finally {
          progress.close();
        }
      });
    });

// ---- local images ------------------------------------------------------------------------------

const lsCmd = (cmd: Command) =>
  cmd
    .argument('[repository]', 'show only this repository (name or name:tag)')
    .option('-q, --quiet', 'only image ids')
    .option('-a, --all', 'all images (same as default: there are no intermediate images)')
    .option('--digests', 'show digests')
    .option('--no-trunc', 'do not truncate ids')
    .option('-f, --filter <filter>', 'filter: dangling=true|false, reference=<pattern>', collect, [])
    .option('--format <template>', 'Go-template-like format, e.g. "{{.Repository}}:{{.Tag}}" or "table {{.ID}}\\t{{.Size}}"')
    .action(async (repository: string | undefined, o: { quiet?: boolean; digests?: boolean; trunc: boolean; filter: string[]; format?: string }) => {
      const { imageRows, referencePattern } = await import('../../engine/images/inspect');
      await withStore(async (store) => {
        let rows = imageRows(store);
        for (const f of o.filter) {
          const [k, v] = f.split('=', 2);
          if (k === 'dangling') rows = rows.filter((r) => (r.Tag === '<none>') === (v === 'true'));
          else if (k === 'reference') {
            const re = referencePattern(v);
            rows = rows.filter((r) => re.test(r.Repository) || re.test(`${r.Repository}:${r.Tag}`));
          } else throw new (await import('../../engine/images/errors')).ImageError('EUSAGE', `unsupported filter "${k}"`);
        }
        if (repository) {
          const [repo, tag] = repository.includes(':') && !repository.endsWith(']') ? [repository.slice(0, repository.lastIndexOf(':')), repository.slice(repository.lastIndexOf(':') + 1)] : [repository, undefined];
          rows = rows.filter((r) => r.Repository === repo && (tag === undefined || r.Tag === tag));
        }
        const shortId = (id: string) => (o.trunc ? id.slice(7, 19) : id);
        if (o.quiet) {
          const ids = [...new Set(rows.map((r) => shortId(r.ID)))];
          process.stdout.write(ids.map((i) => i + '\n').join(''));
          return;
        }
        const shaped = rows.map((r) => ({ ...r, ID: shortId(r.ID) }));
        const format = o.format ?? `table {{.Repository}}\t{{.Tag}}${o.digests ? '\t{{.Digest}}' : ''}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
        process.stdout.write(renderFormat(format, shaped, { ID: 'IMAGE ID', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', Size: 'SIZE' }));
      });
    });

const rmiCmd = (cmd: Command) =>
  cmd
    .argument('<image...>', 'images to remove (names or ids)')
    .option('-f, --force', 'remove even if a container uses it, or it has several names')
    .option('--no-prune', 'do not delete unused content now')
    .action(async (images: string[], o: { force?: boolean; prune: boolean }) => {
      const { removeImage } = await import('../../engine/images/remove');
      await withStore(async (store) => {
        let failed: unknown = null;
        for (const img of images) {
          try {
            const r = await removeImage(store, img, { force: o.force, noPrune: !o.prune });
            for (const u of r.untagged) process.stdout.write(`Untagged: ${u}\n`);
            for (const d of r.deleted) process.stdout.write(`Deleted: ${d}\n`);
          } catch (err) {
            failed = err;
            reportError(err);
          }
        }
        if (failed) process.exitCode = 1;
      });
    });

const tagCmd = (cmd: Command) =>
  cmd
    .argument('<source>', 'existing image (name or id)')
    .argument('<target>', 'new name')
    .action(async (source: string, target: string) => {
      const { tagImage } = await import('../../engine/images/tag');
      await withStore(async (store) => void tagImage(store, source, target));
    });

const inspectCmd = (cmd: Command) =>
  cmd
    .argument('<image...>', 'images (names or ids)')
    .option('-f, --format <template>', 'format each result with a Go-template-like string')
    .action(async (images: string[], o: { format?: string }) => {
      const { inspectImage } = await import('../../engine/images/inspect');
      await withStore(async (store) => {
        const docs = [];
        for (const i of images) docs.push(await inspectImage(store, i));
        if (o.format) process.stdout.write(renderFormatDeep(o.format, docs));
        else process.stdout.write(JSON.stringify(docs, null, 4) + '\n');
      });
    });

const historyCmd = (cmd: Command) =>
  cmd
    .argument('<image>', 'image (name or id)')
    .option('-q, --quiet', 'only ids')
    .option('--no-trunc', 'do not truncate output')
    .option('-H, --human <bool>', 'human-readable sizes and dates', 'true')
    .option('--format <template>', 'Go-template-like format')
    .action(async (image: string, o: { quiet?: boolean; trunc: boolean; human: string; format?: string }) => {
      const { imageHistory, humanSize, timeAgo } = await import('../../engine/images/inspect');
      await withStore(async (store) => {
        const rows = await imageHistory(store, image);
        const human = o.human !== 'false';
        const shaped = rows.map((r) => ({
          ID: r.id === '<missing>' || !o.trunc ? r.id : r.id.slice(7, 19),
          CreatedSince: human ? timeAgo(r.created) : (r.created ?? ''),
          CreatedAt: r.created ?? '',
          CreatedBy: o.trunc && r.createdBy.length > 45 ? r.createdBy.slice(0, 44) + '…' : r.createdBy,
          Size: human ? humanSize(r.size) : String(r.size),
          Comment: r.comment,
        }));
        if (o.quiet) {
          process.stdout.write(shaped.map((r) => r.ID + '\n').join(''));
          return;
        }
        process.stdout.write(
          renderFormat(o.format ?? 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}', shaped, { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' }),
        );
      });
    });

const pruneCmd = (cmd: Command) =>
  cmd
    .option('-a, --all', 'remove all images not used by a container, not only dangling ones')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean; force?: boolean }) => {
      const { pruneImages } = await import('../../engine/images/remove');
      const { humanSize } = await import('../../engine/images/inspect');
      const { confirm, pruneCancelled } = await import('./common');
      const warning = o.all ? 'This will remove all images without at least one container associated to them.' : 'This will remove all dangling images.';
      if (!o.force && !(await confirm(warning))) return pruneCancelled('image');
      await withStore(async (store) => {
        const r = await pruneImages(store, { all: o.all });
        if (r.deleted.length) process.stdout.write('Deleted Images:\n' + r.deleted.map((d) => `deleted: ${d}\n`).join('') + '\n');
        process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed, 4)}\n`);
      });
    });

// ---- archives and rootfs imports -------------------------------------------------------------

const saveCmd = (cmd: Command) =>
  cmd
    .argument('<image...>', 'images to save (names or ids)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .option('--format <format>', 'docker (docker-archive + OCI layout, as docker save writes) or oci (OCI layout, stored blobs)', 'docker')
    .action(async (images: string[], o: { output?: string; format: string }) => {
      const { saveImages } = await import('../../engine/images/archive');
      const { ImageError } = await import('../../engine/images/errors');
      if (o.format !== 'docker' && o.format !== 'oci' && o.format !== 'docker-archive' && o.format !== 'oci-archive') throw new ImageError('EUSAGE', `unknown format "${o.format}": docker or oci`);
      if (!o.output && process.stdout.isTTY) throw new ImageError('EUSAGE', 'refusing to write an archive to a terminal: use -o FILE or a redirection');
      const { createWriteStream, renameSync, rmSync } = await import('node:fs');
      await withStore(async (store) => {
        const format = o.format.startsWith('oci') ? 'oci' : 'docker';
        if (o.output) {
          const tmp = `${o.output}.${process.pid}.tmp`;
          try {
            await saveImages(store, images, createWriteStream(tmp), format);
            renameSync(tmp, o.output);
          } finally {
            rmSync(tmp, { force: true });
          }
        } else await saveImages(store, images, process.stdout, format);
      });
    });

const loadCmd = (cmd: Command) =>
  cmd
    .option('-i, --input <file>', 'read from this file instead of standard input')
    .option('-q, --quiet', 'print only errors')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      const { loadImages } = await import('../../engine/images/archive');
      const { familiarReference, parseReference } = await import('../../engine/registry/reference');
      const { createReadStream } = await import('node:fs');
      await withStore(async (store) => {
        const loaded = await loadImages(store, o.input ? createReadStream(o.input) : process.stdin);
        if (o.quiet) return;
        for (const l of loaded) {
          if (l.tags.length) for (const t of l.tags) process.stdout.write(`Loaded image: ${familiarReference(parseReference(t))}\n`);
          else process.stdout.write(`Loaded image ID: ${l.id}\n`);
        }
      });
    });

const importCmd = (cmd: Command) =>
  cmd
    .argument('<file>', 'root filesystem tarball (plain, gzip or zstd), or - for standard input')
    .argument('[reference]', 'name for the image, e.g. myroot:1')
    .option('-m, --message <text>', 'commit message of the history entry')
    .option('-c, --change <instruction>', 'Dockerfile-like config change: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL (repeatable)', collect, [])
    .action(async (file: string, reference: string | undefined, o: { message?: string; change: string[] }) => {
      const { importRootfs } = await import('../../engine/images/import');
      const { createReadStream } = await import('node:fs');
      const config = parseChanges(o.change);
      await withStore(async (store) => {
        const id = await importRootfs(store, file === '-' ? process.stdin : createReadStream(file), { reference, message: o.message, config });
        process.stdout.write(`${id}\n`);
      });
    });

function parseChanges(changes: string[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  const list = (v: string) => (v.trim().startsWith('[') ? (JSON.parse(v) as string[]) : ['/bin/sh', '-c', v.trim()]);
  for (const c of changes) {
    const m = /^\s*(\w+)\s+(.*)$/s.exec(c);
    if (!m) throw new Error(`invalid --change "${c}"`);
    const [, op, arg] = m;
    switch (op.toUpperCase()) {
      case 'CMD':
        cfg.Cmd = list(arg);
        break;
      case 'ENTRYPOINT':
        cfg.Entrypoint = list(arg);
        break;
      case 'ENV':
        cfg.Env = [...((cfg.Env as string[]) ?? []), arg.includes('=') ? arg.trim() : arg.trim().replace(/\s+/, '=')];
        break;
      case 'WORKDIR':
        cfg.WorkingDir = arg.trim();
        break;
      case 'USER':
        cfg.User = arg.trim();
        break;
      case 'LABEL': {
        const [k, ...v] = arg.split('=');
        cfg.Labels = { ...((cfg.Labels as Record<string, string>) ?? {}), [k.trim()]: v.join('=').trim().replace(/^"|"$/g, '') };
        break;
      }
      default:
        throw new Error(`unsupported --change instruction "${op}"`);
    }
  }
  return cfg;
}


export function register(program: Command): void {
  pullCmd(program.command('pull').description('Download an image from a registry'));
  pushCmd(program.command('push').description('Upload an image to a registry'));
  lsCmd(program.command('images').description('List images'));
  rmiCmd(program.command('rmi').description('Remove images'));
  tagCmd(program.command('tag').description('Give an image another name'));
  historyCmd(program.command('history').description('Show the history of an image'));

  const image = group(program, 'image', 'Manage images');
  pullCmd(image.command('pull').description('Download an image from a registry'));
  pushCmd(image.command('push').description('Upload an image to a registry'));
  lsCmd(image.command('ls').alias('list').description('List images'));
  rmiCmd(image.command('rm').alias('remove').description('Remove images'));
  tagCmd(image.command('tag').description('Give an image another name'));
  inspectCmd(image.command('inspect').description('Show the details of images'));
  historyCmd(image.command('history').description('Show the history of an image'));
  pruneCmd(image.command('prune').description('Remove unused images'));
  saveCmd(image.command('save').description('Write images to a tar archive'));
  loadCmd(image.command('load').description('Read images from a tar archive'));
  importCmd(image.command('import').description('Make an image from a root filesystem tarball'));
  saveCmd(program.command('save').description('Write images to a tar archive'));
  loadCmd(program.command('load').description('Read images from a tar archive'));
  importCmd(program.command('import').description('Make an image from a root filesystem tarball'));
  image
    .command('bootstrap')
    .description('Make a Debian image with debootstrap, e.g. dock image bootstrap debian:bookworm')
    .argument('<reference>', 'image name; the tag is the Debian suite (bookworm, trixie, stable...)')
    .option('--mirror <url>', 'Debian archive (default: the one apt uses on this machine)')
    .option('--variant <variant>', 'debootstrap variant', 'minbase')
    .option('--include <packages>', 'extra packages, comma-separated')
    .option('-q, --quiet', 'do not show debootstrap output')
    .action(async (reference: string, o: { mirror?: string; variant: string; include?: string; quiet?: boolean }) => {
      const { bootstrapDebian } = await import('../../engine/images/bootstrap');
      await withStore(async (store) => {
        const r = await bootstrapDebian(store, reference, {
          mirror: o.mirror,
          variant: o.variant,
          include: o.include?.split(',').filter(Boolean),
          log: o.quiet ? undefined : (l) => process.stderr.write(l + '\n'),
        });
        process.stdout.write(`${r.id}\n`);
      });
    });

}
