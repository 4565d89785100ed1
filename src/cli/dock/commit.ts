// dock diff and dock commit (docker/cli cli/command/container/diff.go, commit.go): a container's
// filesystem changes, and an image made of them (src/engine/containers/changes.ts, commit.ts).

import type { Command } from 'commander';
import { collect, group, withEngine } from './common';

/** docker's boolean flag values (--pause=false). */
function bool(v: string | boolean): boolean {
  if (typeof v === 'boolean') return v;
  if (/^(1|t|true)$/i.test(v)) return true;
  if (/^(0|f|false)$/i.test(v)) return false;
  throw Object.assign(new Error(`invalid boolean value "${v}"`), { domain: 'container', dockExit: 125 });
}

const diffCmd = (cmd: Command) =>
  cmd.argument('<container>', 'container').action(async (name: string) => {
    const { containerChanges, CHANGE_LETTER } = await import('../../engine/containers/changes');
    await withEngine(async (engine) => {
      const changes = await containerChanges(engine, engine.containers.find(name));
      process.stdout.write(changes.map((c) => `${CHANGE_LETTER[c.Kind]} ${c.Path}\n`).join(''));
    });
  });

const commitCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('[repository[:tag]]', 'name of the new image')
    .option('-a, --author <author>', 'author, e.g. "Jane <jane@example.com>"')
    .option('-c, --change <instruction>', 'Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR (repeatable)', collect, [])
    .option('-m, --message <message>', 'commit message')
    .option('-p, --pause [bool]', 'pause the container during the commit (default true; --pause=false)', bool, true)
    .action(async (name: string, reference: string | undefined, o: { author?: string; change: string[]; message?: string; pause: boolean }) => {
      const { commitContainer } = await import('../../engine/containers/commit');
      await withEngine(async (engine) => {
        const id = await commitContainer(engine, engine.containers.find(name), { reference, author: o.author, comment: o.message, changes: o.change, pause: o.pause });
        process.stdout.write(`${id}\n`);
      });
    });

export function register(program: Command): void {
  diffCmd(program.command('diff').description("Inspect changes to files or directories on a container's filesystem"));
  commitCmd(program.command('commit').description("Create a new image from a container's changes"));
  const container = group(program, 'container', 'Manage containers');
  diffCmd(container.command('diff').description("Inspect changes to files or directories on a container's filesystem"));
  commitCmd(container.command('commit').description("Create a new image from a container's changes"));
}
