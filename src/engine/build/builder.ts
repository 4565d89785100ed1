// `dock build`: a Dockerfile and a context become an image.
//
// The Dockerfile is parsed once (dockerfile.ts); the stages the target needs are found from their
// FROM, COPY --from and RUN --mount from= references and started together, each waiting for the
// stages it uses, so independent stages build in parallel. A stage is a chain of steps over a
// state (the image config and its layers). Each step:
//   - is expanded (build args and ENV) and given a cache key chained from its parent's key, its
//     text after substitution and, for COPY/ADD, the hash of the content it reads;
//   - is taken from the cache when that key is known (and its layers are still stored);
//   - else runs: metadata instructions change only the config; RUN, COPY, ADD and WORKDIR run on
//     an overlay of the layers so far with a fresh upper directory, whose content is the layer.
// The image is recorded (and tagged) only when every step succeeded; a build holds a lease on
// everything it writes until then, so garbage collection cannot take it midway.

import { imageEvent } from '../images/events';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { getAttributeSync } from '@napi-rs/xattr';
import { deleteContainer } from '../../runtime/delete';
import type { Runtime } from '../../runtime/runtime';
import { pidAlive } from '../store/blobs';
import { findImage } from '../images/lookup';
import type { ClientOptions } from '../registry/client';
import { hostPlatform, type ImageManifest, MT, parsePlatform, type Platform } from '../registry/manifest';
import { formatReference, parseReference } from '../registry/reference';
import type { Db } from '../store/db';
import { StoreError } from '../store/errors';
import type { ImageStore, LayerRecord, Lease } from '../store/store';
import { type BuildState, BuildCache, chainKey } from './cache';
import { BuildContext } from './context';
import { type Dockerfile, type Instruction, type Stage, parseDockerfile, parseDockerfileText, typeInstruction } from './dockerfile';
import { BuildError } from './errors';
import { commitLayer, hasChanges } from './layer';
import { mountReadOnly, mountStepRoot, mountsBelow, unmount } from './overlay';
import { type Env, LexError, processWord, processWords } from './shell-lex';
import { DEFAULT_PATH, flag, StageRun } from './stage';
import { type BuildNetwork, releaseStaleStepEndpoints, resolveBuildNetwork } from './step-network';

export interface BuildOutput {
  /** A step starts (or is taken from the cache). */
  step(label: string, text: string, cached: boolean): void;
  /** A line of a RUN step's output. */
  line(label: string, text: string): void;
  /** A step (the one last started under this label) finished; optional: views that time steps use it. */
  stepDone?(label: string): void;
  info(text: string): void;
  warn(text: string): void;
}

export const silentOutput: BuildOutput = { step() {}, line() {}, info() {}, warn() {} };

export interface BuildOptions {
  /** The context directory; null when the Dockerfile came from stdin without a context. */
  contextDir: string | null;
  dockerfile: string;
  /** Where the Dockerfile is (for `<Dockerfile>.dockerignore`). */
  dockerfilePath?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  platform?: string;
  labels?: Record<string, string>;
  registry?: ClientOptions;
  /**
   * The network of RUN steps (`--network`; the API's networkmode): default (dock's default bridge,
   * the default), none, host, or a network's name. A step's `RUN --network=` overrides it.
   */
  network?: string;
  output?: BuildOutput;
  /** Engine root: the build's scratch space and cache mounts live under <root>/build. */
  root: string;
}

export interface BuildResult {
  id: string;
  tags: string[];
  warnings: string[];
}


interface StageResult {
  state: BuildState;
  key: string;
}

type Ref = { kind: 'stage'; index: number } | { kind: 'image'; name: string } | { kind: 'scratch' };

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function normalizeLayerType(mt: string): string {
  if (mt === MT.dockerLayerGzip) return MT.ociLayerGzip;
  if (mt === 'application/vnd.docker.image.rootfs.diff.tar') return MT.ociLayer;
  if (mt === 'application/vnd.docker.image.rootfs.diff.tar.zstd') return MT.ociLayerZstd;
  return mt;
}

export class Builder {
  private readonly cache: BuildCache;
  private readonly out: BuildOutput;
  private readonly df: Dockerfile;
  private readonly platform: Platform;
  private readonly hostPlat = hostPlatform();
  private readonly globalEnv = new Map<string, string>();
  private readonly usedArgs = new Set<string>();
  private readonly stages = new Map<number, Promise<StageResult>>();
  private readonly warnings: string[] = [];
  private readonly running = new Set<number>();
  private readonly mounts = new Set<string>();
  private readonly buildDir: string;
  private readonly emptyDir: string;
  private readonly net: BuildNetwork;
  private context!: BuildContext;
  private lease!: Lease;
  private failure: unknown = null;
  private cancelled = false;

  constructor(
    private readonly store: ImageStore,
    private readonly rt: Runtime,
    private readonly opts: BuildOptions,
  ) {
    this.cache = new BuildCache(store);
    this.out = opts.output ?? silentOutput;
    // Checked first: a wrong network name fails before anything is made.
    this.net = resolveBuildNetwork(opts.network, { db: store.db, root: opts.root });
    this.df = parseDockerfile(opts.dockerfile);
    this.warnings.push(...this.df.warnings);
    this.platform = opts.platform ? parsePlatform(opts.platform) : this.hostPlat;
    const base = join(opts.root, 'build');
    mkdirSync(join(base, 'tmp'), { recursive: true, mode: 0o700 });
    this.emptyDir = join(base, 'empty');
    mkdirSync(this.emptyDir, { recursive: true, mode: 0o755 });
    cleanStaleBuilds(base, rt, (m) => this.warn(m));
    this.buildDir = mkdtempSync(join(base, 'tmp', `b-${process.pid}-`));
  }

  /** Stops the build: running steps are killed, no new step starts. */
  cancel(): void {
    this.cancelled = true;
    for (const pid of this.running) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  async build(): Promise<BuildResult> {
    const platformStr = `${this.platform.os}/${this.platform.architecture}${this.platform.variant ? '/' + this.platform.variant : ''}`;
    const hostStr = `${this.hostPlat.os}/${this.hostPlat.architecture}${this.hostPlat.variant ? '/' + this.hostPlat.variant : ''}`;
    for (const [k, v] of Object.entries({
      TARGETPLATFORM: platformStr,
      TARGETOS: this.platform.os,
      TARGETARCH: this.platform.architecture,
      TARGETVARIANT: this.platform.variant ?? '',
      BUILDPLATFORM: hostStr,
      BUILDOS: this.hostPlat.os,
      BUILDARCH: this.hostPlat.architecture,
      BUILDVARIANT: this.hostPlat.variant ?? '',
    }))
      this.globalEnv.set(k, v);
    for (const a of this.df.globalArgs) {
      for (const { name, value } of a.args) {
        const given = this.buildArg(name);
        this.globalEnv.set(name, given ?? (value !== undefined ? this.expandWord(value, this.globalEnv, a.line) : ''));
        if (given === undefined && value === undefined) this.globalEnv.delete(name);
      }
    }
    const target = this.targetStage();
    this.lease = this.store.beginLease();
    try {
      await releaseStaleStepEndpoints({ db: this.store.db, root: this.opts.root }, (m) => this.warn(m));
      this.context = this.opts.contextDir ? await BuildContext.open(this.opts.contextDir, this.opts.dockerfilePath) : BuildContext.empty();
      // Everything the target needs starts now; each stage waits for the ones it uses.
      const needed = this.neededStages(target.index);
      for (const i of needed) this.stageResult(i).catch(() => undefined);
      const result = await this.stageResult(target.index);
      const state = clone(result.state);
      if (this.opts.labels && Object.keys(this.opts.labels).length) {
        state.config.config = { ...state.config.config, Labels: { ...(state.config.config?.Labels ?? {}), ...this.opts.labels } };
      }
      const id = await this.commit(state);
      const unused = Object.keys(this.opts.buildArgs ?? {}).filter((k) => !this.usedArgs.has(k));
      if (unused.length) this.warn(`one or more build-args [${unused.join(' ')}] were not consumed`);
      return { id, tags: (this.opts.tags ?? []).map((t) => formatReference(parseReference(t))), warnings: this.warnings };
    } finally {
      for (const m of [...this.mounts].reverse()) {
        try {
          unmount(m);
        } catch (e) {
          this.warn(`cannot unmount ${m}: ${(e as Error).message}`);
        }
      }
      // Never remove a tree that still has a mount inside: the removal would go through it.
      const stuck = mountsBelow(this.buildDir);
      if (stuck.length) this.warn(`left ${this.buildDir} in place: still mounted there: ${stuck.join(', ')}`);
      else rmSync(this.buildDir, { recursive: true, force: true });
      this.lease.end();
    }
  }

  private warn(msg: string): void {
    this.warnings.push(msg);
    this.out.warn(msg);
  }

  private buildArg(name: string): string | undefined {
    const v = this.opts.buildArgs?.[name];
    if (v !== undefined) this.usedArgs.add(name);
    return v;
  }

  private expandWord(word: string, env: Env, line: number): string {
    try {
      return processWord(word, env, { escape: this.df.escape });
    } catch (e) {
      if (e instanceof LexError) throw new BuildError('EPARSE', `Dockerfile:${line}: ${e.message}`);
      throw e;
    }
  }

  private expandWords(text: string, env: Env, line: number): string[] {
    try {
      return processWords(text, env, { escape: this.df.escape });
    } catch (e) {
      if (e instanceof LexError) throw new BuildError('EPARSE', `Dockerfile:${line}: ${e.message}`);
      throw e;
    }
  }

  private targetStage(): Stage {
    const stages = this.df.stages;
    if (!this.opts.target) return stages[stages.length - 1];
    const t = this.opts.target.toLowerCase();
    const s = stages.find((x) => x.name === t);
    if (!s) throw new BuildError('EUSAGE', `target stage "${this.opts.target}" could not be found`);
    return s;
  }

  /** What a FROM or --from names: an earlier stage (by name or index), scratch, or an image. */
  private refOf(name: string, before: number): Ref {
    const lower = name.toLowerCase();
    const byName = this.df.stages.findIndex((s, i) => i < before && s.name === lower);
    if (byName >= 0) return { kind: 'stage', index: byName };
    if (/^\d+$/.test(name) && Number(name) < before) return { kind: 'stage', index: Number(name) };
    if (lower === 'scratch') return { kind: 'scratch' };
    return { kind: 'image', name };
  }

  private stageDeps(stage: Stage): number[] {
    const deps = new Set<number>();
    const add = (name: string | undefined) => {
      if (!name) return;
      let n = name;
      try {
        n = processWord(name, this.globalEnv, { escape: this.df.escape });
      } catch {
        /* reported when the step runs */
      }
      const r = this.refOf(n, stage.index);
      if (r.kind === 'stage') deps.add(r.index);
    };
    add(stage.from.image);
    const visit = (ins: Instruction) => {
      if (ins.kind === 'COPY') add(flag(ins.flags, 'from'));
      if (ins.kind === 'RUN') {
        for (const f of ins.flags.filter((x) => x.name === 'mount')) add(/(?:^|,)from=([^,]+)/.exec(f.value ?? '')?.[1]);
      }
    };
    stage.instructions.forEach(visit);
    return [...deps];
  }

  private neededStages(target: number): number[] {
    const seen = new Set<number>();
    const walk = (i: number) => {
      if (seen.has(i)) return;
      seen.add(i);
      for (const d of this.stageDeps(this.df.stages[i])) walk(d);
    };
    walk(target);
    return [...seen];
  }

  private stageResult(index: number): Promise<StageResult> {
    let p = this.stages.get(index);
    if (!p) {
      p = this.buildStage(this.df.stages[index]).catch((e) => {
        if (!this.failure) {
          this.failure = e;
          this.cancel();
        }
        throw e;
      });
      this.stages.set(index, p);
    }
    return p;
  }

  private label(stage: Stage, n: number, total: number): string {
    const name = stage.name ?? (this.df.stages.length > 1 ? `stage-${stage.index}` : '');
    return `[${name ? name + ' ' : ''}${n}/${total}]`;
  }

  // ---- stages ------------------------------------------------------------------------------------

  private async buildStage(stage: Stage): Promise<StageResult> {
    const total = stage.instructions.length + 1;
    const fromName = this.expandWord(stage.from.image, this.globalEnv, stage.from.line);
    for (const n of stage.from.image.match(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g) ?? []) this.usedArgs.add(n.replace(/^\$\{?/, ''));
    const fromPlatform = flag(stage.from.flags, 'platform');
    const platform = fromPlatform ? parsePlatform(this.expandWord(fromPlatform, this.globalEnv, stage.from.line)) : this.platform;
    const ref = this.refOf(fromName, stage.index);
    const label = this.label(stage, 1, total);
    let state: BuildState;
    let key: string;
    if (ref.kind === 'stage') {
      this.out.step(label, `FROM ${this.df.stages[ref.index].name ?? ref.index}${stage.name ? ` AS ${stage.name}` : ''}`, false);
      const base = await this.stageResult(ref.index);
      state = clone(base.state);
      key = base.key;
    } else if (ref.kind === 'scratch') {
      this.out.step(label, `FROM scratch${stage.name ? ` AS ${stage.name}` : ''}`, false);
      state = {
        config: {
          architecture: platform.architecture,
          os: platform.os,
          ...(platform.variant ? { variant: platform.variant } : {}),
          config: { Env: [DEFAULT_PATH] },
          rootfs: { type: 'layers', diff_ids: [] },
          history: [],
        },
        layers: [],
      };
      key = chainKey('scratch', JSON.stringify(platform));
    } else {
      const img = await this.resolveBase(ref.name, platform);
      this.out.step(label, `FROM ${formatReference(parseReference(ref.name))}${stage.name ? ` AS ${stage.name}` : ''}`, false);
      state = img.state;
      key = chainKey('image', img.id);
    }
    this.out.stepDone?.(label);
    // BuildKit gives every Linux stage a PATH when its base has none.
    const env = state.config.config?.Env ?? [];
    if (!env.some((e) => e.startsWith('PATH='))) state.config.config = { ...state.config.config, Env: [DEFAULT_PATH, ...env] };
    const run = new StageRun(this, stage, state, key, total);
    // ONBUILD triggers of the base run first, then leave the image.
    const triggers = state.config.config?.OnBuild ?? [];
    if (Array.isArray(triggers) && triggers.length) {
      run.state.config.config = { ...run.state.config.config, OnBuild: null };
      for (const t of triggers as string[]) {
        const parsed = parseDockerfileText(t);
        for (const raw of parsed.instructions) {
          const ins = typeInstruction(raw, this.df.escape, true);
          await run.step(ins, label, `ONBUILD ${ins.display}`);
        }
      }
    }
    for (let i = 0; i < stage.instructions.length; i++) {
      await run.step(stage.instructions[i], this.label(stage, i + 2, total));
    }
    return { state: run.state, key: run.key };
  }

  /** The base image's state, pulled when it is not in the store. */
  private async resolveBase(name: string, platform: Platform): Promise<{ id: string; state: BuildState }> {
    let found;
    try {
      found = findImage(this.store, name);
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== 'ENOIMAGE') throw e;
      this.out.info(`pulling ${name}`);
      const { pullImage } = await import('../images/pull');
      await pullImage(this.store, name, { ...this.opts.registry, platform });
      found = findImage(this.store, name);
    }
    const img = found.image;
    const p = img.platform;
    if (p.architecture && (p.architecture !== platform.architecture || p.os !== platform.os)) {
      this.warn(`the base image ${name} is for ${p.os}/${p.architecture}, the build is for ${platform.os}/${platform.architecture}`);
    }
    const config = await this.store.readConfig(img);
    for (const l of img.layers) {
      this.lease.addBlob(l.digest);
      this.lease.addSnapshot(l.diffId);
    }
    this.lease.addBlob(img.id);
    return { id: img.id, state: { config: clone(config), layers: img.layers.map((l) => ({ ...l, mediaType: normalizeLayerType(l.mediaType) })) } };
  }

  /** The final state of a stage or an image, for COPY --from and RUN --mount from=. */
  async sourceState(name: string, before: number): Promise<{ id: string; state: BuildState }> {
    const ref = this.refOf(name, before);
    if (ref.kind === 'stage') {
      const r = await this.stageResult(ref.index);
      return { id: r.key, state: r.state };
    }
    if (ref.kind === 'scratch') return { id: 'scratch', state: { config: { architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [] } }, layers: [] } };
    return this.resolveBase(name, this.platform);
  }

  // ---- services for steps --------------------------------------------------------------------------

  get ctx(): BuildContext {
    return this.context;
  }
  get escape(): string {
    return this.df.escape;
  }
  get globals(): Map<string, string> {
    return this.globalEnv;
  }
  get noCache(): boolean {
    return !!this.opts.noCache;
  }
  get output(): BuildOutput {
    return this.out;
  }
  get targetPlatform(): Platform {
    return this.platform;
  }
  get hostPlatform(): Platform {
    return this.hostPlat;
  }
  get engineRoot(): string {
    return this.opts.root;
  }
  get runtime(): Runtime {
    return this.rt;
  }
  /** The build's network (RUN steps' default). */
  get network(): BuildNetwork {
    return this.net;
  }
  get db(): Db {
    return this.store.db;
  }
  lookupArg(name: string): string | undefined {
    return this.buildArg(name);
  }
  expand(word: string, env: Env, line: number): string {
    return this.expandWord(word, env, line);
  }
  expandList(text: string, env: Env, line: number): string[] {
    return this.expandWords(text, env, line);
  }
  checkCancelled(): void {
    if (this.cancelled) throw new BuildError('ESTEP', 'build cancelled');
  }
  cacheGet(key: string): BuildState | null {
    if (this.opts.noCache) return null;
    return this.cache.get(key, (digests) => digests.forEach((d) => this.lease.addBlob(d)));
  }
  cachePut(key: string, state: BuildState): void {
    this.cache.put(key, state);
  }

  /** A fresh directory for a step (removed with the build). */
  stepDir(): string {
    return mkdtempSync(join(this.buildDir, 's-'));
  }

  /** Snapshot directories of `layers`, top first (unpacked again if one went missing). */
  async lowerdirs(layers: LayerRecord[]): Promise<string[]> {
    const out: string[] = [];
    for (const l of layers) {
      await this.store.ensureSnapshot(l.digest, l.diffId, this.lease);
      out.push(this.store.snapshotPath(l.diffId));
    }
    return out.reverse();
  }

  /** Runs `fn` on a writable overlay of `layers`; returns the new layer, or null if nothing changed. */
  async withStepRoot(layers: LayerRecord[], fn: (rootfs: string) => Promise<string[] | void>): Promise<LayerRecord | null> {
    const dir = this.stepDir();
    const lower = await this.lowerdirs(layers);
    const { rootfs, upper } = mountStepRoot(dir, lower, this.emptyDir, join(this.opts.root, 'build', 'l'));
    this.mounts.add(rootfs);
    let created: string[] = [];
    try {
      created = (await fn(rootfs)) ?? [];
    } finally {
      unmount(rootfs);
      this.mounts.delete(rootfs);
    }
    pruneCreated(upper, created, lower);
    try {
      if (!(await hasChanges(upper))) return null;
      return await commitLayer(this.store, upper, this.lease);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** A read-only view of `layers` for reading files (unmounted at the end of the build). */
  async readOnlyRoot(layers: LayerRecord[]): Promise<string> {
    if (layers.length === 0) return this.emptyDir;
    const target = join(this.stepDir(), 'ro');
    mountReadOnly(target, await this.lowerdirs(layers), this.emptyDir, join(this.opts.root, 'build', 'l'));
    this.mounts.add(target);
    return target;
  }

  trackPid(pid: number, on: boolean): void {
    if (on) {
      this.running.add(pid);
      if (this.cancelled) this.cancel();
    } else this.running.delete(pid);
  }

  private async commit(state: BuildState): Promise<string> {
    const config = state.config;
    config.rootfs = { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) };
    const body = Buffer.from(JSON.stringify(config));
    const configDigest = await this.store.blobs.put(body);
    this.lease.addBlob(configDigest);
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: configDigest, size: body.length },
      layers: state.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const mbody = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = await this.store.blobs.put(mbody);
    this.lease.addBlob(manifestDigest);
    for (const l of state.layers) await this.store.ensureSnapshot(l.digest, l.diffId, this.lease);
    const tags = (this.opts.tags ?? []).map((t) => formatReference(parseReference(t)));
    await this.store.putImage(
      {
        configDigest,
        configMediaType: MT.ociConfig,
        manifestDigest,
        manifestMediaType: MT.ociManifest,
        layers: state.layers,
        config,
        size: body.length + state.layers.reduce((a, l) => a + l.size, 0),
      },
      tags,
      [],
    );
    return configDigest;
  }
}

/**
 * What a dock killed in the middle of a build left: its step containers (still running, or
 * stopped), their state, the overlay mounts and the build directory. A build directory is named
 * b-<pid>-...; once that pid is gone, its leftovers are removed by the next build.
 */
export function cleanStaleBuilds(base: string, rt: Runtime, warn: (m: string) => void): void {
  const tmp = join(base, 'tmp');
  let names: string[] = [];
  try {
    names = readdirSync(tmp);
  } catch {
    return;
  }
  const dead = names.filter((n) => {
    const m = /^b-(\d+)-/.exec(n);
    return m && !pidAlive(Number(m[1]));
  });
  if (dead.length === 0) return;
  const deadDirs = dead.map((n) => join(tmp, n) + '/');
  for (const id of rt.store.ids()) {
    try {
      const rec = rt.store.read(id);
      if (!deadDirs.some((d) => (rec.bundle + '/').startsWith(d))) continue;
    } catch {
      continue; // being created by a live build, or already gone
    }
    try {
      deleteContainer(rt, id, true);
    } catch (e) {
      warn(`remove the step container ${id} of an interrupted build: ${(e as Error).message}`);
    }
  }
  for (const d of deadDirs) {
    for (const m of mountsBelow(d).sort((a, b) => b.length - a.length)) {
      try {
        unmount(m);
      } catch (e) {
        warn(`unmount ${m} of an interrupted build: ${(e as Error).message}`);
      }
    }
    if (mountsBelow(d).length === 0) rmSync(d, { recursive: true, force: true });
  }
}

/**
 * Removes mount points the runtime made in upper/ for a step (empty, and not in the image), then
 * their parents that only a mount point's creation copied up (e.g. /etc for /etc/resolv.conf): empty
 * in upper/, not opaque, and the same directory (mode, owner) in the layers below. Only their mtime
 * could differ, from the mount point's creation.
 */
function pruneCreated(upper: string, created: string[], lower: string[]): void {
  const parents = new Set<string>();
  for (const p of [...created].sort((a, b) => b.length - a.length)) {
    for (let d = posix.dirname(p); d !== '/' && d !== '.'; d = posix.dirname(d)) if (!created.includes(d)) parents.add(d);
    const host = join(upper, p);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st) continue;
    try {
      if (st.isDirectory()) {
        if (readdirSync(host).length === 0) rmdirSync(host);
      } else if (st.isFile() && st.size === 0) rmSync(host);
    } catch {
      /* keep it */
    }
  }
  for (const d of [...parents].sort((a, b) => b.length - a.length)) {
    const host = join(upper, d);
    const st = lstatSync(host, { throwIfNoEntry: false });
    if (!st?.isDirectory()) continue;
    try {
      if (readdirSync(host).length || getAttributeSync(host, 'trusted.overlay.opaque')?.toString() === 'y') continue;
    } catch {
      continue;
    }
    const below = lower.map((l) => lstatSync(join(l, d), { throwIfNoEntry: false })).find((x) => x);
    if (below?.isDirectory() && below.mode === st.mode && below.uid === st.uid && below.gid === st.gid) rmdirSync(host);
  }
}

/** Runs a build with the given store and runtime. */
export async function build(store: ImageStore, rt: Runtime, opts: BuildOptions, onBuilder?: (b: Builder) => void): Promise<BuildResult> {
  const b = new Builder(store, rt, opts);
  onBuilder?.(b);
  const r = await b.build();
  imageEvent(store, 'build', r.id, r.tags[0]);
  return r;
}
