// /networks/...: Docker's network routes over the engine's NetworkManager (bridge networks), in the
// host network namespace the service runs with ($DOCK_HOST_NETNS, as the CLI).

import { networkManager } from '../containers/network';
import { filterNetworks } from '../network/filter';
import { badRequest, notImplemented } from './errors';
import { field, qFilters, readJson, type Router, sendEmpty, sendJson } from './router';

type Obj = Record<string, unknown>;

export function registerNetworks(r: Router): void {
  r.add('GET', '/networks', async (ctx) => {
    const nets = networkManager(ctx.engine);
    const rows = filterNetworks(nets.listNetworks(), qFilters(ctx));
    sendJson(ctx, 200, rows.map((n) => nets.inspectNetwork(n.Name)));
  });

  r.add('POST', '/networks/create', async (ctx) => {
    const body = await readJson(ctx);
    const name = field<string>(body, 'Name', 'string');
    if (!name) throw badRequest('network name is required');
    const driver = field<string>(body, 'Driver', 'string') || 'bridge';
    if (driver !== 'bridge') throw badRequest(`network driver "${driver}" is not supported: dock has bridge networks`);
    if (field<boolean>(body, 'EnableIPv6', 'boolean')) throw notImplemented('IPv6 networks are not supported by dock yet');
    const ipam = field<Obj>(body, 'IPAM', 'object');
    const configs = ((ipam?.Config as Obj[] | null) ?? []) as Obj[];
    if (configs.length > 1) throw notImplemented('a network with several subnets is not supported by dock yet');
    const c = configs[0] ?? {};
    const n = await networkManager(ctx.engine).createNetwork({
      name,
      subnet: (c.Subnet as string) || undefined,
      gateway: (c.Gateway as string) || undefined,
      internal: !!field<boolean>(body, 'Internal', 'boolean'),
      labels: field<Record<string, string>>(body, 'Labels', 'object') ?? {},
      options: field<Record<string, string>>(body, 'Options', 'object') ?? {},
    });
    sendJson(ctx, 201, { Id: n.Id, Warning: '' });
  });

  r.add('POST', '/networks/prune', async (ctx) => {
    if (qFilters(ctx).length) throw notImplemented('network prune filters are not supported by dock yet');
    const removed = await networkManager(ctx.engine).pruneNetworks();
    sendJson(ctx, 200, { NetworksDeleted: removed });
  });

  r.add('GET', '/networks/:id', async (ctx) => sendJson(ctx, 200, networkManager(ctx.engine).inspectNetwork(ctx.params.id)));

  r.add('DELETE', '/networks/:id', async (ctx) => {
    await networkManager(ctx.engine).removeNetwork(ctx.params.id);
    sendEmpty(ctx);
  });

  r.add('POST', '/networks/:id/connect', async (ctx) => {
    const { connectContainer } = await import('../containers/network');
    const body = await readJson(ctx);
    const container = field<string>(body, 'Container', 'string');
    if (!container) throw badRequest('Container is required');
    const ep = (field<Obj>(body, 'EndpointConfig', 'object') ?? {}) as Obj;
    const ip = ((ep.IPAMConfig as Obj | undefined)?.IPv4Address as string) || undefined;
    await connectContainer(ctx.engine, ctx.params.id, container, { aliases: (ep.Aliases as string[] | undefined) ?? [], ipAddress: ip });
    sendEmpty(ctx, 200);
  });

  r.add('POST', '/networks/:id/disconnect', async (ctx) => {
    const { disconnectContainer } = await import('../containers/network');
    const body = await readJson(ctx);
    const container = field<string>(body, 'Container', 'string');
    if (!container) throw badRequest('Container is required');
    await disconnectContainer(ctx.engine, ctx.params.id, container, { force: !!field<boolean>(body, 'Force', 'boolean') });
    sendEmpty(ctx, 200);
  });
}
