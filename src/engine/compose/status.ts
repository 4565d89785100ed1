// What `dock compose ps` and `ls` show: the project's containers with their service and health,
// and the projects found by their labels.

import type { Engine } from '../containers/engine';
import { psRows } from '../containers/inspect';
import { liveState } from '../containers/status';
import type { ContainerDoc } from '../containers/types';
import { L } from './labels';

export interface ComposePsRow {
  ID: string;
  Name: string;
  Image: string;
  Command: string;
  Project: string;
  Service: string;
  RunningFor: string;
  Status: string;
  State: string;
  Health: string;
  ExitCode: number;
  Ports: string;
  [k: string]: unknown;
}

export function composePsRows(engine: Engine, docs: ContainerDoc[]): ComposePsRow[] {
  const byId = new Map(psRows(engine, { all: true, noTrunc: true }).map((r) => [r.ID, r]));
  return docs.map((d) => {
    const r = byId.get(d.Id);
    const live = liveState(engine, d);
    return {
      ID: d.Id.slice(0, 12),
      Name: d.Name,
      Image: d.Config.Image,
      Command: r?.Command ?? '',
      Project: d.Config.Labels[L.project],
      Service: d.Config.Labels[L.service],
      RunningFor: r?.RunningFor ?? '',
      Status: r?.Status ?? live.status,
      State: live.status,
      Health: live.health?.Status ?? '',
      ExitCode: live.exitCode,
      Ports: r?.Ports ?? '',
    };
  });
}

export interface ProjectRow {
  Name: string;
  /** docker compose's "running(2), exited(1)". */
  Status: string;
  ConfigFiles: string;
  running: number;
}

export function projectList(engine: Engine): ProjectRow[] {
  const projects = new Map<string, { states: Map<string, number>; files: string }>();
  for (const d of engine.containers.list()) {
    const name = d.Config.Labels[L.project];
    if (!name) continue;
    const p = projects.get(name) ?? { states: new Map(), files: d.Config.Labels[L.configFiles] ?? '' };
    const st = liveState(engine, d).status;
    p.states.set(st, (p.states.get(st) ?? 0) + 1);
    projects.set(name, p);
  }
  return [...projects.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([Name, p]) => ({ Name, Status: [...p.states.entries()].map(([s, n]) => `${s}(${n})`).join(', '), ConfigFiles: p.files, running: p.states.get('running') ?? 0 }));
}
