// Hooks that run in the runtime's namespaces (prestart, createRuntime, poststart, poststop).
// createContainer and startContainer hooks run inside the container, from skiff-init.
import { spawnSync } from 'node:child_process';
import type { Hook } from '../oci/types';
import { SkiffError } from './errors';
import type { OciState } from './state';

export type RuntimeHookKind = 'prestart' | 'createRuntime' | 'poststart' | 'poststop';

/**
 * The state as runc hands it to hooks (the spec's State: ociVersion, id, status, pid, bundle,
 * annotations, in that order; no pid once there is no process).
 */
export function hookState(s: OciState): OciState {
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    status: s.status,
    ...(s.pid && s.status !== 'stopped' ? { pid: s.pid } : {}),
    bundle: s.bundle,
    ...(s.annotations && Object.keys(s.annotations).length ? { annotations: s.annotations } : {}),
  };
}

/**
 * Run hooks in order with the state on stdin; the first failure throws. As runc: a hook with no
 * `env` gets the runtime's own environment (one with `env`, exactly that), and runs in `cwd`:
 * the bundle for the hooks of create, start and run (runc enters the bundle), the caller's
 * directory for those of delete.
 */
export function runHooks(kind: string, hooks: Hook[] | undefined, state: OciState, cwd?: string): void {
  for (const hook of hooks ?? []) {
    const [argv0, ...args] = hook.args?.length ? hook.args : [hook.path];
    let env = callerEnvironment();
    if (hook.env !== undefined) {
      env = {};
      for (const kv of hook.env) {
        const i = kv.indexOf('=');
        if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
      }
    }
    const r = spawnSync(hook.path, args, {
      argv0,
      cwd,
      env,
      input: JSON.stringify(hookState(state)),
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

/** The environment skiff was called with: what its launcher set aside for its own start comes back. */
function callerEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  const ca = env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS;
  delete env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS;
  delete env.SKIFF_FRONT_FAILED;
  if (ca !== undefined) env.NODE_EXTRA_CA_CERTS = ca;
  return env;
}

function hookError(kind: string, hook: Hook, why: string): SkiffError {
  return new SkiffError('hook', 'EHOOK', `${kind} hook ${hook.path}: ${why}`);
}
