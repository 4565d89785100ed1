// The world of a network test: a network namespace made for the test that plays the engine's host
// (bridges, veths, nft rules, DNS servers and proxies all live in it), an engine database, and
// busybox containers run by the real runtime (bin/skiff) in network namespaces of their own.
// Nothing here touches the machine's interfaces, routes or firewall; everything made is removed
// by cleanup(), and cleanup() is safe to call after a failure at any step.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetworkManager } from '../../src/engine/network/manager';
import { openDb, type Db } from '../../src/engine/store/db';
import { SKIFF, Skiff, baseConfig, makeBundle } from '../helpers';
import { requireTools } from '../fixtures/images/tools';

let seq = 0;

export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { input, encoding: 'utf8', timeout: 30_000, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs a command; never throws (status 124-ish on timeout). */
export function tryRun(cmd: string, args: string[], timeout = 15_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout, killSignal: 'SIGKILL' });
  return { status: r.status ?? 137, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** The commands network tests run (scripts/test-setup.sh installs them; skip with needTools(...NET_TOOLS)). */
export const NET_TOOLS = ['nft', 'ip', 'busybox'];

/** A guard for worlds built without that check: one clear line when a command is missing. */
export function ensureNetTools(): void {
  requireTools(NET_TOOLS);
}

/** The named network namespaces, without those of other test files running at the same time. */
export function namedNetns(): string[] {
  const others = new RegExp(`^skiff-t-(?!${process.pid}-)\\d+-`);
  return tryRun('ip', ['netns', 'list']).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => n && !others.test(n)).sort();
}

/** A named netns (removed by cleanup): `ip netns add skiff-t-<pid>-<n>`. */
export class TestNetns {
  readonly name: string;
  readonly path: string;
  constructor(tag: string) {
    this.name = `skiff-t-${process.pid}-${tag}${seq++}`;
    this.path = `/run/netns/${this.name}`;
    sh('ip', ['netns', 'add', this.name]);
    sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
  }
  /** Runs a command inside it. */
  run(args: string[], timeout = 15_000) {
    return tryRun('ip', ['netns', 'exec', this.name, ...args], timeout);
  }
  links(): string[] {
    return JSON.parse(sh('ip', ['-j', '-n', this.name, 'link', 'show'])).map((l: { ifname: string }) => l.ifname);
  }
  nft(): string {
    return this.run(['nft', 'list', 'ruleset']).stdout;
  }
  remove(): void {
    tryRun('ip', ['netns', 'del', this.name]);
  }
}

export interface TestContainer {
  id: string;
  name: string;
  pid: number;
  netnsPath: string;
  /** Bound over the container's /etc (hosts, resolv.conf, hostname, passwd, group). */
  etc: string;
  /** Bound over /www (busybox httpd serves it). */
  www: string;
}

export class NetWorld {
  readonly host: TestNetns;
  readonly dir: string;
  readonly db: Db;
  readonly mgr: NetworkManager;
  readonly skiff = new Skiff();
  readonly containers: TestContainer[] = [];
  readonly extraNs: TestNetns[] = [];
  readonly extraPids: number[] = [];
  readonly resolvConf: string;

  constructor(opts: { upstream?: string } = {}) {
    this.host = new TestNetns('h');
    this.dir = mkdtempSync(join(tmpdir(), 'sknet-'));
    this.resolvConf = join(this.dir, 'host-resolv.conf');
    writeFileSync(this.resolvConf, `nameserver ${opts.upstream ?? '127.0.0.53'}\nsearch test.invalid\n`);
    this.db = openDb(join(this.dir, 'images.db'));
    this.mgr = new NetworkManager({ db: this.db, root: this.dir, hostNetns: this.host.path, resolvConf: this.resolvConf });
  }

  /** A second manager on the same records (another dock process would be one). */
  manager(): NetworkManager {
    return new NetworkManager({ db: openDb(join(this.dir, 'images.db')), root: this.dir, hostNetns: this.host.path, resolvConf: this.resolvConf });
  }

  /**
   * `skiff create` of a busybox container in a new netns running `args`; not started: connect it,
   * write its /etc files, then start().
   */
  create(name: string, args: string[]): TestContainer {
    const id = `${name}-${process.pid}-${seq++}`;
    const etc = join(this.dir, 'ctr', id, 'etc');
    const www = join(this.dir, 'ctr', id, 'www');
    mkdirSync(etc, { recursive: true });
    mkdirSync(www, { recursive: true });
    writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(etc, 'group'), 'root:x:0:\n');
    writeFileSync(join(etc, 'hostname'), `${name}\n`);
    writeFileSync(join(etc, 'hosts'), '');
    writeFileSync(join(etc, 'resolv.conf'), '');
    writeFileSync(join(www, 'index.html'), `hello from ${name}\n`);
    const cfg = baseConfig(args);
    cfg.hostname = name;
    cfg.mounts.push({ destination: '/etc', type: 'bind', source: etc, options: ['bind', 'ro'] });
    cfg.mounts.push({ destination: '/www', type: 'bind', source: www, options: ['bind', 'ro'] });
    // busybox httpd binds port 80 and ping needs a raw socket
    for (const set of ['bounding', 'effective', 'permitted']) cfg.process.capabilities[set].push('CAP_NET_RAW');
    const bundle = makeBundle(cfg);
    this.skiff.ok(['create', '--bundle', bundle, id]);
    const pid = JSON.parse(this.skiff.ok(['state', id])).pid as number;
    const c = { id, name, pid, netnsPath: `/proc/${pid}/ns/net`, etc, www };
    this.containers.push(c);
    return c;
  }

  /** Writes /etc/hosts and /etc/resolv.conf from the manager's builders and starts the container. */
  start(c: TestContainer, o: { extraHosts?: Array<{ name: string; ip: string }>; dns?: string[] } = {}): void {
    writeFileSync(join(c.etc, 'hosts'), this.mgr.hosts(c.id, { hostname: c.name, extraHosts: o.extraHosts }));
    writeFileSync(join(c.etc, 'resolv.conf'), this.mgr.resolvConf(c.id, { dns: o.dns }));
    this.skiff.ok(['start', c.id]);
  }

  exec(c: TestContainer, args: string[], timeout = 15_000) {
    return tryRun(SKIFF, ['--root', this.skiff.root, 'exec', c.id, ...args], timeout);
  }

  /** A process holding a fresh netns (for tests that need many endpoints, not containers). */
  bareNetns(): { pid: number; path: string } {
    const r = spawnSync('sh', ['-c', 'unshare --net sleep 600 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    const pid = Number(r.stdout.trim());
    this.extraPids.push(pid);
    for (let i = 0; i < 100; i++) {
      const own = tryRun('readlink', [`/proc/${pid}/ns/net`]).stdout.trim();
      if (own && own !== tryRun('readlink', ['/proc/self/ns/net']).stdout.trim()) break;
      spawnSync('sleep', ['0.02']);
    }
    return { pid, path: `/proc/${pid}/ns/net` };
  }

  kill(c: TestContainer): void {
    this.skiff.run(['delete', '--force', c.id]);
  }

  /** Containers, their endpoints and ports, networks, helper processes, namespaces: all of it. */
  async cleanup(): Promise<void> {
    for (const c of this.containers) this.kill(c);
    for (const pid of this.extraPids) tryRun('kill', ['-9', String(pid)]);
    for (const c of this.containers) await this.mgr.detachContainer(c.id).catch(() => undefined);
    for (const ep of this.mgr.store.allEndpoints()) await this.mgr.detachContainer(ep.container_id).catch(() => undefined);
    for (const n of this.mgr.store.networks()) {
      await (n.name === 'bridge' ? this.mgr.removeDefaultBridge() : this.mgr.removeNetwork(n.id)).catch(() => undefined);
    }
    // Anything still holding the host netns (a helper whose record was lost) would keep it alive.
    for (const line of tryRun('ip', ['netns', 'pids', this.host.name]).stdout.split('\n').filter(Boolean)) tryRun('kill', ['-9', line.trim()]);
    this.host.remove();
    for (const ns of this.extraNs) ns.remove();
    this.skiff.cleanup();
    this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
