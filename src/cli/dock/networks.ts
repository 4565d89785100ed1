// dock network commands (docker/cli cli/command/network). The work is in src/engine/network
// (NetworkManager); here: flags and output.

import type { Command } from 'commander';
import { collect, type Engine, group, reportError, withEngine } from './common';
import { renderFormat, renderFormatDeep } from './format';

type Networks = import('../../engine/network/manager').NetworkManager;

async function withNetworks<T>(fn: (n: Networks, e: Engine) => Promise<T>): Promise<T> {
  const { NetworkManager } = await import('../../engine/network/manager');
  return withEngine((engine) => fn(new NetworkManager({ db: engine.images.db, root: engine.root }), engine));
}

export function register(program: Command): void {
  const network = group(program, 'network', 'Manage networks');
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
      const { NetworkError } = await import('../../engine/network/errors');
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
        const { filterNetworks } = await import('../../engine/network/filter');
        const rows = filterNetworks(nets.listNetworks(), o.filter.map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] as const));
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
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { force?: boolean }) => {
      const { confirm, pruneCancelled } = await import('./common');
      if (!o.force && !(await confirm('This will remove all custom networks not used by at least one container.'))) return pruneCancelled('network');
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
      const { connectContainer } = await import('../../engine/containers/network');
      await withEngine((engine) => connectContainer(engine, net, ctr, { aliases: o.alias, ipAddress: o.ip }));
    });
  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .argument('<network>', 'network')
    .argument('<container>', 'container')
    .option('-f, --force', 'no error when it is not connected')
    .action(async (net: string, ctr: string, o: { force?: boolean }) => {
      const { disconnectContainer } = await import('../../engine/containers/network');
      await withEngine((engine) => disconnectContainer(engine, net, ctr, { force: o.force }));
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
      const { parsePortSpec } = await import('../../engine/network/ports');
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

}
