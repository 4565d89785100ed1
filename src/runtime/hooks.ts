// Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart, poststop).
// createContainer and startContainer hooks run inside the container, from skiff-init.
import { spawnSync } from 'node:child_process';
import type { Hook } from '../oci/types';
import { SkiffError } from './errors';
import type { OciState } from './state';

export type RuntimeHookKind = 'prestart' | 'createRuntime' | 'poststart' | 'poststop';

/** Run hooks in order with the state on stdin; the first failure throws. */
export function runHooks(kind: string, hooks: Hook[] | undefined, state: OciState): void {
  for (const hook of hooks ?? []) {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    const env: Record<string, string> = {};
    for (const kv of hook.env ?? []) {
      const i = kv.indexOf('=');
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const r = spawnSync(hook.path, args, {
      argv0,
      env,
      input: JSON.stringify(state),
      timeout: hook.timeout ? hook.timeout * 1000 : undefined,
      killSignal: 'SIGKILL',
      stdio: ['pipe', 'pipe', 'pipe'],
      maxBuffer: 1 << 20,
    });
    const stderr = r.stderr?.toString().trim();
    const tail = stderr ? `: ${stderr.split('\n').slice(-1)[0]}` : '';
    // EPIPE only means the hook exited without reading its state: its status tells the rest.
    if (r.error && (r.error as NodeJS.ErrnoException).code !== 'EPIPE') {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === 'ETIMEDOUT') throw hookError(kind, hook, `timed out after ${hook.timeout}s`);
      throw hookError(kind, hook, code === 'ENOENT' ? 'no such file or directory' : r.error.message);
    }
    if (r.signal) throw hookError(kind, hook, `killed by ${r.signal}${tail}`);
    if (r.status !== 0) throw hookError(kind, hook, `exited with status ${r.status}${tail}`);
  }
}

function hookError(kind: string, hook: Hook, why: string): SkiffError {
  return new SkiffError('hook', 'EHOOK', `${kind} hook ${hook.path}: ${why}`);
}
