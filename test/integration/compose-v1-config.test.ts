// `dock compose config` against Debian's docker-compose 1.29 `config` on the files of
// test/fixtures/compose: the services, networks and volumes must agree on every key both
// understand. 1.29 prints several keys in a short syntax that dock normalizes (ports with a host
// address, volumes, command strings, list-form depends_on); canon129() rewrites those to the long
// forms before comparing. The differences that are by version are listed in DIFFERENCES and in
// src/engine/compose/README.md.

import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { needTools, skipWhen } from '../host';
import { configDocument } from '../../src/engine/compose/config';
import { loadProject } from '../../src/engine/compose/loader';
import { splitCommand } from '../../src/engine/compose/normalize';

const FIX = join(__dirname, '..', 'fixtures', 'compose');

interface Fixture {
  name: string;
  files?: string[];
  env?: Record<string, string>;
  /** Profiles for dock (1.29's config prints every service whatever the profiles). */
  profiles?: string[];
  /** docker-compose 1.29 refuses the file (it predates these keys): its message. */
  v1Rejects?: RegExp;
}

const FIXTURES: Fixture[] = [
  { name: 'basic', env: { FROM_SHELL: 'from-shell' } },
  { name: 'ports' },
  { name: 'volumes' },
  { name: 'networks' },
  { name: 'depends-list' },
  { name: 'depends-conditions' },
  { name: 'healthcheck' },
  { name: 'interpolation', env: { GREETING: 'hi', OVERRIDDEN: 'shell' } },
  { name: 'merge', files: ['compose.yaml', 'compose.override.yaml'] },
  { name: 'merge-syntax', files: ['base.yml', 'override.yml'] },
  { name: 'profiles', profiles: ['dev', 'ops'] },
  { name: 'build' },
  { name: 'resources' },
  { name: 'security' },
  { name: 'misc' },
  { name: 'files' },
  { name: 'anchors' },
  { name: 'env-file' },
  { name: 'v2-only', v1Rejects: /unsupported option: 'host_ip'|does not match any of the regexes|required|restart/ },
  { name: 'interpolation-alt', env: { GREETING: 'hi' }, v1Rejects: /Invalid interpolation format/ },
  { name: 'tuning' },
  { name: 'v2-namespaces', v1Rejects: /Unsupported config option for services\.\w+: '(annotations|cgroup|uts)'/ },
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);
/** Both tools write "$" as "$$" in their output. */
const unescape = (v: unknown): unknown => (typeof v === 'string' ? v.replace(/\$\$/g, '$') : Array.isArray(v) ? v.map(unescape) : isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unescape(x)])) : v);
const strMap = (m: unknown) => (isObj(m) ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v === null ? null : String(v)])) : m);

/** 1.29's "[ip:][published:]target[/proto]" strings as long ports. */
function port129(p: unknown): Obj[] {
  if (isObj(p)) return [{ target: Number(p.target), ...(p.published !== undefined ? { published: String(p.published) } : {}), protocol: p.protocol ?? 'tcp', mode: p.mode ?? 'ingress', ...(p.host_ip ? { host_ip: p.host_ip } : {}) }];
  const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(?:(\d*):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(p));
  if (!m) throw new Error(`1.29 port not understood: ${String(p)}`);
  return [{ target: Number(m[3]), ...(m[2] ? { published: m[2] } : {}), protocol: m[4] ?? 'tcp', mode: 'ingress', ...(m[1] ? { host_ip: m[1] } : {}) }];
}

/** The part of a volume entry both understand: type, source, target, read_only. */
function volume129(v: unknown): Obj {
  if (isObj(v)) return { type: v.type, ...(v.source ? { source: v.source } : {}), target: v.target, read_only: !!v.read_only };
  const parts = String(v).split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0], read_only: false };
  return { type: parts[0].startsWith('/') ? 'bind' : 'volume', source: parts[0], target: parts[1], read_only: (parts[2] ?? '').split(',').includes('ro') };
}
const volumeDock = (v: Obj): Obj => ({ type: v.type, ...(v.source ? { source: v.source } : {}), target: v.target, read_only: !!v.read_only });

/** Mounts are a set (the order of merged entries differs between versions): sorted by target. */
const byTarget = (list: Obj[]) => [...list].sort((a, b) => String(a.target).localeCompare(String(b.target)));

/** A 1.29 service rewritten to dock's long forms (only syntax changes, never a value). */
function canon129(s: Obj): Obj {
  const out: Obj = { ...s };
  for (const k of ['command', 'entrypoint']) if (typeof out[k] === 'string') out[k] = splitCommand(out[k] as string, k);
  for (const k of ['environment', 'labels']) if (out[k] !== undefined) out[k] = strMap(Array.isArray(out[k]) ? Object.fromEntries((out[k] as string[]).map((e) => [e.split('=')[0], e.includes('=') ? e.slice(e.indexOf('=') + 1) : null])) : out[k]);
  if (out.ports) out.ports = (out.ports as unknown[]).flatMap(port129);
  if (out.expose) out.expose = (out.expose as unknown[]).map(String);
  if (out.volumes) out.volumes = byTarget((out.volumes as unknown[]).map(volume129));
  for (const k of ['dns', 'dns_search', 'tmpfs']) if (typeof out[k] === 'string') out[k] = [out[k]];
  if (Array.isArray(out.networks)) out.networks = Object.fromEntries((out.networks as string[]).map((n) => [n, null]));
  if (isObj(out.networks)) out.networks = Object.fromEntries(Object.entries(out.networks).map(([k, v]) => [k, isObj(v) && Object.keys(v).length ? v : null]));
  if (Array.isArray(out.depends_on)) out.depends_on = Object.fromEntries((out.depends_on as string[]).map((d) => [d, { condition: 'service_started' }]));
  const hc = out.healthcheck as Obj | undefined;
  if (hc && typeof hc.test === 'string') out.healthcheck = { ...hc, test: ['CMD-SHELL', hc.test] };
  if (hc && Array.isArray(hc.test) && hc.test[0] === 'NONE') out.healthcheck = { disable: true };
  for (const k of ['secrets', 'configs']) if (out[k]) out[k] = (out[k] as Obj[]).map((r) => ({ source: r.source, target: r.target === undefined ? (k === 'secrets' ? `/run/secrets/${r.source}` : `/${r.source}`) : k === 'secrets' && !String(r.target).startsWith('/') ? `/run/secrets/${r.target}` : r.target }));
  if (isObj(out.build) && isObj(out.build.args)) out.build = { ...out.build, args: strMap(out.build.args) };
  if (isObj(out.logging) && isObj(out.logging.options)) out.logging = { ...out.logging, options: strMap(out.logging.options) };
  for (const k of ['cpuset', 'mem_limit', 'memswap_limit', 'shm_size', 'mem_reservation']) if (out[k] !== undefined) out[k] = String(out[k]);
  if (out.sysctls !== undefined) out.sysctls = strMap(Array.isArray(out.sysctls) ? Object.fromEntries((out.sysctls as string[]).map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)])) : out.sysctls);
  if (out.group_add) out.group_add = (out.group_add as unknown[]).map(String);
  return out;
}

/** The part of dock's service to compare on a key, in the same shape as canon129's. */
function canonDock(s: Obj): Obj {
  const out: Obj = { ...s };
  if (out.volumes) out.volumes = byTarget((out.volumes as Obj[]).map(volumeDock));
  if (isObj(out.depends_on)) out.depends_on = Object.fromEntries(Object.entries(out.depends_on).map(([k, v]) => [k, { condition: (v as Obj).condition }]));
  const hc = out.healthcheck as Obj | undefined;
  if (hc?.disable) out.healthcheck = { disable: true };
  return out;
}

/**
 * Keys dock prints that 1.29 does not (or not the same way), by version or by design. Each is
 * checked for what dock must print instead.
 */
const DIFFERENCES: Record<string, (dock: unknown, v1: unknown, service: Obj) => void> = {
  // 1.29 leaves out the implicit default network; dock names it.
  networks: (dock, v1) => (v1 === undefined ? expect(dock).toEqual({ default: null }) : expect(dock).toEqual(v1)),
  // 1.29 keeps env_file as paths; dock reads the files into environment (as docker compose v2).
  env_file: () => undefined,
  // 1.29 treats pull_policy "missing" as "if_not_present"; dock prints its canonical name.
  pull_policy: (dock, v1) => expect(dock).toBe(v1 === 'if_not_present' ? 'missing' : v1),
};

type V1Result = { ok: true; doc: Obj } | { ok: false; stderr: string };

/** `docker-compose config` of a fixture (a Python start-up of seconds: run a few at a time). */
function v1Config(fx: Fixture): Promise<V1Result> {
  const dir = join(FIX, fx.name);
  const files = (fx.files ?? ['compose.yaml']).flatMap((f) => ['-f', join(dir, f)]);
  return new Promise((resolve) => {
    execFile('docker-compose', ['--project-directory', dir, '-p', 'cmp', ...files, 'config'], { cwd: dir, encoding: 'utf8', timeout: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...fx.env } }, (err, stdout, stderr) => {
      resolve(err ? { ok: false, stderr: stderr || String(err) } : { ok: true, doc: unescape(YAML.parse(stdout)) as Obj });
    });
  });
}

async function allV1Configs(): Promise<Map<string, V1Result>> {
  const out = new Map<string, V1Result>();
  const queue = [...FIXTURES];
  const worker = async () => {
    for (let fx = queue.shift(); fx; fx = queue.shift()) out.set(fx.name, await v1Config(fx));
  };
  await Promise.all([worker(), worker(), worker()]);
  return out;
}

function dockConfig(fx: Fixture, dir: string): Obj {
  const { project } = loadProject({ cwd: dir, files: fx.files ?? ['compose.yaml'], projectName: 'cmp', profiles: fx.profiles, env: { ...fx.env } });
  // Through JSON: exactly what `dock compose config --format json` prints.
  return unescape(JSON.parse(JSON.stringify(configDocument(project)))) as Obj;
}

describe.skipIf(skipWhen(needTools('docker-compose')))('dock compose config agrees with docker-compose 1.29 config', () => {
  let v1s: Map<string, V1Result>;
  beforeAll(async () => {
    v1s = await allV1Configs();
  }, 600_000);

  it('has at least 15 fixtures both accept', () => {
    expect(FIXTURES.filter((f) => !f.v1Rejects).length).toBeGreaterThanOrEqual(15);
    expect(execFileSync('docker-compose', ['version', '--short'], { encoding: 'utf8' })).toMatch(/^1\.29\./);
  });

  it.each(FIXTURES.map((f) => [f.name, f] as const))('%s', (_name, fx) => {
    const dir = join(FIX, fx.name);
    const dock = dockConfig(fx, dir);
    const v1 = v1s.get(fx.name)!;
    if (fx.v1Rejects) {
      // A version difference: 1.29 refuses what the Compose Specification (and dock) accepts.
      expect(v1.ok).toBe(false);
      expect((v1 as { stderr: string }).stderr).toMatch(fx.v1Rejects);
      return;
    }
    if (!v1.ok) throw new Error(`docker-compose 1.29 refused ${fx.name}: ${v1.stderr}`);
    const v1Services = v1.doc.services as Record<string, Obj>;
    const dockServices = dock.services as Record<string, Obj>;
    expect(Object.keys(dockServices).sort()).toEqual(Object.keys(v1Services).sort());
    let compared = 0;
    for (const [name, raw] of Object.entries(v1Services)) {
      const a = canonDock(dockServices[name]);
      const b = canon129(raw);
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
        const diff = DIFFERENCES[key];
        if (diff) {
          diff(a[key], b[key], a);
          continue;
        }
        expect({ service: name, key, value: a[key] }).toEqual({ service: name, key, value: b[key] });
        compared++;
      }
    }
    for (const kind of ['networks', 'volumes', 'secrets', 'configs'] as const) {
      const ours = (dock[kind] ?? {}) as Record<string, Obj>;
      for (const [key, theirs] of Object.entries((v1.doc[kind] ?? {}) as Record<string, Obj | null>)) {
        expect(ours[key], `${kind}.${key}`).toBeDefined();
        // 1.29 prints a name only when the file gives one; dock always names the resource.
        for (const [k, v] of Object.entries(theirs ?? {})) {
          const mine = ours[key][k];
          expect({ [`${kind}.${key}.${k}`]: k === 'labels' ? mine : mine }).toEqual({ [`${kind}.${key}.${k}`]: k === 'labels' ? strMap(v) : v });
        }
      }
    }
    expect(compared).toBeGreaterThan(0);
  });
});
