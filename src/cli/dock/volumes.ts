// dock volume commands (docker/cli cli/command/volume). The work is in src/engine/volumes.

import type { Command } from 'commander';
import { collect, group, reportError, withEngine } from './common';
import { renderFormat, renderFormatDeep } from './format';

export function register(program: Command): void {
  const volume = group(program, 'volume', 'Manage volumes');
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
        const vols = engine.volumes.filter(o.filter.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const));
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
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { all?: boolean; force?: boolean }) => {
      const { humanSize } = await import('../../engine/images/inspect');
      const { confirm, pruneCancelled } = await import('./common');
      const warning = o.all ? 'This will remove all local volumes not used by at least one container.' : 'This will remove anonymous local volumes not used by at least one container.';
      if (!o.force && !(await confirm(warning))) return pruneCancelled('volume');
      await withEngine(async (engine) => {
        const r = engine.volumes.prune({ all: o.all });
        if (r.removed.length) process.stdout.write('Deleted Volumes:\n' + r.removed.map((n) => n + '\n').join('') + '\n');
        process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes, 4)}\n`);
      });
    });
}
