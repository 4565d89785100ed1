// A container's live state, derived at each look and never stored as "running": the runtime's
// state (init pid + start time, the freezer), the supervisor's exit.json, and the record's flags.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRecord } from '../../runtime/state';
import { containerStatus } from '../../runtime/status';
import type { Engine } from './engine';
import { containerDir } from './paths';
import type { ContainerDoc, HealthState } from './types';

export type DockStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface LiveState {
  status: DockStatus;
  pid: number;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
  /** The runtime's record while the runtime knows the container. */
  runtime: ContainerRecord | null;
  health: HealthState | null;
}

export interface ExitRecord {
  pid: number;
  exitCode: number;
  signal: number;
  finishedAt: string;
}

export function readExit(dir: string): ExitRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'exit.json'), 'utf8')) as ExitRecord;
  } catch {
    return null;
  }
}

export function readHealth(dir: string): HealthState | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'health.json'), 'utf8')) as HealthState;
  } catch {
    return null;
  }
}

export function runtimeRecord(engine: Engine, id: string): ContainerRecord | null {
  try {
    return engine.rt.store.read(id);
  } catch {
    return null;
  }
}

export function liveState(engine: Engine, doc: ContainerDoc): LiveState {
  const dir = containerDir(engine.paths, doc.Id);
  const rec = runtimeRecord(engine, doc.Id);
  const rs = rec ? containerStatus(engine.rt, rec) : null;
  const s = doc.State;
  const exit = readExit(dir);
  const exitFresh = exit && exit.pid === s.Pid;
  const out: LiveState = {
    status: 'created',
    pid: 0,
    exitCode: exitFresh ? exit.exitCode : s.ExitCode,
    startedAt: s.StartedAt,
    finishedAt: exitFresh ? exit.finishedAt : s.FinishedAt,
    runtime: rec,
    health: doc.Config.Healthcheck && doc.Config.Healthcheck.Test[0] !== 'NONE' ? readHealth(dir) : null,
  };
  if (s.Removing) out.status = 'removing';
  else if (rs === 'running' || rs === 'paused') {
    out.status = rs;
    out.pid = rec!.pid;
  } else if (s.Restarting) out.status = 'restarting';
  else if (rs === 'created' || rs === 'creating') out.status = 'created';
  else if (s.StartedAt) {
    out.status = 'exited';
    // The init is gone but nobody recorded how it ended (its supervisor was killed): unknown, as
    // Docker reports a container whose exit it missed.
    if (rec && rec.pid === s.Pid && !exitFresh) out.exitCode = 255;
  }
  return out;
}
