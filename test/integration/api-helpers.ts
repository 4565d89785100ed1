// Shared by the API tests: a `dock system service` on a socket in a private engine root, the docker
// CLI pointed at it (private DOCKER_CONFIG, classic builder), and raw HTTP requests on the socket.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants } from 'node:os';
import { dockScript, waitFor } from './dock-helpers';

// Debian's docker.io (scripts/test-setup.sh installs it) first: the CLI every machine has.
export const DOCKER = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p));

export interface TestService {
  sock: string;
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts the service on <root>/api.sock and waits until /_ping answers. */
export async function startService(root: string, env: Record<string, string> = {}, extraArgs: string[] = []): Promise<TestService> {
  const js = await dockScript();
  const sock = join(root, 'api.sock');
  const child = spawn(process.execPath, [js, '--root', root, 'system', 'service', `unix://${sock}`, ...extraArgs], { env: { ...process.env, DOCK_ROOT: root, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`dock system service exited: ${log}`);
    return (await request(sock, 'GET', '/_ping').catch(() => null))?.status === 200;
  }, 'the API service to answer', 30_000);
  return {
    sock,
    child,
    log: () => log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request on the unix socket; never throws on a status. */
export function request(sock: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 60_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    // A connection per request: a kept-alive one can be closed by the server just as it is reused.
    const req = http.request({ socketPath: sock, agent: false, method, path, headers: { ...(data ? { 'Content-Type': 'application/json', 'Content-Length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The docker CLI against the service; bounded in time, never throws on a non-zero exit. */
export function docker(sock: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; env?: Record<string, string>; config?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(DOCKER!, args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', DOCKER_HOST: `unix://${sock}`, DOCKER_BUILDKIT: '0', DOCKER_CONFIG: opts.config ?? dockerConfigDir(), DOCKER_CLI_HINTS: 'false', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdin.end(opts.input ?? '');
    child.on('close', (c, sig) => {
      clearTimeout(timer);
      resolve({ code: c ?? (sig ? 128 + (constants.signals[sig] as number) : -1), stdout, stderr });
    });
  });
}

let configDir: string | undefined;
/** An empty Docker client config: the tests never read or write the machine's ~/.docker. */
export function dockerConfigDir(): string {
  return (configDir ??= mkdtempSync(join(tmpdir(), 'dock-api-cfg-')));
}

export function removeConfigDir(): void {
  if (configDir) rmSync(configDir, { recursive: true, force: true });
  configDir = undefined;
}
