// One health check (`dock container _health ID`, started by the supervisor every interval with its
// stdout/stderr on health.out): run the test in the container through the runtime library's exec,
// with the timeout, then update health.json as Docker does: healthy on exit 0, unhealthy after
// `retries` consecutive failures, failures during the start period not counted while starting;
// the last 5 results kept with their output (4 KiB at most).

import { readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Process } from '../../oci/types';
import { exec as runtimeExec } from '../../runtime/exec';
import type { Engine } from './engine';
import { containerEvent } from './events';
import { containerDir } from './paths';
import { liveState, readHealth } from './status';
import type { ContainerDoc, HealthState } from './types';

const NS = 1e6; // ns per ms

export function healthArgs(test: string[]): string[] | null {
  if (!test.length || test[0] === 'NONE') return null;
  if (test[0] === 'CMD-SHELL') return ['/bin/sh', '-c', test.slice(1).join(' ')];
  if (test[0] === 'CMD') return test.slice(1);
  return test; // an old-style list without a kind: a command
}

export async function runHealthCheck(engine: Engine, doc: ContainerDoc): Promise<HealthState | null> {
  const hc = doc.Config.Healthcheck;
  const args = hc ? healthArgs(hc.Test) : null;
  if (!hc || !args) return null;
  const live = liveState(engine, doc);
  if (live.status !== 'running' || !live.runtime) return null;
  const dir = containerDir(engine.paths, doc.Id);
  const timeoutMs = (hc.Timeout || 30e9) / NS;
  const retries = hc.Retries || 3;
  const startPeriodMs = (hc.StartPeriod || 0) / NS;

  const base = live.runtime.config.process!;
  const proc: Process = { ...structuredClone(base), args, terminal: false };
  delete proc.consoleSize;
  const pidFile = join(dir, 'health.pid');
  rmSync(pidFile, { force: true });
  const start = new Date();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      /* not started yet or gone */
    }
  }, timeoutMs);
  let exitCode: number;
  try {
    exitCode = await runtimeExec(engine.rt, { id: doc.Id, process: proc, pidFile });
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    exitCode = -1;
  } finally {
    clearTimeout(timer);
    rmSync(pidFile, { force: true });
  }
  let output = '';
  try {
    output = readFileSync(join(dir, 'health.out')).subarray(0, 4096).toString('utf8');
  } catch {
    /* no output */
  }
  if (timedOut) {
    exitCode = -1;
    output = `Health check exceeded timeout (${timeoutMs / 1000}s)`;
  }
  const prev = readHealth(dir) ?? { Status: 'starting', FailingStreak: 0, Log: [] };
  const next: HealthState = { ...prev, Log: [...prev.Log, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: exitCode, Output: output }].slice(-5) };
  if (exitCode === 0) {
    next.Status = 'healthy';
    next.FailingStreak = 0;
  } else {
    const inStartPeriod = Date.now() - Date.parse(doc.State.StartedAt) < startPeriodMs;
    if (!(inStartPeriod && prev.Status === 'starting')) {
      next.FailingStreak = prev.FailingStreak + 1;
      if (next.FailingStreak >= retries) next.Status = 'unhealthy';
    }
  }
  // The record may belong to a newer run by now: only the current run's health is written.
  const cur = engine.containers.get(doc.Id);
  if (!cur || cur.State.Pid !== doc.State.Pid) return null;
  const tmp = join(dir, `health.json.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(next));
  renameSync(tmp, join(dir, 'health.json'));
  if (next.Status !== prev.Status) containerEvent(engine, cur, `health_status: ${next.Status}`);
  return next;
}
