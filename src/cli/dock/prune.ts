// dock system prune (docker/cli cli/command/system/prune.go): every prune at once, after docker's
// confirmation (unless -f), with what each removed and the total space reclaimed.

import type { Command } from 'commander';
import { group, withEngine } from './common';

export function register(program: Command): void {
  group(program, 'system', 'Manage the engine')
    .command('prune')
    .description('Remove unused data: stopped containers, unused networks, dangling images, build cache')
    .option('-a, --all', 'remove all unused images, not only dangling ones')
    .option('--volumes', 'also remove anonymous volumes not used by a container')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean; volumes?: boolean; force?: boolean }) => {
      const { pruneSystem, systemPruneWarning } = await import('../../engine/system/prune');
      const { humanSize } = await import('../../engine/images/inspect');
      const { confirm, pruneCancelled } = await import('./common');
      if (!o.force && !(await confirm(systemPruneWarning(o)))) return pruneCancelled('system');
      await withEngine(async (engine) => {
        const r = await pruneSystem(engine, o);
        const section = (title: string, items: string[]) => items.length && process.stdout.write(`${title}:\n${items.map((i) => i + '\n').join('')}\n`);
        section('Deleted Containers', r.containers);
        section('Deleted Networks', r.networks);
        section('Deleted Volumes', r.volumes);
        section('Deleted Images', r.images.map((i) => `deleted: ${i}`));
        if (r.buildCacheEntries) process.stdout.write(`Deleted build cache objects: ${r.buildCacheEntries}\n\n`);
        process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes, 4)}\n`);
      });
    });
}
