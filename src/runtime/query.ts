// `state` and `list`: read-only views of the store.
import type { Runtime } from './runtime';
import { type ContainerRecord, type OciState, type Status, ociState } from './state';
import { containerStatus } from './status';

export function state(rt: Runtime, id: string): OciState {
  const rec = rt.store.read(id);
  return ociState(rec, containerStatus(rt, rec));
}

export interface ListEntry {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export function list(rt: Runtime): ListEntry[] {
  const out: ListEntry[] = [];
  for (const id of rt.store.ids()) {
    let rec;
    try {
      rec = rt.store.read(id);
    } catch {
      continue; // being created or deleted right now
    }
    out.push(listEntry(rec, containerStatus(rt, rec)));
  }
  return out;
}

export function listEntry(rec: ContainerRecord, status: Status): ListEntry {
  return {
    ociVersion: rec.ociVersion,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
    ...(rec.annotations ? { annotations: rec.annotations } : {}),
  };
}

