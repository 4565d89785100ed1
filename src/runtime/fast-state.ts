// The summary of a container that the native front (addon/front.c) reads to answer `state`,
// `start` and `kill` without starting a JavaScript engine. This module is the one definition of its
// format; the front hands every case it does not find here over to the TypeScript CLI.
//
// <root>/<id>/fast-state holds records "KEY LEN\nBYTES\n" (LEN in bytes, so any value fits):
//   skiff-fast     format version (FAST_STATE_VERSION; the front ignores any other)
//   pid, starttime the init, as in state.json (a recycled pid never passes for it)
//   poststart      "1" when start has hooks to run (the front leaves such starts to the CLI)
//   poststop       "1" when delete has hooks to run (likewise)
//   cgroup.plan    "1" when the records below say all that delete removes (cgroups.removalPlan)
//   cgroup.dir     (repeated) a cgroup directory of the container, removed with its children
//   cgroup.parents (repeated) per hierarchy, NUL-separated parents to rmdir in order until one fails
//   freezer.file, freezer.value  (optional) what isFrozen() reads and the frozen value
//   state.STATUS   the exact text `skiff state` prints in each status
//   list.STATUS    the container's entry in `skiff list --format json`, in each status
//   table.bundle, table.created, table.owner   its cells in the `skiff list` table
import { join } from 'node:path';
import type { CgroupRemoval, FreezerProbe } from './cgroups/types';
import { listEntry } from './query';
import { type ContainerRecord, type OciState, type Status, ociState, writeFileAtomic } from './state';

export const FAST_STATE_FILE = 'fast-state';
export const FAST_STATE_VERSION = '1';
const STATUSES: Status[] = ['created', 'running', 'paused', 'stopped'];

/** What `skiff state` prints. */
export function stateText(s: OciState): string {
  return JSON.stringify(s, null, 2) + '\n';
}

export function encodeFastState(rec: ContainerRecord, freezer: FreezerProbe | undefined, removal: CgroupRemoval | undefined): string {
  const fields: [string, string][] = [
    ['skiff-fast', FAST_STATE_VERSION],
    ['pid', String(rec.pid)],
    ['starttime', rec.initStartTime],
    ['poststart', rec.config.hooks?.poststart?.length ? '1' : '0'],
    ['poststop', rec.config.hooks?.poststop?.length ? '1' : '0'],
  ];
  if (removal) {
    fields.push(['cgroup.plan', '1']);
    for (const dir of removal.dirs) fields.push(['cgroup.dir', dir]);
    for (const chain of removal.parents) if (chain.length) fields.push(['cgroup.parents', chain.join('\0')]);
  }
  if (freezer) fields.push(['freezer.file', freezer.file], ['freezer.value', freezer.frozen]);
  for (const status of STATUSES) fields.push([`state.${status}`, stateText(ociState(rec, status))]);
  for (const status of STATUSES) fields.push([`list.${status}`, JSON.stringify(listEntry(rec, status))]);
  fields.push(['table.bundle', rec.bundle], ['table.created', rec.created], ['table.owner', rec.owner]);
  return fields.map(([k, v]) => `${k} ${Buffer.byteLength(v)}\n${v}\n`).join('');
}

/** The records of a summary (for tests; a repeated key keeps its last value); throws on a malformed one. */
export function decodeFastState(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const nl = data.indexOf(10, at);
    const m = nl < 0 ? null : /^(\S+) (\d+)$/.exec(data.subarray(at, nl).toString());
    if (!m) throw new Error(`fast-state: bad record at byte ${at}`);
    const end = nl + 1 + Number(m[2]);
    if (data[end] !== 10) throw new Error(`fast-state: bad length of ${m[1]}`);
    out.set(m[1], data.subarray(nl + 1, end).toString());
    at = end + 1;
  }
  return out;
}

/** Written after state.json: until it exists, the front leaves the container to the CLI. */
export function writeFastState(dir: string, rec: ContainerRecord, freezer: FreezerProbe | undefined, removal: CgroupRemoval | undefined): void {
  writeFileAtomic(join(dir, FAST_STATE_FILE), encodeFastState(rec, freezer, removal));
}
