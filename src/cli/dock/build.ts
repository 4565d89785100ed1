// dock build and builder prune (docker/cli cli/command/image/build, builder). The work is in src/engine/build.

import { type Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { buildProgress, PROGRESS_MODES, type ProgressMode } from './build-progress';
import { clientOpts, collect, globals, group, reportError, withStore } from './common';

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
    .option('--network <mode>', "network of the RUN steps: default (dock's default bridge), none, host or a network's name", 'default')
    .option('-q, --quiet', 'print only the image id')
    .addOption(new Option('--progress <type>', 'how to show the build: auto (tty on a terminal, else plain), tty, plain or quiet (only the image id)').choices(PROGRESS_MODES).default('auto'))
    .option('--iidfile <file>', 'write the image id to this file')
    .action(async (context: string, o: { tag: string[]; file?: string; buildArg: string[]; target?: string; cache: boolean; platform?: string; label: string[]; network: string; quiet?: boolean; progress: ProgressMode; iidfile?: string }) => {
      const { build } = await import('../../engine/build/builder');
      const { BuildError } = await import('../../engine/build/errors');
      const { openRuntime } = await import('../../runtime/runtime');
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
        const { contextArchiveKind, extractContextArchive } = await import('../../engine/build/context');
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
      const quiet = o.quiet || o.progress === 'quiet';
      try {
        await withStore(async (store) => {
          const rt = openRuntime({ root: join(store.root, 'build', 'runtime'), debug: globals().debug });
          let builder: import('../../engine/build/builder').Builder | undefined;
          const stop = () => builder?.cancel();
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
          const progress = buildProgress(o.progress, !!quiet);
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
                network: o.network,
                registry: clientOpts(),
                output: progress.output,
              },
              (b) => (builder = b),
            );
            if (o.iidfile) writeFileSync(o.iidfile, r.id);
            progress.say(`writing image ${r.id}`);
            for (const t of r.tags) progress.say(`naming to ${t}`);
            progress.finish(true);
            if (quiet) process.stdout.write(r.id + '\n');
          } catch (e) {
            progress.finish(false);
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

export function register(program: Command): void {
  buildCmd(program.command('build').description('Build an image from a Dockerfile'));
  buildCmd(group(program, 'image', 'Manage images').command('build').description('Build an image from a Dockerfile'));
  program
    .command('builder')
    .description('Manage the build cache')
    .command('prune')
    .description('Remove the build cache (and the layers only it kept)')
    .option('-a, --all', 'everything (the default: dock has no other kind of build cache)')
    .option('--filter <until=DURATION>', 'only entries unused for that long, e.g. until=24h')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { filter?: string; force?: boolean }) => {
      const { pruneBuildCache } = await import('../../engine/build/prune');
      const { parseDuration } = await import('../../engine/build/stage');
      const { BuildError } = await import('../../engine/build/errors');
      const { humanSize } = await import('../../engine/images/inspect');
      let olderThanMs: number | undefined;
      if (o.filter) {
        const m = /^until=(.+)$/.exec(o.filter);
        if (!m) throw new BuildError('EUSAGE', `unsupported filter "${o.filter}": until=DURATION`);
        olderThanMs = parseDuration(m[1], 'until') / 1e6;
      }
      const { confirm, pruneCancelled } = await import('./common');
      if (!o.force && !(await confirm(o.filter ? 'This will remove the build cache unused for the given time.' : 'This will remove all build cache.'))) return pruneCancelled('builder');
      await withStore(async (store) => {
        const r = await pruneBuildCache(store, { olderThanMs });
        process.stdout.write(`Deleted build cache entries: ${r.entries}\nDeleted cache mounts: ${r.cacheMounts}\nTotal reclaimed space: ${humanSize(r.bytes, 4)}\n`);
      });
    });
}
