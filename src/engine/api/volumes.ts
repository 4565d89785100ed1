// /volumes/...: Docker's volume routes over the engine's VolumeStore.

import type { Volume } from '../volumes/store';
import { badRequest } from './errors';
import { field, qBool, qFilters, readJson, type Router, sendEmpty, sendJson } from './router';

const shape = ({ Anonymous: _a, ...v }: Volume) => v;

export function registerVolumes(r: Router): void {
  r.add('GET', '/volumes', async (ctx) => {
    sendJson(ctx, 200, { Volumes: ctx.engine.volumes.filter(qFilters(ctx)).map(shape), Warnings: [] });
  });

  r.add('POST', '/volumes/create', async (ctx) => {
    const body = await readJson(ctx);
    const name = field<string>(body, 'Name', 'string') || undefined;
    const driver = field<string>(body, 'Driver', 'string') || 'local';
    const labels = field<Record<string, string>>(body, 'Labels', 'object') ?? {};
    const options = field<Record<string, string>>(body, 'DriverOpts', 'object') ?? {};
    // An existing name gives that volume back (create is idempotent, as Docker's).
    const v = ctx.engine.volumes.create({ name, anonymous: false, driver, labels, options });
    sendJson(ctx, 201, shape(v));
  });

  r.add('POST', '/volumes/prune', async (ctx) => {
    let all = false;
    for (const [k, v] of qFilters(ctx)) {
      if (k === 'all') all = v === 'true' || v === '1';
      else throw badRequest(`volume prune filter "${k}" is not supported`);
    }
    const r = ctx.engine.volumes.prune({ all });
    sendJson(ctx, 200, { VolumesDeleted: r.removed, SpaceReclaimed: r.bytes });
  });

  r.add('GET', '/volumes/:name', async (ctx) => sendJson(ctx, 200, shape(ctx.engine.volumes.find(ctx.params.name))));

  r.add('DELETE', '/volumes/:name', async (ctx) => {
    ctx.engine.volumes.remove(ctx.params.name, { force: qBool(ctx, 'force') });
    sendEmpty(ctx);
  });
}
