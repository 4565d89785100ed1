// dock events / dock system events (docker/cli cli/command/system/events.go): the engine's event
// log (src/engine/events), replayed from --since and followed live until --until or ^C.

import type { Command } from 'commander';
import { collect, group, withEngine } from './common';
import { renderFormatDeep } from './format';

type EngineEvent = import('../../engine/events/log').EngineEvent;

/** The event as a template sees it: Go's field names (Status, ID, From, Scope, Time, TimeNano) besides the JSON ones. */
function templateData(ev: EngineEvent): Record<string, unknown> {
  const data: Record<string, unknown> = { ...ev };
  const alias = { Status: ev.status ?? '', ID: ev.id ?? '', From: ev.from ?? '', Scope: ev.scope, Time: ev.time, TimeNano: ev.timeNano };
  // Not enumerable: {{json .}} prints the API's document, as docker does.
  for (const [k, v] of Object.entries(alias)) Object.defineProperty(data, k, { value: v, enumerable: false });
  return data;
}

const eventsCmd = (cmd: Command) =>
  cmd
    .option('-f, --filter <key=value>', 'filter: container, event, image, label, network, volume, type (repeatable)', collect, [])
    .option('--since <time>', 'show events since a timestamp (2024-01-02T15:04:05Z), a unix time or a duration ago (10m)')
    .option('--until <time>', 'stream events until this time')
    .option('--format <template>', 'Go template, e.g. "{{.Type}} {{.Action}} {{.Actor.ID}}"; json')
    .action(async (o: { filter: string[]; since?: string; until?: string; format?: string }) => {
      const { followEvents, parseEventFilters, filterPairs, eventLine } = await import('../../engine/events/stream');
      const { parseTime } = await import('../../engine/containers/logs');
      const filters = parseEventFilters(filterPairs(o.filter));
      const since = o.since ? parseTime(o.since, '--since') : undefined;
      const until = o.until ? parseTime(o.until, '--until') : undefined;
      // A bad template fails before anything is streamed.
      if (o.format) renderFormatDeep(o.format, []);
      const stop = new AbortController();
      const end = () => stop.abort();
      process.once('SIGINT', end);
      process.once('SIGTERM', end);
      process.stdout.on('error', end); // a closed pipe (| head) ends the stream
      await withEngine(async (engine) => {
        await followEvents(engine.images.db, { since, until, filters, signal: stop.signal }, (ev) => {
          process.stdout.write(o.format ? renderFormatDeep(o.format, [templateData(ev)]) : eventLine(ev) + '\n');
        });
      });
    });

export function register(program: Command): void {
  eventsCmd(program.command('events').description('Get real time events from the engine'));
  eventsCmd(group(program, 'system', 'Manage the engine').command('events').description('Get real time events from the engine'));
}
