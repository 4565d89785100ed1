// dock: the companion engine's command line. Argument parsing and output only; the work is done
// by src/engine. Errors print `dock: <what failed>: <why>` on stderr and exit non-zero.

import { Command } from 'commander';
import { readFileSync } from 'node:fs';

// Engine modules are loaded lazily by the commands that need them: start-up reads only this file.
type Store = import('../engine/store/store').ImageStore;

const program = new Command();
program
  .name('dock')
  .description('A container engine: images from OCI registries, containers run by the skiff runtime')
  .option('--root <dir>', 'engine state directory (env DOCK_ROOT)', undefined)
  .option('--config <dir>', 'directory of the Docker client config.json with registry credentials (env DOCKER_CONFIG)')
  .option('--insecure-registry <host>', 'allow plain HTTP and unverified TLS for this registry (repeatable; env DOCK_INSECURE_REGISTRIES)', collect, [])
  .option('--debug', 'print stack traces of errors')
  .enablePositionalOptions()
  .showHelpAfterError()
  .configureOutput({ outputError: (str, write) => write(str.startsWith('error:') ? `dock: ${str.slice(7)}` : str) });

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface Globals {
  root?: string;
  config?: string;
  insecureRegistry: string[];
  debug?: boolean;
}

function globals(): Globals {
  const g = program.opts<Globals>();
  if (g.config) process.env.DOCKER_CONFIG = g.config;
  return g;
}

async function openStore(): Promise<Store> {
  const { ImageStore, engineRoot } = await import('../engine/store/store');
  return ImageStore.open(engineRoot(globals().root));
}

async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore();
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

function clientOpts() {
  return { insecureRegistries: globals().insecureRegistry };
}

async function progressFor(quiet?: boolean) {
  const { defaultProgress } = await import('../engine/images/progress');
  return defaultProgress(quiet);
}

/** Go-template subset for --format: {{.Field}}, {{json .}}, {{json .Field}}, "table" header. */
function renderFormat(format: string, rows: Array<Record<string, unknown>>, headers: Record<string, string>): string {
  let tpl = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const table = tpl.startsWith('table');
  if (table) tpl = tpl.slice(5).trimStart();
  const render = (row: Record<string, unknown>, header: boolean) =>
    tpl.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_]*)\s*\}\}/g, (_m, json: string | undefined, field: string) => {
      if (header) return field ? (headers[field] ?? field.toUpperCase()) : '';
      const v = field ? row[field] : row;
      if (json) return JSON.stringify(v);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  const lines = rows.map((r) => render(r, false));
  if (table) lines.unshift(render({}, true));
  return lines.length ? (table ? columns(lines.map((l) => l.split('\t'))) : lines.join('\n')) + '\n' : '';
}

function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] + 3))).join('')).join('\n');
}

// ---- pull / push ------------------------------------------------------------------------------

const pullCmd = (cmd: Command) =>
  cmd
    .argument('<image>', 'image reference, e.g. busybox, debian:bookworm, host:5000/app@sha256:...')
    .option('--platform <os/arch[/variant]>', 'platform to pull from a multi-platform image (default: this host)')
    .option('-q, --quiet', 'print only the image reference')
    .action(async (image: string, o: { platform?: string; quiet?: boolean }) => {
      const { pullImage } = await import('../engine/images/pull');
      const { parsePlatform } = await import('../engine/registry/manifest');
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
      const { pushImage } = await import('../engine/images/push');
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
      const { imageRows } = await import('../engine/images/inspect');
      await withStore(async (store) => {
        let rows = imageRows(store);
        for (const f of o.filter) {
          const [k, v] = f.split('=', 2);
          if (k === 'dangling') rows = rows.filter((r) => (r.Tag === '<none>') === (v === 'true'));
          else if (k === 'reference') {
            const re = new RegExp('^' + v.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.') + '$');
            rows = rows.filter((r) => re.test(r.Repository) || re.test(`${r.Repository}:${r.Tag}`));
          } else throw new (await import('../engine/images/errors')).ImageError('EUSAGE', `unsupported filter "${k}"`);
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
      const { removeImage } = await import('../engine/images/remove');
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
      const { findImage } = await import('../engine/images/lookup');
      const { parseReference, formatReference } = await import('../engine/registry/reference');
      await withStore(async (store) => {
        const { image } = findImage(store, source);
        const ref = parseReference(target);
        if (ref.digest) throw new (await import('../engine/images/errors')).ImageError('EUSAGE', `cannot tag with a digest: ${target}`);
        store.tag(image.id, formatReference(ref));
      });
    });

const inspectCmd = (cmd: Command) =>
  cmd
    .argument('<image...>', 'images (names or ids)')
    .option('-f, --format <template>', 'format each result with a Go-template-like string')
    .action(async (images: string[], o: { format?: string }) => {
      const { inspectImage } = await import('../engine/images/inspect');
      await withStore(async (store) => {
        const docs = [];
        for (const i of images) docs.push(await inspectImage(store, i));
        if (o.format) process.stdout.write(renderFormat(o.format, docs, {}));
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
      const { imageHistory, humanSize, timeAgo } = await import('../engine/images/inspect');
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
    .option('-f, --force', 'do not ask for confirmation (dock never asks)')
    .action(async (o: { all?: boolean }) => {
      const { pruneImages } = await import('../engine/images/remove');
      const { humanSize } = await import('../engine/images/inspect');
      await withStore(async (store) => {
        const r = await pruneImages(store, { all: o.all });
        if (r.deleted.length) process.stdout.write('Deleted Images:\n' + r.deleted.map((d) => `deleted: ${d}\n`).join('') + '\n');
        process.stdout.write(`Total reclaimed space: ${humanSize(r.reclaimed)}\n`);
      });
    });

// ---- archives and rootfs imports -------------------------------------------------------------

const saveCmd = (cmd: Command) =>
  cmd
    .argument('<image...>', 'images to save (names or ids)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .option('--format <format>', 'docker (docker-archive + OCI layout, as docker save writes) or oci (OCI layout, stored blobs)', 'docker')
    .action(async (images: string[], o: { output?: string; format: string }) => {
      const { saveImages } = await import('../engine/images/archive');
      const { ImageError } = await import('../engine/images/errors');
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
      const { loadImages } = await import('../engine/images/archive');
      const { familiarReference, parseReference } = await import('../engine/registry/reference');
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
      const { importRootfs } = await import('../engine/images/import');
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

// ---- login / logout -------------------------------------------------------------------------

program
  .command('login')
  .description('Log in to a registry (credentials stored in the Docker config.json)')
  .argument('[server]', 'registry host[:port]', 'docker.io')
  .option('-u, --username <name>', 'user name')
  .option('-p, --password <password>', 'password (prefer --password-stdin)')
  .option('--password-stdin', 'read the password from standard input')
  .action(async (server: string, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
    const { RegistryClient } = await import('../engine/registry/client');
    const { storeCredentials, dockerConfigPath } = await import('../engine/registry/auth');
    const { ImageError } = await import('../engine/images/errors');
    const domain = registryDomain(server);
    let password = o.password;
    if (o.passwordStdin) {
      if (password) throw new ImageError('EUSAGE', '--password and --password-stdin are mutually exclusive');
      password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    }
    if (!o.username || password === undefined) throw new ImageError('EUSAGE', 'login needs --username and --password or --password-stdin');
    globals();
    const creds = { username: o.username, password };
    await new RegistryClient(domain, { ...clientOpts(), credentials: creds }).login();
    storeCredentials(domain, creds);
    process.stderr.write(`WARNING! Your password will be stored unencrypted in ${dockerConfigPath()}.\n`);
    process.stdout.write('Login Succeeded\n');
  });

program
  .command('logout')
  .description('Remove the stored credentials of a registry')
  .argument('[server]', 'registry host[:port]', 'docker.io')
  .action(async (server: string) => {
    const { removeCredentials } = await import('../engine/registry/auth');
    globals();
    const domain = registryDomain(server);
    if (removeCredentials(domain)) process.stdout.write(`Removing login credentials for ${domain}\n`);
    else process.stdout.write(`Not logged in to ${domain}\n`);
  });

function registryDomain(server: string): string {
  const s = server.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  return s === 'index.docker.io' || s === 'registry-1.docker.io' ? 'docker.io' : s;
}

// ---- wiring: top-level verbs and the `image` group ------------------------------------------

pullCmd(program.command('pull').description('Download an image from a registry'));
pushCmd(program.command('push').description('Upload an image to a registry'));
lsCmd(program.command('images').description('List images'));
rmiCmd(program.command('rmi').description('Remove images'));
tagCmd(program.command('tag').description('Give an image another name'));
historyCmd(program.command('history').description('Show the history of an image'));

const image = program.command('image').description('Manage images');
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
    const { bootstrapDebian } = await import('../engine/images/bootstrap');
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

// ---- build (src/engine/build) -------------------------------------------------------------------

const buildCmd = (cmd: Command) =>
  cmd
    .argument('<context>', 'build context directory, or - for a Dockerfile on stdin (no context)')
    .option('-t, --tag <name:tag>', 'name the image (repeatable)', collect, [])
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile; - for stdin)')
    .option('--build-arg <key=value>', 'build-time variable (repeatable; KEY alone takes it from the environment)', collect, [])
    .option('--target <stage>', 'build this stage and what it needs')
    .option('--no-cache', 'do not use the build cache')
    .option('--platform <os/arch>', 'platform of the image')
    .option('--label <key=value>', 'set a label on the image (repeatable)', collect, [])
    .option('-q, --quiet', 'print only the image id')
    .option('--iidfile <file>', 'write the image id to this file')
    .action(async (context: string, o: { tag: string[]; file?: string; buildArg: string[]; target?: string; cache: boolean; platform?: string; label: string[]; quiet?: boolean; iidfile?: string }) => {
      const { build } = await import('../engine/build/builder');
      const { BuildError } = await import('../engine/build/errors');
      const { openRuntime } = await import('../runtime/runtime');
      const { join, resolve } = await import('node:path');
      const { rmSync, writeFileSync } = await import('node:fs');
      const kv = (list: string[], what: string, fromEnv: boolean) => {
        const out: Record<string, string> = {};
        for (const s of list) {
          const i = s.indexOf('=');
          if (i > 0) out[s.slice(0, i)] = s.slice(i + 1);
          else if (fromEnv && i < 0 && s) {
            if (process.env[s] !== undefined) out[s] = process.env[s]!;
          } else throw new BuildError('EUSAGE', `invalid ${what} "${s}": KEY=VALUE expected`);
        }
        return out;
      };
      const stdinBytes = async () => {
        const chunks: Buffer[] = [];
        for await (const c of process.stdin) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      };
      // "-": a tar archive on stdin is the context (its Dockerfile inside, or -f there); any other
      // text is the Dockerfile, with no context.
      let contextDir: string | null = context === '-' ? null : resolve(context);
      let dockerfilePath: string | undefined;
      let text: string;
      let unpacked: string | undefined;
      if (context === '-') {
        const { contextArchiveKind, extractContextArchive } = await import('../engine/build/context');
        const input = await stdinBytes();
        const kind = contextArchiveKind(input.subarray(0, 512));
        if (kind !== null) {
          contextDir = unpacked = extractContextArchive(input, kind);
          dockerfilePath = join(unpacked, o.file ?? 'Dockerfile');
        } else {
          if (o.file && o.file !== '-') throw new BuildError('EUSAGE', 'with a Dockerfile on stdin ("-") there is no context: -f cannot be used');
          text = input.toString('utf8');
        }
      } else if (o.file === '-') text = (await stdinBytes()).toString('utf8');
      else dockerfilePath = resolve(o.file ?? join(contextDir!, 'Dockerfile'));
      if (dockerfilePath) {
        try {
          text = readFileSync(dockerfilePath, 'utf8');
        } catch {
          if (unpacked) rmSync(unpacked, { recursive: true, force: true });
          throw new BuildError('ECONTEXT', `cannot read the Dockerfile ${dockerfilePath}: no such file`);
        }
      }
      const say = (s: string) => {
        if (!o.quiet) process.stdout.write(s + '\n');
      };
      try {
        await withStore(async (store) => {
          const rt = openRuntime({ root: join(store.root, 'build', 'runtime'), debug: globals().debug });
          let builder: import('../engine/build/builder').Builder | undefined;
          const stop = () => builder?.cancel();
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
          try {
            const r = await build(
              store,
              rt,
              {
                root: store.root,
                contextDir,
                dockerfile: text!,
                dockerfilePath,
                tags: o.tag,
                buildArgs: kv(o.buildArg, '--build-arg', true),
                target: o.target,
                noCache: !o.cache,
                platform: o.platform,
                labels: kv(o.label, '--label', false),
                registry: clientOpts(),
                output: {
                  step: (label, t, cached) => say(`${cached ? 'CACHED ' : ''}${label} ${t}`),
                  line: (label, t) => say(`${label} | ${t}`),
                  info: (t) => say(t),
                  warn: (t) => process.stderr.write(`dock: warning: ${t}\n`),
                },
              },
              (b) => (builder = b),
            );
            if (o.iidfile) writeFileSync(o.iidfile, r.id);
            say(`writing image ${r.id}`);
            for (const t of r.tags) say(`naming to ${t}`);
            if (o.quiet) process.stdout.write(r.id + '\n');
          } catch (e) {
            if (e instanceof BuildError && e.code === 'ERUN' && e.exitCode) {
              reportError(e);
              process.exitCode = Math.min(255, e.exitCode);
              return;
            }
            throw e;
          } finally {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
          }
        });
      } finally {
        if (unpacked) rmSync(unpacked, { recursive: true, force: true });
      }
    });
buildCmd(program.command('build').description('Build an image from a Dockerfile'));
buildCmd(image.command('build').description('Build an image from a Dockerfile'));
program
  .command('builder')
  .description('Manage the build cache')
  .command('prune')
  .description('Remove the build cache (and the layers only it kept)')
  .option('-a, --all', 'everything (the default: dock has no other kind of build cache)')
  .option('--filter <until=DURATION>', 'only entries unused for that long, e.g. until=24h')
  .option('-f, --force', 'do not ask for confirmation (dock never asks)')
  .action(async (o: { filter?: string }) => {
    const { pruneBuildCache } = await import('../engine/build/prune');
    const { parseDuration } = await import('../engine/build/stage');
    const { BuildError } = await import('../engine/build/errors');
    const { humanSize } = await import('../engine/images/inspect');
    let olderThanMs: number | undefined;
    if (o.filter) {
      const m = /^until=(.+)$/.exec(o.filter);
      if (!m) throw new BuildError('EUSAGE', `unsupported filter "${o.filter}": until=DURATION`);
      olderThanMs = parseDuration(m[1], 'until') / 1e6;
    }
    await withStore(async (store) => {
      const r = await pruneBuildCache(store, { olderThanMs });
      process.stdout.write(`Deleted build cache entries: ${r.entries}\nDeleted cache mounts: ${r.cacheMounts}\nTotal reclaimed space: ${humanSize(r.bytes)}\n`);
    });
  });

// ---- containers ---------------------------------------------------------------------------------
// The work is in src/engine/containers and src/engine/volumes; here: flags, output, exit codes.

type Engine = import('../engine/containers/engine').Engine;

async function withEngine<T>(fn: (e: Engine) => Promise<T>): Promise<T> {
  const { openEngine } = await import('../engine/containers/engine');
  const engine = await openEngine(globals().root, { debug: globals().debug });
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}

const runFlags = (cmd: Command) =>
  cmd
    .option('--name <name>', 'name of the container')
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-v, --volume <spec>', 'bind mount or volume: SRC:DST[:ro,rw,shared,...], NAME:DST, or DST (repeatable)', collect, [])
    .option('--mount <spec>', 'type=bind|volume|tmpfs,source=...,target=...[,readonly] (repeatable)', collect, [])
    .option('--tmpfs <spec>', 'tmpfs mount: DST[:OPTIONS] (repeatable)', collect, [])
    .option('--volumes-from <container[:ro|rw]>', 'mount the volumes of another container (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid (and group) to run as')
    .option('--entrypoint <cmd>', "override the image's entrypoint")
    .option('-h, --hostname <name>', 'container host name')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 512m')
    .option('--memory-swap <bytes>', 'memory plus swap limit; -1 for unlimited swap')
    .option('--cpus <number>', 'number of CPUs, e.g. 0.5')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs allowed, e.g. 0-1')
    .option('--pids-limit <n>', 'process limit (-1 for unlimited)')
    .option('--device <host[:ctr[:rwm]]>', 'add a host device (repeatable)', collect, [])
    .option('--cap-add <cap>', 'add a capability (repeatable; ALL)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability (repeatable; ALL)', collect, [])
    .option('--privileged', 'all capabilities, all devices, no seccomp, writable /sys')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--security-opt <opt>', 'seccomp=FILE|unconfined, no-new-privileges (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'resource limit (repeatable)', collect, [])
    .option('--init', "run an init inside the container that forwards signals and reaps processes")
    .option('--restart <policy>', 'no, on-failure[:N], always, unless-stopped', 'no')
    .option('--health-cmd <cmd>', 'command to check health (run with /bin/sh -c)')
    .option('--health-interval <duration>', 'time between checks (default 30s)')
    .option('--health-timeout <duration>', 'maximum time for one check (default 30s)')
    .option('--health-retries <n>', 'consecutive failures before unhealthy (default 3)')
    .option('--health-start-period <duration>', 'start-up time during which failures do not count')
    .option('--no-healthcheck', "disable the image's health check")
    .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [])
    .option('--stop-signal <signal>', 'signal to stop the container (default SIGTERM)')
    .option('--stop-timeout <seconds>', 'seconds to wait before SIGKILL on stop (default 10)')
    .option('--network <mode>', 'bridge, a network name, none, host or container:NAME (default: none, or $DOCK_DEFAULT_NETWORK)')
    .option('-p, --publish <spec>', 'publish a port: [hostIP:][hostPort:]containerPort[/tcp|udp] (repeatable; ranges too)', collect, [])
    .option('-P, --publish-all', "publish every port the image EXPOSEs on a free host port")
    .option('--network-alias <name>', 'another DNS name of the container on its user-defined network (repeatable)', collect, [])
    .option('--add-host <name:ip>', 'an /etc/hosts line; ip may be host-gateway (repeatable)', collect, [])
    .option('--dns <ip>', 'DNS server for the container (repeatable)', collect, [])
    .option('--log-opt <key=value>', 'json-file log options: max-size, max-file (repeatable)', collect, [])
    .argument('<image>', 'image name or id')
    .argument('[command...]', 'command and arguments')
    .passThroughOptions();

type RunOpts = import('../engine/containers/config').RunFlags & { healthcheck?: boolean; d?: boolean; detach?: boolean };

function toFlags(o: RunOpts & Record<string, unknown>): import('../engine/containers/config').RunFlags {
  return { ...o, noHealthcheck: o.healthcheck === false };
}

/** Foreground: attach (claiming the exit), start, wait, then handle the exit here. */
async function runForeground(engine: Engine, doc: import('../engine/containers/types').ContainerDoc, opts: { stdin: boolean }): Promise<number> {
  const { startContainer } = await import('../engine/containers/start');
  const { attach } = await import('../engine/containers/attach');
  const { handleExit } = await import('../engine/containers/exit');
  const { containerDir } = await import('../engine/containers/paths');
  const { kill: runtimeKill } = await import('../runtime/kill');
  const { parseSignal } = await import('../runtime/signals');
  const dir = containerDir(engine.paths, doc.Id);
  let session: Promise<{ exitCode: number | null }> | undefined;
  const started = await startContainer(engine, doc, {
    beforeStart: () =>
      new Promise<void>((ready, fail) => {
        session = attach(dir, { stdin: opts.stdin, stdout: true, stderr: true, claim: true, stdinOnce: doc.Config.StdinOnce, tty: doc.Config.Tty, onReady: ready });
        session.catch(fail);
      }),
  });
  // --sig-proxy: our signals go to the container (with a tty, ^C reaches it through the terminal).
  const proxy = (s: NodeJS.Signals) => {
    try {
      runtimeKill(engine.rt, doc.Id, parseSignal(s));
    } catch {
      /* not running */
    }
  };
  const sigs: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  for (const s of sigs) process.on(s, proxy);
  const r = await session!;
  for (const s of sigs) process.off(s, proxy);
  if (r.exitCode === null) return 0; // detached (ctrl-p ctrl-q): the container runs on
  await handleExit(engine, doc.Id, started.State.Pid);
  return r.exitCode;
}

const runCmd = (cmd: Command) =>
  runFlags(cmd)
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .action(async (image: string, command: string[], o: RunOpts & Record<string, unknown>) => {
      const { createContainer } = await import('../engine/containers/create');
      const { startContainer } = await import('../engine/containers/start');
      await withEngine(async (engine) => {
        let doc;
        try {
          doc = await createContainer(engine, image, toFlags(o), command);
        } catch (e) {
          throw withRunExitCode(e);
        }
        try {
          if (o.detach) {
            await startContainer(engine, doc);
            process.stdout.write(`${doc.Id}\n`);
            return;
          }
          process.exitCode = await runForeground(engine, doc, { stdin: !!o.interactive });
        } catch (e) {
          // A container that could not start is not kept with --rm (Docker does the same).
          if (o.rm) await (await import('../engine/containers/remove')).removeContainer(engine, doc, { force: true, volumes: true }).catch(() => undefined);
          throw withRunExitCode(e);
        }
      });
    });

/**
 * docker run's exit statuses for its own failures: 127 when the command is not found, 126 when it
 * cannot be executed, 125 for any other error of the engine (the container's own status otherwise).
 */
function withRunExitCode(e: unknown): unknown {
  const msg = (e as Error)?.message ?? '';
  const code = /executable file not found|exec .*: no such file or directory/.test(msg) ? 127 : /exec .*: (permission denied|is a directory)/.test(msg) ? 126 : 125;
  if (e && typeof e === 'object') Object.assign(e, { dockExit: code });
  return e;
}

const createCmd = (cmd: Command) =>
  runFlags(cmd).action(async (image: string, command: string[], o: RunOpts & Record<string, unknown>) => {
    const { createContainer } = await import('../engine/containers/create');
    await withEngine(async (engine) => {
      const doc = await createContainer(engine, image, { ...toFlags(o), detach: true }, command);
      process.stdout.write(`${doc.Id}\n`);
    });
  });

/** Runs `fn` for each named container, reporting errors one by one (Docker's multi-target verbs). */
async function eachContainer(names: string[], fn: (e: Engine, d: import('../engine/containers/types').ContainerDoc, name: string) => Promise<void>): Promise<void> {
  await withEngine(async (engine) => {
    for (const n of names) {
      try {
        await fn(engine, engine.containers.find(n), n);
      } catch (err) {
        reportError(err);
        process.exitCode = 1;
      }
    }
  });
}

const startCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers to start')
    .option('-a, --attach', 'attach standard output and error and wait for the exit')
    .option('-i, --interactive', "attach the container's standard input")
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean }) => {
      const { startContainer } = await import('../engine/containers/start');
      if (o.attach || o.interactive) {
        await withEngine(async (engine) => {
          const doc = engine.containers.find(names[0]);
          process.exitCode = await runForeground(engine, doc, { stdin: !!o.interactive && doc.Config.OpenStdin });
        });
        return;
      }
      await eachContainer(names, async (engine, doc, name) => {
        await startContainer(engine, doc);
        process.stdout.write(`${name}\n`);
      });
    });

const stopCmd = (cmd: Command, restart = false) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('-s, --signal <signal>', 'signal to send (default: the stop signal of the container)')
    .action(async (names: string[], o: { time?: string; signal?: string }) => {
      const { stopContainer, restartContainer } = await import('../engine/containers/stop');
      const t = o.time === undefined ? undefined : Number(o.time);
      if (t !== undefined && !Number.isInteger(t)) throw new (await import('../engine/containers/errors')).ContainerError('EUSAGE', `invalid value "${o.time}" for --time: an integer`);
      await eachContainer(names, async (engine, doc, name) => {
        const d = o.signal ? { ...doc, Config: { ...doc.Config, StopSignal: o.signal } } : doc;
        if (restart) await restartContainer(engine, d, t);
        else await stopContainer(engine, d, t);
        process.stdout.write(`${name}\n`);
      });
    });

const killCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .action(async (names: string[], o: { signal: string }) => {
      const { killContainer } = await import('../engine/containers/stop');
      await eachContainer(names, async (engine, doc, name) => {
        killContainer(engine, doc, o.signal);
        process.stdout.write(`${name}\n`);
      });
    });

const rmCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-f, --force', 'kill and remove a running container')
    .option('-v, --volumes', 'remove the anonymous volumes of the container')
    .action(async (names: string[], o: { force?: boolean; volumes?: boolean }) => {
      const { removeContainer } = await import('../engine/containers/remove');
      await eachContainer(names, async (engine, doc, name) => {
        await removeContainer(engine, doc, { force: o.force, volumes: o.volumes });
        process.stdout.write(`${name}\n`);
      });
    });

const psCmd = (cmd: Command) =>
  cmd
    .option('-a, --all', 'show all containers (default: running ones)')
    .option('-q, --quiet', 'only ids')
    .option('-f, --filter <key=value>', 'filter: status, name, id, label, exited, ancestor, volume, health, network (repeatable)', collect, [])
    .option('--format <template>', 'Go-template-like format, e.g. "{{.Names}} {{.Status}}" or "table {{.ID}}\\t{{.Names}}"')
    .option('--no-trunc', 'do not truncate output')
    .option('-n, --last <n>', 'show the n last created containers (all states)')
    .option('-l, --latest', 'show the latest created container (all states)')
    .action(async (o: { all?: boolean; quiet?: boolean; filter: string[]; format?: string; trunc: boolean; last?: string; latest?: boolean }) => {
      const { psRows } = await import('../engine/containers/inspect');
      await withEngine(async (engine) => {
        const n = o.latest ? 1 : o.last !== undefined ? Number(o.last) : undefined;
        let rows = psRows(engine, { all: o.all || n !== undefined, filters: o.filter, noTrunc: !o.trunc });
        if (n !== undefined && n >= 0) rows = rows.slice(0, n);
        if (o.quiet) {
          process.stdout.write(rows.map((r) => r.ID + '\n').join(''));
          return;
        }
        const format = o.format ?? 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
        const out = renderFormat(format, rows, { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Status: 'STATUS', State: 'STATE', Ports: 'PORTS', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS' });
        process.stdout.write(out || (format.startsWith('table') ? renderFormat(format, [], {}) : ''));
      });
    });

const logsCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('-f, --follow', 'follow the log output')
    .option('-n, --tail <n>', 'number of lines from the end ("all")', 'all')
    .option('--since <time>', 'from this time (timestamp, unix time, or duration ago like 10m)')
    .option('--until <time>', 'up to this time')
    .option('-t, --timestamps', 'show timestamps')
    .action(async (name: string, o: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
      const { streamLogs } = await import('../engine/containers/logs');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        await streamLogs(engine, doc, o);
      });
    });

const execCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('<command...>', 'command and arguments')
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-d, --detach', 'run in the background')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'user name or uid (and group)')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--privileged', 'all capabilities for this process')
    .passThroughOptions()
    .action(async (name: string, command: string[], o: { interactive?: boolean; tty?: boolean; detach?: boolean; env: string[]; user?: string; workdir?: string; privileged?: boolean }) => {
      const { execInContainer } = await import('../engine/containers/exec');
      if (o.detach && !process.env.DOCK_EXEC_STDIO_DETACHED) {
        // The process must not keep our stdio (a caller reading our output would wait for it):
        // the exec is made by a copy of dock whose stdio is /dev/null, which returns once it ran.
        // Its errors come back through an unlinked temporary file (the process's own stderr goes
        // there too, and the space is freed when it exits).
        const { spawnSync } = await import('node:child_process');
        const fs = await import('node:fs');
        const { tmpdir } = await import('node:os');
        const errPath = `${tmpdir()}/dock-exec-${process.pid}.err`;
        const errFd = fs.openSync(errPath, 'w+', 0o600);
        fs.unlinkSync(errPath);
        try {
          const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, DOCK_EXEC_STDIO_DETACHED: '1' } });
          const size = fs.fstatSync(errFd).size;
          if (size) {
            const buf = Buffer.alloc(size);
            fs.readSync(errFd, buf, 0, size, 0);
            process.stderr.write(buf);
          }
          process.exitCode = r.status ?? 1;
        } finally {
          fs.closeSync(errFd);
        }
        return;
      }
      if (!o.interactive && !o.detach && !process.env.DOCK_EXEC_STDIO_DETACHED && !stdinIsDevNull()) {
        // Without -i the process must not read our standard input (a `while read` loop calling
        // dock exec would lose its lines): a copy of dock runs it with /dev/null as stdin.
        const { spawn } = await import('node:child_process');
        const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...process.argv.slice(2)], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DOCK_EXEC_STDIO_DETACHED: '1' } });
        const forward = (sig: NodeJS.Signals) => child.kill(sig);
        for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward);
        process.exitCode = await new Promise<number>((res) => child.on('close', (c, sig) => res(c ?? 128 + ((sig && (require('node:os').constants.signals as Record<string, number>)[sig]) || 0))));
        return;
      }
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        process.exitCode = await execInContainer(engine, doc, command, o);
      });
    });

function stdinIsDevNull(): boolean {
  try {
    const { fstatSync, statSync } = require('node:fs') as typeof import('node:fs');
    const a = fstatSync(0);
    const b = statSync('/dev/null');
    return a.isCharacterDevice() && a.rdev === b.rdev;
  } catch {
    return true; // no stdin at all
  }
}

const attachCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('--no-stdin', 'do not attach standard input')
    .action(async (name: string, o: { stdin: boolean }) => {
      const { attach } = await import('../engine/containers/attach');
      const { containerDir } = await import('../engine/containers/paths');
      const { liveState } = await import('../engine/containers/status');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        const s = liveState(engine, doc).status;
        if (s !== 'running' && s !== 'paused') throw new (await import('../engine/containers/errors')).ContainerError('ESTATE', `you cannot attach to a stopped container, start it first`);
        const r = await attach(containerDir(engine.paths, doc.Id), { stdin: o.stdin && doc.Config.OpenStdin, stdout: true, stderr: true, tty: doc.Config.Tty });
        if (r.exitCode !== null) process.exitCode = r.exitCode;
      });
    });

const inspectContainersCmd = (cmd: Command, withImages: boolean) =>
  cmd
    .argument('<name...>', withImages ? 'containers or images' : 'containers')
    .option('-f, --format <template>', 'format each result with a Go-template-like string')
    .option('--type <type>', 'container or image (default: container, then image)')
    .action(async (names: string[], o: { format?: string; type?: string }) => {
      const { inspectContainer } = await import('../engine/containers/inspect');
      const { inspectImage } = await import('../engine/images/inspect');
      await withEngine(async (engine) => {
        const docs: unknown[] = [];
        for (const n of names) {
          try {
            if (o.type !== 'image') {
              try {
                docs.push(inspectContainer(engine, engine.containers.find(n)));
                continue;
              } catch (e) {
                if (!withImages || o.type === 'container' || (e as { code?: string }).code !== 'ENOTFOUND') throw e;
              }
            }
            docs.push(await inspectImage(engine.images, n));
          } catch (err) {
            reportError(withImages && (err as { code?: string }).code === 'ENOIMAGE' ? Object.assign(new Error(`no such object: ${n}`), { domain: 'container' }) : err);
            process.exitCode = 1;
          }
        }
        if (o.format) process.stdout.write(renderFormatDeep(o.format, docs as Array<Record<string, unknown>>));
        else process.stdout.write(JSON.stringify(docs, null, 4) + '\n');
      });
    });

/** --format for inspect: {{.State.Status}}, {{json .Config.Env}}, nested fields. */
function renderFormatDeep(format: string, docs: Array<Record<string, unknown>>): string {
  const tpl = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  return docs
    .map(
      (d) =>
        tpl.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g, (_m, json: string | undefined, path: string) => {
          let v: unknown = d;
          for (const k of path.split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
          if (json) return JSON.stringify(v ?? null);
          return v === undefined || v === null ? '<no value>' : typeof v === 'object' ? JSON.stringify(v) : String(v);
        }) + '\n',
    )
    .join('');
}

const topCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('[ps-options...]', 'options for ps (default -ef)')
    .passThroughOptions()
    .action(async (name: string, psArgs: string[]) => {
      const { topContainer } = await import('../engine/containers/top');
      await withEngine(async (engine) => {
        const rows = topContainer(engine, engine.containers.find(name), psArgs);
        process.stdout.write(columns(rows) + '\n');
      });
    });

const statsCmd = (cmd: Command) =>
  cmd
    .argument('[container...]', 'containers (default: all running)')
    .option('--no-stream', 'print one sample and exit')
    .option('--format <template>', 'Go-template-like format')
    .option('-a, --all', 'all containers (default: running ones)')
    .action(async (names: string[], o: { stream: boolean; format?: string; all?: boolean }) => {
      const { sampleStats } = await import('../engine/containers/top');
      const { humanSize } = await import('../engine/images/inspect');
      await withEngine(async (engine) => {
        const docs = names.length ? names.map((n) => engine.containers.find(n)) : engine.containers.list();
        const ncpu = (await import('node:os')).cpus().length;
        let prev = new Map(docs.map((d) => [d.Id, sampleStats(engine, d)]));
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const rows: Array<Record<string, unknown>> = [];
          const next = new Map<string, ReturnType<typeof sampleStats>>();
          for (const d of docs) {
            const s = sampleStats(engine, d);
            next.set(d.Id, s);
            const p = prev.get(d.Id);
            if (!s && !o.all && !names.length) continue;
            const cpu = s && p ? ((s.cpuNs - p.cpuNs) / (s.at - p.at)) * 100 : 0;
            rows.push({
              ID: d.Id.slice(0, 12),
              Container: d.Id.slice(0, 12),
              Name: d.Name,
              CPUPerc: `${(s ? Math.max(0, cpu) : 0).toFixed(2)}%`,
              MemUsage: s ? `${humanSize(s.memUsage)} / ${humanSize(s.memLimit)}` : '0B / 0B',
              MemPerc: s && s.memLimit ? `${((s.memUsage / s.memLimit) * 100).toFixed(2)}%` : '0.00%',
              NetIO: '0B / 0B',
              BlockIO: s ? `${humanSize(s.blkRead)} / ${humanSize(s.blkWrite)}` : '0B / 0B',
              PIDs: String(s?.pids ?? 0),
              CPUs: ncpu,
            });
          }
          const format = o.format ?? 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
          const text = renderFormat(format, rows, { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' });
          if (o.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          process.stdout.write(text);
          if (!o.stream) return;
          prev = next;
        }
      });
    });

const waitCmd = (cmd: Command) =>
  cmd.argument('<container...>', 'containers').action(async (names: string[]) => {
    const { waitContainer } = await import('../engine/containers/stop');
    await eachContainer(names, async (engine, doc) => {
      process.stdout.write(`${await waitContainer(engine, doc)}\n`);
    });
  });

const pauseCmd = (cmd: Command, pause: boolean) =>
  cmd.argument('<container...>', 'containers').action(async (names: string[]) => {
    const { pauseContainer } = await import('../engine/containers/stop');
    await eachContainer(names, async (engine, doc, name) => {
      pauseContainer(engine, doc, pause);
      process.stdout.write(`${name}\n`);
    });
  });

const renameCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('<new-name>', 'new name')
    .action(async (name: string, newName: string) => {
      const { ContainerError } = await import('../engine/containers/errors');
      if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(newName)) throw new ContainerError('EUSAGE', `invalid container name "${newName}"`);
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        engine.containers.rename(doc.Id, newName.replace(/^\//, ''));
      });
    });

const cpCmd = (cmd: Command) =>
  cmd
    .argument('<src>', 'CONTAINER:PATH, a host path, or - (a tar stream on standard input)')
    .argument('<dest>', 'CONTAINER:PATH, a host path, or - (a tar stream on standard output)')
    .action(async (src: string, dest: string) => {
      const { copyFromContainer, copyToContainer } = await import('../engine/containers/copy');
      const { ContainerError } = await import('../engine/containers/errors');
      const { spawn } = await import('node:child_process');
      const { existsSync, statSync } = await import('node:fs');
      const path = await import('node:path');
      const split = (s: string) => {
        const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(s);
        return m && !s.startsWith('/') && !s.startsWith('.') ? { ctr: m[1], path: m[2] || '/' } : null;
      };
      const from = split(src);
      const to = split(dest);
      if (!!from === !!to) throw new ContainerError('EUSAGE', 'copying between containers or between host paths is not supported: one side must be CONTAINER:PATH');
      await withEngine(async (engine) => {
        if (from) {
          const doc = engine.containers.find(from.ctr);
          if (dest === '-') return copyFromContainer(engine, doc, from.path, process.stdout);
          const target = path.resolve(dest);
          const intoDir = existsSync(target) && statSync(target).isDirectory();
          const dir = intoDir ? target : path.dirname(target);
          if (!existsSync(dir)) throw new ContainerError('ENOTFOUND', `destination directory ${dir} does not exist`);
          const args = ['-x', '-f', '-', '-C', dir];
          const base = path.basename(from.path.replace(/\/+$/, '')) || '.';
          if (!intoDir) args.push(`--transform=s,^${base.replace(/[,\\^$.*[\]]/g, '\\$&')},${path.basename(target).replace(/[,&\\]/g, '\\$&')},`);
          const tar = spawn('tar', args, { stdio: ['pipe', 'inherit', 'inherit'] });
          const done = new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1)));
          await copyFromContainer(engine, doc, from.path, tar.stdin!);
          tar.stdin!.end();
          if ((await done) !== 0) throw new ContainerError('EUSAGE', 'extracting the copy failed');
          return;
        }
        const doc = engine.containers.find(to!.ctr);
        if (src === '-') return copyToContainer(engine, doc, to!.path, process.stdin);
        const abs = path.resolve(src);
        if (!existsSync(abs)) throw new ContainerError('ENOTFOUND', `could not find the file ${src}`);
        const tar = spawn('tar', ['-c', '-f', '-', '-C', path.dirname(abs), path.basename(abs)], { stdio: ['ignore', 'pipe', 'inherit'] });
        await copyToContainer(engine, doc, to!.path, tar.stdout!);
      });
    });

const portCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('[port]', 'a private port, PORT[/PROTO]: print only its host addresses')
    .action(async (name: string, port: string | undefined) => {
      const { networkRecords } = await import('../engine/containers/network');
      const { formatBinding } = await import('../engine/network/ports');
      const { ContainerError } = await import('../engine/containers/errors');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        let rows = networkRecords(engine).portsOf(doc.Id);
        if (port !== undefined) {
          const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(port);
          if (!m) throw new ContainerError('EUSAGE', `invalid port "${port}": want PORT[/tcp|udp]`);
          rows = rows.filter((b) => b.containerPort === Number(m[1]) && b.proto === (m[2] ?? 'tcp'));
          if (!rows.length) throw new ContainerError('ENOTFOUND', `no public port '${port}' published for ${doc.Name}`);
          process.stdout.write(rows.map((b) => `${b.hostIp}:${b.hostPort}\n`).join(''));
          return;
        }
        process.stdout.write(rows.map((b) => formatBinding(b) + '\n').join(''));
      });
    });

const exportCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(async (name: string, o: { output?: string }) => {
      const { exportContainer } = await import('../engine/containers/copy');
      const { createWriteStream } = await import('node:fs');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        const out = o.output ? createWriteStream(o.output) : process.stdout;
        await exportContainer(engine, doc, out);
        if (o.output) await new Promise((r) => (out as import('node:fs').WriteStream).end(r));
      });
    });

runCmd(program.command('run').description('Create and start a container from an image'));
createCmd(program.command('create').description('Create a container (start it with dock start)'));
startCmd(program.command('start').description('Start containers'));
stopCmd(program.command('stop').description('Stop containers: the stop signal, then SIGKILL after the timeout'));
stopCmd(program.command('restart').description('Restart containers'), true);
killCmd(program.command('kill').description('Send a signal to containers'));
rmCmd(program.command('rm').description('Remove containers'));
psCmd(program.command('ps').description('List containers'));
logsCmd(program.command('logs').description("Show a container's logs"));
execCmd(program.command('exec').description('Run a command in a running container'));
attachCmd(program.command('attach').description("Attach to a running container's input and output"));
inspectContainersCmd(program.command('inspect').description('Show the details of containers or images'), true);
topCmd(program.command('top').description('Show the processes of a container'));
statsCmd(program.command('stats').description('Show resource usage of containers'));
waitCmd(program.command('wait').description('Wait for containers to stop and print their exit codes'));
pauseCmd(program.command('pause').description('Freeze every process of containers'), true);
pauseCmd(program.command('unpause').description('Thaw paused containers'), false);
renameCmd(program.command('rename').description('Rename a container'));
cpCmd(program.command('cp').description('Copy files between a container and the host (tar streams)'));
exportCmd(program.command('export').description("Write a container's filesystem as a tar archive"));
portCmd(program.command('port').description("List a container's published ports"));

const container = program.command('container').description('Manage containers');
runCmd(container.command('run').description('Create and start a container from an image'));
createCmd(container.command('create').description('Create a container'));
startCmd(container.command('start').description('Start containers'));
stopCmd(container.command('stop').description('Stop containers'));
stopCmd(container.command('restart').description('Restart containers'), true);
killCmd(container.command('kill').description('Send a signal to containers'));
rmCmd(container.command('rm').alias('remove').description('Remove containers'));
psCmd(container.command('ls').alias('ps').alias('list').description('List containers'));
logsCmd(container.command('logs').description("Show a container's logs"));
execCmd(container.command('exec').description('Run a command in a running container'));
attachCmd(container.command('attach').description("Attach to a running container's input and output"));
inspectContainersCmd(container.command('inspect').description('Show the details of containers'), false);
topCmd(container.command('top').description('Show the processes of a container'));
statsCmd(container.command('stats').description('Show resource usage of containers'));
waitCmd(container.command('wait').description('Wait for containers to stop'));
pauseCmd(container.command('pause').description('Freeze containers'), true);
pauseCmd(container.command('unpause').description('Thaw containers'), false);
renameCmd(container.command('rename').description('Rename a container'));
cpCmd(container.command('cp').description('Copy files between a container and the host'));
exportCmd(container.command('export').description("Write a container's filesystem as a tar archive"));
portCmd(container.command('port').description("List a container's published ports"));
container
  .command('prune')
  .description('Remove all stopped containers')
  .option('-f, --force', 'do not ask for confirmation (dock never asks)')
  .action(async () => {
    const { pruneContainers } = await import('../engine/containers/remove');
    await withEngine(async (engine) => {
      const ids = await pruneContainers(engine);
      if (ids.length) process.stdout.write('Deleted Containers:\n' + ids.map((i) => i + '\n').join('') + '\n');
      process.stdout.write(`Total reclaimed space: 0B\n`);
    });
  });
// Run by the supervisor (not by hand): the exit command and the health check.
container
  .command('_exited', { hidden: true })
  .argument('<id>')
  .action(async (id: string) => {
    const { handleExit } = await import('../engine/containers/exit');
    await withEngine((engine) => handleExit(engine, id, Number(process.env.DOCK_EXITED_PID ?? 0)));
  });
container
  .command('_health', { hidden: true })
  .argument('<id>')
  .action(async (id: string) => {
    const { runHealthCheck } = await import('../engine/containers/health');
    await withEngine(async (engine) => {
      const doc = engine.containers.get(id);
      if (doc) await runHealthCheck(engine, doc);
    });
  });

// ---- volumes --------------------------------------------------------------------------------------

const volume = program.command('volume').description('Manage volumes');
volume
  .command('create')
  .description('Create a volume')
  .argument('[name]', 'volume name (default: a random one)')
  .option('-d, --driver <driver>', 'volume driver (local)', 'local')
  .option('-o, --opt <key=value>', 'driver option (repeatable)', collect, [])
  .option('--label <key=value>', 'label (repeatable)', collect, [])
  .action(async (name: string | undefined, o: { driver: string; opt: string[]; label: string[] }) => {
    const kv = (l: string[]) => Object.fromEntries(l.map((x) => [x.split('=')[0], x.split('=').slice(1).join('=')]));
    await withEngine(async (engine) => {
      const v = engine.volumes.create({ name, anonymous: false, driver: o.driver, labels: kv(o.label), options: kv(o.opt) });
      process.stdout.write(`${v.Name}\n`);
    });
  });
volume
  .command('ls')
  .alias('list')
  .description('List volumes')
  .option('-q, --quiet', 'only names')
  .option('-f, --filter <key=value>', 'filter: dangling=true|false, name=..., label=... (repeatable)', collect, [])
  .option('--format <template>', 'Go-template-like format')
  .action(async (o: { quiet?: boolean; filter: string[]; format?: string }) => {
    await withEngine(async (engine) => {
      let vols = engine.volumes.list();
      for (const f of o.filter) {
        const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
        if (k === 'dangling') vols = vols.filter((x) => (engine.volumes.users(x.Name).length === 0) === (v === 'true' || v === '1'));
        else if (k === 'name') vols = vols.filter((x) => x.Name.includes(v));
        else if (k === 'label') vols = vols.filter((x) => (v.includes('=') ? x.Labels[v.split('=')[0]] === v.split('=')[1] : v in x.Labels));
        else throw new (await import('../engine/containers/errors')).ContainerError('EUSAGE', `unsupported filter "${k}"`);
      }
      if (o.quiet) {
        process.stdout.write(vols.map((v) => v.Name + '\n').join(''));
        return;
      }
      const rows = vols.map((v) => ({ ...v, Labels: Object.entries(v.Labels).map(([a, b]) => `${a}=${b}`).join(',') }));
      process.stdout.write(renderFormat(o.format ?? 'table {{.Driver}}\t{{.Name}}', rows, { Driver: 'DRIVER', Name: 'VOLUME NAME', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Scope: 'SCOPE' }) || (o.format ? '' : 'DRIVER    VOLUME NAME\n'));
    });
  });
volume
  .command('inspect')
  .description('Show the details of volumes')
  .argument('<name...>', 'volumes')
  .option('-f, --format <template>', 'Go-template-like format')
  .action(async (names: string[], o: { format?: string }) => {
    await withEngine(async (engine) => {
      const docs = [];
      for (const n of names) {
        try {
          const { Anonymous: _a, ...v } = engine.volumes.find(n);
          docs.push(v);
        } catch (err) {
          reportError(err);
          process.exitCode = 1;
        }
      }
      process.stdout.write(o.format ? renderFormatDeep(o.format, docs) : JSON.stringify(docs, null, 4) + '\n');
    });
  });
volume
  .command('rm')
  .alias('remove')
  .description('Remove volumes')
  .argument('<name...>', 'volumes')
  .option('-f, --force', 'no error for a missing volume')
  .action(async (names: string[], o: { force?: boolean }) => {
    await withEngine(async (engine) => {
      for (const n of names) {
        try {
          engine.volumes.remove(n, { force: o.force });
          process.stdout.write(`${n}\n`);
        } catch (err) {
          reportError(err);
          process.exitCode = 1;
        }
      }
    });
  });
volume
  .command('prune')
  .description('Remove unused anonymous volumes (with -a, every unused volume)')
  .option('-a, --all', 'remove unused named volumes too')
  .option('-f, --force', 'do not ask for confirmation (dock never asks)')
  .action(async (o: { all?: boolean }) => {
    const { humanSize } = await import('../engine/images/inspect');
    await withEngine(async (engine) => {
      const r = engine.volumes.prune({ all: o.all });
      if (r.removed.length) process.stdout.write('Deleted Volumes:\n' + r.removed.map((n) => n + '\n').join('') + '\n');
      process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes)}\n`);
    });
  });

// ---- networks -------------------------------------------------------------------------------------
// The work is in src/engine/network (NetworkManager); here: flags and output.

type Networks = import('../engine/network/manager').NetworkManager;

async function withNetworks<T>(fn: (n: Networks, e: Engine) => Promise<T>): Promise<T> {
  const { NetworkManager } = await import('../engine/network/manager');
  return withEngine((engine) => fn(new NetworkManager({ db: engine.images.db, root: engine.root }), engine));
}

/** The running container's netns, for connect/disconnect of a dock container. */
async function runningContainer(engine: Engine, text: string) {
  const { liveState } = await import('../engine/containers/status');
  const { ContainerError } = await import('../engine/containers/errors');
  const doc = engine.containers.find(text);
  const live = liveState(engine, doc);
  if (live.status !== 'running' && live.status !== 'paused') throw new ContainerError('ESTATE', `container ${doc.Name} is not running`);
  return { doc, ref: { id: doc.Id, name: doc.Name, hostname: doc.Config.Hostname, netnsPath: `/proc/${live.pid}/ns/net` } };
}

/** Rewrites the container's /etc/hosts in place (its bind mount keeps the inode) after a change. */
async function refreshHosts(engine: Engine, nets: Networks, doc: import('../engine/containers/types').ContainerDoc): Promise<void> {
  const { containerDir } = await import('../engine/containers/paths');
  const { existsSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const p = join(containerDir(engine.paths, doc.Id), 'hosts');
  const { parseAddHost } = await import('../engine/network/etcfiles');
  const extraHosts = (doc.HostConfig.ExtraHosts ?? []).map(parseAddHost);
  if (existsSync(p)) writeFileSync(p, nets.hosts(doc.Id, { hostname: doc.Config.Hostname, domainname: doc.Config.Domainname, extraHosts }));
}

const network = program.command('network').description('Manage networks');
network
  .command('create')
  .description('Create a bridge network')
  .argument('<name>', 'network name')
  .option('-d, --driver <driver>', 'network driver (bridge)', 'bridge')
  .option('--subnet <cidr>', 'IPv4 subnet, e.g. 10.10.0.0/24 (default: a free one from 172.18-31.0.0/16, 192.168.0-240.0/20)')
  .option('--gateway <ip>', "the bridge's address in the subnet (default: the first one)")
  .option('--internal', 'no outbound traffic and no traffic from other networks')
  .option('--label <key=value>', 'label (repeatable)', collect, [])
  .option('-o, --opt <key=value>', 'driver option: com.docker.network.bridge.name, com.docker.network.driver.mtu (repeatable)', collect, [])
  .action(async (name: string, o: { driver: string; subnet?: string; gateway?: string; internal?: boolean; label: string[]; opt: string[] }) => {
    const { NetworkError } = await import('../engine/network/errors');
    if (o.driver !== 'bridge') throw new NetworkError('EUSAGE', `network driver "${o.driver}" is not supported: dock has bridge networks`);
    const kv = (l: string[]) => Object.fromEntries(l.map((x) => [x.split('=')[0], x.split('=').slice(1).join('=')]));
    await withNetworks(async (nets) => {
      const n = await nets.createNetwork({ name, subnet: o.subnet, gateway: o.gateway, internal: o.internal, labels: kv(o.label), options: kv(o.opt) });
      process.stdout.write(`${n.Id}\n`);
    });
  });
network
  .command('ls')
  .alias('list')
  .description('List networks')
  .option('-q, --quiet', 'only ids')
  .option('--no-trunc', 'full ids')
  .option('-f, --filter <key=value>', 'filter: name=..., id=..., driver=..., label=... (repeatable)', collect, [])
  .option('--format <template>', 'Go-template-like format')
  .action(async (o: { quiet?: boolean; trunc: boolean; filter: string[]; format?: string }) => {
    await withNetworks(async (nets) => {
      let rows = nets.listNetworks();
      for (const f of o.filter) {
        const [k, v] = [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)];
        if (k === 'name') rows = rows.filter((n) => n.Name.includes(v));
        else if (k === 'id') rows = rows.filter((n) => n.Id.startsWith(v));
        else if (k === 'driver') rows = rows.filter((n) => n.Driver === v);
        else if (k === 'label') rows = rows.filter((n) => (v.includes('=') ? n.Labels[v.split('=')[0]] === v.split('=').slice(1).join('=') : v in n.Labels));
        else throw new (await import('../engine/network/errors')).NetworkError('EUSAGE', `unsupported filter "${k}"`);
      }
      const out = rows.map((n) => ({ ...n, ID: o.trunc ? n.Id.slice(0, 12) : n.Id, Labels: Object.entries(n.Labels).map(([a, b]) => `${a}=${b}`).join(',') }));
      if (o.quiet) {
        process.stdout.write(out.map((n) => n.ID + '\n').join(''));
        return;
      }
      process.stdout.write(renderFormat(o.format ?? 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', out, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', Subnet: 'SUBNET', Gateway: 'GATEWAY', Internal: 'INTERNAL' }));
    });
  });
network
  .command('inspect')
  .description('Show the details of networks')
  .argument('<network...>', 'networks')
  .option('-f, --format <template>', 'Go-template-like format')
  .action(async (names: string[], o: { format?: string }) => {
    await withNetworks(async (nets) => {
      const docs = [];
      for (const n of names) {
        try {
          docs.push(nets.inspectNetwork(n));
        } catch (err) {
          reportError(err);
          process.exitCode = 1;
        }
      }
      process.stdout.write(o.format ? renderFormatDeep(o.format, docs) : JSON.stringify(docs, null, 4) + '\n');
    });
  });
network
  .command('rm')
  .alias('remove')
  .description('Remove networks')
  .argument('<network...>', 'networks')
  .option('-f, --force', 'no error for a missing network')
  .action(async (names: string[], o: { force?: boolean }) => {
    await withNetworks(async (nets) => {
      for (const n of names) {
        try {
          await nets.removeNetwork(n);
          process.stdout.write(`${n}\n`);
        } catch (err) {
          if (o.force && (err as { code?: string }).code === 'ENOTFOUND') continue;
          reportError(err);
          process.exitCode = 1;
        }
      }
    });
  });
network
  .command('prune')
  .description('Remove every user-defined network without containers')
  .option('-f, --force', 'do not ask for confirmation (dock never asks)')
  .action(async () => {
    await withNetworks(async (nets) => {
      const removed = await nets.pruneNetworks();
      if (removed.length) process.stdout.write('Deleted Networks:\n' + removed.map((n) => n + '\n').join(''));
    });
  });
network
  .command('connect')
  .description('Connect a running container to a network')
  .argument('<network>', 'network')
  .argument('<container>', 'container')
  .option('--alias <name>', 'network-scoped alias (repeatable)', collect, [])
  .option('--ip <address>', 'IPv4 address in the subnet')
  .action(async (net: string, ctr: string, o: { alias: string[]; ip?: string }) => {
    await withNetworks(async (nets, engine) => {
      const { doc, ref } = await runningContainer(engine, ctr);
      await nets.connect(ref, net, { aliases: o.alias, ipAddress: o.ip });
      await refreshHosts(engine, nets, doc);
    });
  });
network
  .command('disconnect')
  .description('Disconnect a container from a network')
  .argument('<network>', 'network')
  .argument('<container>', 'container')
  .option('-f, --force', 'no error when it is not connected')
  .action(async (net: string, ctr: string, o: { force?: boolean }) => {
    await withNetworks(async (nets, engine) => {
      const doc = engine.containers.find(ctr);
      await nets.disconnect(doc.Id, net, { force: o.force });
      await refreshHosts(engine, nets, doc);
    });
  });
// Plumbing for tests and scripts: connect any network namespace (not a dock container) and detach it.
network
  .command('_connect-netns', { hidden: true })
  .argument('<network>', 'network')
  .requiredOption('--netns <path>', 'network namespace path')
  .requiredOption('--id <id>', 'endpoint owner id')
  .requiredOption('--name <name>', 'endpoint owner name')
  .option('--alias <name>', 'alias (repeatable)', collect, [])
  .option('-p, --publish <spec>', 'publish ports (repeatable)', collect, [])
  .action(async (net: string, o: { netns: string; id: string; name: string; alias: string[]; publish: string[] }) => {
    const { parsePortSpec } = await import('../engine/network/ports');
    const specs = o.publish.flatMap(parsePortSpec);
    await withNetworks(async (nets) => {
      const ep = await nets.connect({ id: o.id, name: o.name, netnsPath: o.netns }, net, { aliases: o.alias });
      try {
        const pub = await nets.publishPorts({ id: o.id, name: o.name }, specs);
        process.stdout.write(JSON.stringify({ ...ep, ports: pub.bindings }) + '\n');
      } catch (e) {
        await nets.detachContainer(o.id);
        throw e;
      }
    });
  });
network
  .command('_detach', { hidden: true })
  .argument('<id>', 'endpoint owner id')
  .action(async (id: string) => {
    await withNetworks(async (nets) => nets.detachContainer(id));
  });

// ---- errors -----------------------------------------------------------------------------------

function reportError(err: unknown): void {
  const e = err as Error & { domain?: string; code?: string };
  if (program.opts<Globals>().debug && e?.stack) process.stderr.write(e.stack + '\n');
  const known = e && typeof e.domain === 'string';
  const msg = known ? e.message : `unexpected error: ${e?.message ?? String(err)}`;
  process.stderr.write(`dock: ${msg}\n`);
}

program
  .parseAsync(process.argv)
  .then(() => {
    // Keep-alive sockets must not hold the process open.
    process.exit(process.exitCode ?? 0);
  })
  .catch((err) => {
    reportError(err);
    process.exit(typeof (err as { dockExit?: unknown })?.dockExit === 'number' ? (err as { dockExit: number }).dockExit : 1);
  });
