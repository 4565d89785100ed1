// Reading the event log as `docker events` does (moby's daemon/events filter and SubscribeToEvents):
// filters, --since/--until, then live events until --until passes or the reader stops. The one
// function both `dock events` and the API's GET /events call.
//
// Live events come from other processes through the database: the reader polls it (a cheap indexed
// query) rather than holding a connection to each writer.

import type { Db } from '../store/db';
import { EventsError } from './errors';
import { type EngineEvent, lastSeq, readEvents } from './log';

const POLL_MS = 100;
const FILTER_KEYS = ['container', 'event', 'image', 'label', 'network', 'volume', 'type', 'scope', 'daemon', 'plugin'];
const TYPES = ['container', 'image', 'network', 'volume', 'builder', 'daemon', 'plugin', 'service', 'node', 'secret', 'config'];

export type EventFilters = Map<string, string[]>;

/** key=value pairs (from --filter or the API's filters JSON) checked and grouped by key. */
export function parseEventFilters(pairs: Array<readonly [string, string]>): EventFilters {
  const out: EventFilters = new Map();
  for (const [k, v] of pairs) {
    if (!FILTER_KEYS.includes(k)) throw new EventsError('EUSAGE', `invalid filter '${k}'`);
    if (k === 'type' && !TYPES.includes(v)) throw new EventsError('EUSAGE', `invalid filter 'type=${v}': unknown event type`);
    out.set(k, [...(out.get(k) ?? []), v]);
  }
  return out;
}

/** --filter KEY=VALUE strings as pairs. */
export function filterPairs(flags: string[]): Array<[string, string]> {
  return flags.map((f) => {
    const i = f.indexOf('=');
    if (i <= 0) throw new EventsError('EUSAGE', `bad format of filter (expected name=value): ${f}`);
    return [f.slice(0, i), f.slice(i + 1)];
  });
}

const stripTag = (ref: string) => {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(0, at);
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref;
};

/** moby's Filter.Include: values of one key are alternatives, keys must all match. */
export function matchEvent(ev: EngineEvent, f: EventFilters): boolean {
  const exact = (key: string, ...values: Array<string | undefined>) => !f.has(key) || f.get(key)!.some((w) => values.includes(w));
  // A prefix of an id or a name, as FuzzyMatch.
  const fuzzy = (key: string, ...values: Array<string | undefined>) => !f.has(key) || f.get(key)!.some((w) => values.some((v) => v !== undefined && (v === w || v.startsWith(w))));
  const attrs = ev.Actor.Attributes;
  // exec_create, exec_start and health_status carry a suffix ("exec_start: ls /"): matched as prefixes.
  const eventOk = !f.has('event') || f.get('event')!.some((w) => ev.Action === w || (['exec_create', 'exec_start', 'exec_die', 'health_status'].includes(w) && ev.Action.startsWith(`${w}:`)));
  const named = (type: string) => !f.has(type) || (ev.Type === type && fuzzy(type, ev.Actor.ID, attrs.name));
  const imageName = ev.Type === 'image' ? attrs.name : attrs.image;
  const imageOk = !f.has('image') || exact('image', ev.Actor.ID, imageName, stripTag(ev.Actor.ID), imageName && stripTag(imageName));
  const labelOk =
    !f.has('label') ||
    f.get('label')!.every((l) => {
      const i = l.indexOf('=');
      return i < 0 ? l in attrs : attrs[l.slice(0, i)] === l.slice(i + 1);
    });
  return eventOk && exact('type', ev.Type) && exact('scope', ev.scope) && named('container') && named('network') && named('volume') && imageOk && labelOk && !f.has('daemon') && !f.has('plugin');
}

export interface FollowOptions {
  /** Milliseconds since the epoch (see parseTime): past events from then on are sent first. */
  since?: number;
  /** Stop once this time has passed; past events up to it are sent. */
  until?: number;
  filters?: EventFilters;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Calls `emit` for each matching event in order: the past ones from `since` (or up to `until` when
 * only that is given), then the new ones as they are written, until `until` or the signal.
 * Without `since` and `until`, only events from now on.
 */
export async function followEvents(db: Db, o: FollowOptions, emit: (ev: EngineEvent) => void | Promise<void>): Promise<void> {
  const filters = o.filters ?? new Map();
  if (o.since !== undefined && o.until !== undefined && o.until < o.since) return;
  const history = o.since !== undefined || o.until !== undefined;
  let after = history ? 0 : lastSeq(db);
  const sinceUs = o.since !== undefined ? Math.floor(o.since * 1000) : 0;
  const untilUs = o.until !== undefined ? Math.floor(o.until * 1000) : Infinity;
  while (!o.signal?.aborted) {
    const batch = readEvents(db, { afterSeq: after, sinceUs, limit: 500 });
    for (const { seq, event } of batch) {
      after = seq;
      if (event.timeNano / 1000 > untilUs) return;
      if (matchEvent(event, filters)) await emit(event);
      if (o.signal?.aborted) return;
    }
    if (batch.length === 500) continue;
    if (Date.now() * 1000 > untilUs) return;
    await sleep(POLL_MS, o.signal);
  }
}

/** docker's text line for an event: `TIME TYPE ACTION ID (k=v, ...)`, attributes sorted by key. */
export function eventLine(ev: EngineEvent): string {
  // Through microseconds: a double holds nanoseconds since the epoch only approximately.
  const us = Math.round(ev.timeNano / 1000);
  const secs = Math.floor(us / 1e6);
  const nanos = String((us - secs * 1e6) * 1000).padStart(9, '0');
  const iso = new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, '');
  const attrs = Object.keys(ev.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${ev.Actor.Attributes[k]}`);
  return `${iso}.${nanos}Z ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}
