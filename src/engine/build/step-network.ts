// The network of a RUN step, with Docker's build semantics. The build has a network (`dock build
// --network`, the API's `networkmode`): `default` is dock's default bridge (`bridge`, with NAT to
// the outside, as `docker build` gives), or `none`, `host` (dock's own network namespace, as
// `dock run --network host`), or a user-defined network's name. A step may say
// `RUN --network=default|none|host` (default: the build's).
//
// A bridge step is connected like a container (network/manager.ts): after runtime create (its
// namespace exists, its process waits), before start; its endpoint goes when the step ends. Every
// step gets /etc/hosts and /etc/resolv.conf of its own, bound from files in its step directory (as
// BuildKit does): what the step writes there never lands in the layer.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mount } from '../../oci/types';
import { pidAlive } from '../store/blobs';
import type { Db } from '../store/db';
import { buildHosts, buildResolvConf, DEFAULT_NETWORK, loopbackUp, NetworkError, NetworkManager, parseResolvConf } from '../network';
import { BuildError } from './errors';

export type BuildNetwork = { kind: 'none' } | { kind: 'host' } | { kind: 'bridge'; name: string };

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const HOSTNAME = 'buildkitsandbox';

export interface NetworkContext {
  db: Db;
  root: string;
}

const manager = (c: NetworkContext) => new NetworkManager({ db: c.db, root: c.root });

/**
 * The build's network from `--network` (undefined, "" and "default": the default bridge). A named
 * network must exist; only records are read, so nothing is made when the name is wrong.
 */
export function resolveBuildNetwork(value: string | undefined, c: NetworkContext): BuildNetwork {
  const v = value ?? '';
  if (v === '' || v === 'default' || v === DEFAULT_NETWORK) return { kind: 'bridge', name: DEFAULT_NETWORK };
  if (v === 'none' || v === 'host') return { kind: v };
  if (!NAME_RE.test(v)) throw new BuildError('EUSAGE', `invalid --network "${v}": default, none, host or a network's name`);
  try {
    return { kind: 'bridge', name: manager(c).find(v).name };
  } catch (e) {
    if (e instanceof NetworkError) throw new BuildError('EUSAGE', e.message);
    throw e;
  }
}

/** A step's network: `RUN --network=...` over the build's. */
export function stepNetwork(build: BuildNetwork, flag: string | undefined, line: number): BuildNetwork {
  if (flag === undefined || flag === 'default') return build;
  if (flag === 'none' || flag === 'host') return { kind: flag };
  throw new BuildError('EPARSE', `Dockerfile:${line}: invalid --network: ${flag} (default, none or host)`);
}

/**
 * For the cache key: "" for the default bridge (the keys of builds before networks stay valid),
 * else the mode, as BuildKit keys a RUN by its network mode.
 */
export function networkKey(n: BuildNetwork): string {
  if (n.kind === 'bridge') return n.name === DEFAULT_NETWORK ? '' : `network=${n.name}`;
  return `network=${n.kind}`;
}

/** Step containers are named build-<dock's pid>-<random>: a dead pid's endpoints are leftovers. */
export function stepContainerId(random: string): string {
  return `build-${process.pid}-${random}`;
}

/** One step's network: the files it binds, its namespace, its endpoint. */
export class StepNetworkSession {
  private nets: NetworkManager | undefined;
  private attached = false;
  private readonly hostsPath: string;
  private readonly resolvPath: string;

  constructor(
    readonly network: BuildNetwork,
    private readonly c: NetworkContext,
    private readonly id: string,
    dir: string,
  ) {
    this.hostsPath = join(dir, 'hosts');
    this.resolvPath = join(dir, 'resolv.conf');
    // Written now (the runtime binds them at create); a bridge step's are rewritten once connected,
    // in place (the bind mount keeps the inode).
    writeFileSync(this.hostsPath, buildHosts({ hostname: HOSTNAME, addresses: [] }));
    writeFileSync(this.resolvPath, this.localResolvConf());
  }

  /** False for `host`: the step shares dock's own network namespace. */
  get ownNamespace(): boolean {
    return this.network.kind !== 'host';
  }

  mounts(): Mount[] {
    return [
      { destination: '/etc/hosts', type: 'bind', source: this.hostsPath, options: ['rbind', 'rw'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: this.resolvPath, options: ['rbind', 'rw'] },
    ];
  }

  /** After runtime create, before start: `pid` is the step's init, its namespace exists. */
  async attach(pid: number): Promise<void> {
    const netnsPath = `/proc/${pid}/ns/net`;
    if (this.network.kind === 'host') return;
    if (this.network.kind === 'none') {
      loopbackUp(netnsPath);
      return;
    }
    this.nets = manager(this.c);
    this.attached = true;
    try {
      await this.nets.connect({ id: this.id, name: this.id, hostname: HOSTNAME, netnsPath }, this.network.name);
    } catch (e) {
      throw new BuildError('ESTEP', `cannot connect the step to network ${this.network.name}: ${(e as Error).message}`, { cause: e });
    }
    writeFileSync(this.hostsPath, this.nets.hosts(this.id, { hostname: HOSTNAME }));
    writeFileSync(this.resolvPath, this.nets.resolvConf(this.id));
  }

  /** Releases the endpoint (veth, address); safe to repeat, and after a failed attach. */
  async detach(): Promise<void> {
    if (!this.attached || !this.nets) return;
    this.attached = false;
    await this.nets.detachContainer(this.id);
  }

  /** none and host: the host's servers (host: as they are; none: Docker's filtering). */
  private localResolvConf(): string {
    let text = '';
    try {
      text = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* none: Docker's fallback servers */
    }
    if (this.network.kind === 'host' && text) return text;
    return buildResolvConf({ host: parseResolvConf(text) });
  }
}

/**
 * Endpoints of step containers whose dock died mid-step (their veths went with their namespaces;
 * the records and addresses stay until released here).
 */
export async function releaseStaleStepEndpoints(c: NetworkContext, warn: (m: string) => void): Promise<void> {
  const nets = manager(c);
  const stale = new Set<string>();
  for (const ep of nets.store.allEndpoints()) {
    const m = /^build-(\d+)-/.exec(ep.container_id);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) stale.add(ep.container_id);
  }
  for (const id of stale) {
    try {
      await nets.detachContainer(id);
    } catch (e) {
      warn(`release the network endpoint of ${id} of an interrupted build: ${(e as Error).message}`);
    }
  }
}
