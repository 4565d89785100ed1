// The engine's "host" network namespace: where bridges, host-side veth ends, firewall rules, the
// DNS servers and the port proxies live. By default it is dock's own namespace; given a path
// (DOCK_HOST_NETNS, or the `hostNetns` option) the whole engine side runs inside that namespace,
// which is how the tests keep the machine's own interfaces and firewall untouched.
//
// Processes that must be born in the host namespace (nft, the DNS server, the proxy) are spawned
// while the main thread is inside it (addon netnsEnter/netnsRestore): libuv forks from the calling
// thread, and a child inherits that thread's namespaces. Every spawn is counted (spawnCount), so
// that the processes a connect costs are measured, not guessed.

import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { nativeNetlink } from '../../runtime/native';
import { Rtnl } from './rtnetlink';

let spawned = 0;

/** Processes spawned by the network library in this process so far. */
export function spawnCount(): number {
  return spawned;
}

export class HostNetns {
  /** undefined: the caller's own namespace. */
  readonly path: string | undefined;

  constructor(path?: string) {
    this.path = path || undefined;
  }

  /**
   * Checked where the kernel side is touched, not when a manager is made: reading and removing
   * records needs no namespace (a missing one then fails only what would have to work in it).
   */
  private check(): void {
    if (this.path && !existsSync(this.path)) throw new Error(`host network namespace ${this.path} does not exist`);
  }

  rtnl(): Rtnl {
    this.check();
    return Rtnl.open(this.path);
  }

  /** Runs fn with the calling (main) thread inside the host namespace. fn must be synchronous. */
  run<T>(fn: () => T): T {
    if (!this.path) return fn();
    this.check();
    const nl = nativeNetlink();
    const old = nl.netnsEnter(this.path);
    try {
      return fn();
    } finally {
      nl.netnsRestore(old);
    }
  }

  /** Runs a short command in the host namespace; returns status and output. */
  exec(cmd: string, args: string[], input?: string): { status: number; stdout: string; stderr: string } {
    spawned++;
    const r = this.run(() => spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL', stdio: ['pipe', 'pipe', 'pipe'] }));
    if (r.error) return { status: 127, stdout: '', stderr: (r.error as Error).message };
    return { status: r.status ?? 128 + 9, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts a long-lived process in the host namespace. */
  spawn(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
    spawned++;
    return this.run(() => spawn(cmd, args, opts));
  }
}

/** The resolv.conf of the host side: `ip netns exec` semantics for a named netns. */
export function hostResolvConfPath(hostNetns?: string): string {
  const m = hostNetns ? /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(hostNetns) : null;
  if (m && existsSync(`/etc/netns/${m[1]}/resolv.conf`)) return `/etc/netns/${m[1]}/resolv.conf`;
  return '/etc/resolv.conf';
}
