// GET /events: the engine's event log (src/engine/events) as dockerd streams it: one JSON document
// per event, flushed as it comes, past ones from `since`, live ones until `until` or the client
// leaves.

import { parseTime } from '../containers/logs';
import { followEvents, parseEventFilters } from '../events/stream';
import { qFilters, type Router } from './router';

export function registerEvents(r: Router): void {
  r.add('GET', '/events', async (ctx) => {
    const time = (name: 'since' | 'until') => {
      const v = ctx.query.get(name);
      return v ? parseTime(v, name) : undefined;
    };
    // Bad filters and times are a 400 before the stream starts.
    const filters = parseEventFilters(qFilters(ctx));
    const since = time('since');
    const until = time('until');
    const res = ctx.res!;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    await followEvents(ctx.engine.images.db, { since, until, filters, signal: ctx.signal }, (ev) => {
      res.write(JSON.stringify(ev) + '\n');
    });
    res.end();
  });
}
