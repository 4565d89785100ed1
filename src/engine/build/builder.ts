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

import { createHash, randomBytes } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Mount } from '../../oci/types';
import type { Runtime } from '../../runtime/runtime';
import { resolveInRoot, resolveUser } from '../containers/rootfs';
import { findImage } from '../images/lookup';
import type { ClientOptions } from '../registry/client';
import { hostPlatform, type ImageConfig, type ImageManifest, MT, parsePlatform, type Platform } from '../registry/manifest';
import { formatReference, parseReference } from '../registry/reference';
import { StoreError } from '../store/errors';
import type { ImageStore, LayerRecord, Lease } from '../store/store';
import { type BuildState, BuildCache, chainKey } from './cache';
import { BuildContext, cleanContextPath } from './context';
import { contextItems, copyInto, type CopyItem, type CopyOptions, mkdirInRoot } from './copy';
import { type CommandForm, type Dockerfile, type Flag, type Instruction, type Stage, heredocBody, parseDockerfile, parseDockerfileText, parseHeredocWord, typeInstruction } from './dockerfile';
import { BuildError } from './errors';
import { commitLayer, hasChanges } from './layer';
import { mountReadOnly, mountStepRoot, unmount } from './overlay';
import { runInContainer } from './run-step';
import { type Env, LexError, processWord, processWords } from './shell-lex';

export interface BuildOutput {
  /** A step starts (or is taken from the cache). */
  step(label: string, text: string, cached: boolean): void;
  /** A line of a RUN step's output. */
  line(label: string, text: string): void;
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
  output?: BuildOutput;
  /** Engine root: the build's scratch space and cache mounts live under <root>/build. */
  root: string;
}

export interface BuildResult {
  id: string;
  tags: string[];
  warnings: string[];
}

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

interface StageResult {
  state: BuildState;
  key: string;
}

type Ref = { kind: 'stage'; index: number } | { kind: 'image'; name: string } | { kind: 'scratch' };

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function flag(flags: Flag[], name: string): string | undefined {
  const f = flags.find((x) => x.name === name);
  return f ? (f.value ?? 'true') : undefined;
}

/** Docker's durations: 30s, 1m30s, 500ms, 1h. */
export function parseDuration(s: string, what: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let m;
  let pos = 0;
  while ((m = re.exec(s))) {
    total += parseFloat(m[1]) * unit[m[2]];
    pos = re.lastIndex;
  }
  if (s === '' || pos !== s.length) throw new BuildError('EPARSE', `invalid duration for ${what}: "${s}"`);
  return Math.round(total);
}

function envMap(list: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
    else m.set(e, '');
  }
  return m;
}

function setEnv(list: string[], key: string, value: string): string[] {
  return [...list.filter((e) => e.split('=', 1)[0] !== key), `${key}=${value}`];
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
    this.df = parseDockerfile(opts.dockerfile);
    this.warnings.push(...this.df.warnings);
    this.platform = opts.platform ? parsePlatform(opts.platform) : this.hostPlat;
    const base = join(opts.root, 'build');
    mkdirSync(join(base, 'tmp'), { recursive: true, mode: 0o700 });
    this.emptyDir = join(base, 'empty');
    mkdirSync(this.emptyDir, { recursive: true, mode: 0o755 });
    this.buildDir = mkdtempSync(join(base, 'tmp', `b-`));
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
        } catch {
          /* reported by the leftover check of the caller */
        }
      }
      rmSync(this.buildDir, { recursive: true, force: true });
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
    const s = this.cache.get(key);
    if (s) for (const l of s.layers) this.lease.addBlob(l.digest);
    return s;
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
    const { rootfs, upper } = mountStepRoot(dir, lower, this.emptyDir);
    this.mounts.add(rootfs);
    let created: string[] = [];
    try {
      created = (await fn(rootfs)) ?? [];
    } finally {
      unmount(rootfs);
      this.mounts.delete(rootfs);
    }
    pruneCreated(upper, created);
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
    mountReadOnly(target, await this.lowerdirs(layers), this.emptyDir);
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

/** Removes mount points the runtime made in upper/ for a step (empty, and not in the image). */
function pruneCreated(upper: string, created: string[]): void {
  for (const p of [...created].sort((a, b) => b.length - a.length)) {
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
}

// ---- one stage's steps ----------------------------------------------------------------------------

class StageRun {
  /** Values of the ARGs declared in this stage. */
  private readonly args = new Map<string, string>();
  private cmdSet = false;

  constructor(
    private readonly b: Builder,
    private readonly stage: Stage,
    public state: BuildState,
    public key: string,
    private readonly total: number,
  ) {
    state.config.config ??= {};
    state.config.history ??= [];
  }

  private get cfg(): NonNullable<ImageConfig['config']> {
    return (this.state.config.config ??= {});
  }

  /** Variables for substitution: the stage's ARGs, overridden by ENV. */
  private env(): Map<string, string> {
    const m = new Map(this.args);
    for (const [k, v] of envMap(this.cfg.Env)) m.set(k, v);
    return m;
  }

  private history(createdBy: string, empty: boolean): void {
    this.state.config.history!.push({ created: new Date().toISOString(), created_by: createdBy, comment: HISTORY_COMMENT, ...(empty ? { empty_layer: true } : {}) });
    this.state.config.created = new Date().toISOString();
  }

  private addLayer(layer: LayerRecord | null, createdBy: string): void {
    if (layer) {
      this.state.layers.push(layer);
      this.state.config.rootfs = { type: 'layers', diff_ids: this.state.layers.map((l) => l.diffId) };
    }
    this.history(createdBy, !layer);
  }

  private shellArgs(cmd: CommandForm): string[] {
    if (cmd.json) return cmd.args;
    return [...((this.cfg.Shell as string[] | undefined) ?? DEFAULT_SHELL), cmd.text];
  }

  async step(ins: Instruction, label: string, display = ins.display): Promise<void> {
    this.b.checkCancelled();
    const env = this.env();
    // ARG only changes the build's variables (no history entry, as BuildKit).
    if (ins.kind === 'ARG') {
      this.b.output.step(label, display, false);
      for (const { name, value } of ins.args) {
        const given = this.b.lookupArg(name);
        const v = given ?? (value !== undefined ? this.b.expand(value, env, ins.line) : this.b.globals.get(name));
        if (v !== undefined) this.args.set(name, v);
        else this.args.delete(name);
      }
      this.key = chainKey(this.key, `ARG ${ins.args.map((a) => `${a.name}=${this.args.get(a.name) ?? ''}`).join(' ')}`);
      return;
    }
    const plan = await this.plan(ins, env);
    const key = chainKey(this.key, plan.keyText, plan.contentHash ?? '');
    const hit = plan.cacheable === false ? null : this.b.cacheGet(key);
    if (hit) {
      this.b.output.step(label, display, true);
      this.state = hit;
      this.key = key;
      if (ins.kind === 'CMD') this.cmdSet = true;
      return;
    }
    this.b.output.step(label, display, false);
    await plan.run(label);
    this.key = key;
    this.b.cachePut(key, this.state);
  }

  /** How a step is keyed and what it does. */
  private async plan(ins: Instruction, env: Map<string, string>): Promise<{ keyText: string; contentHash?: string; cacheable?: boolean; run: (label: string) => Promise<void> }> {
    const b = this.b;
    const ex = (w: string) => b.expand(w, env, ins.line);
    switch (ins.kind) {
      case 'ENV': {
        const pairs = ins.pairs.map((p) => ({ key: ex(p.key), value: ex(p.value) }));
        const text = `ENV ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
        return {
          keyText: text,
          run: async () => {
            let list = this.cfg.Env ?? [];
            for (const p of pairs) {
              if (p.key === '') throw new BuildError('EPARSE', `Dockerfile:${ins.line}: ENV names can not be blank`);
              list = setEnv(list, p.key, p.value);
            }
            this.cfg.Env = list;
            this.history(text, true);
          },
        };
      }
      case 'LABEL': {
        const pairs = ins.pairs.map((p) => ({ key: ex(p.key), value: ex(p.value) }));
        const text = `LABEL ${pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`;
        return {
          keyText: text,
          run: async () => {
            this.cfg.Labels = { ...(this.cfg.Labels ?? {}) };
            for (const p of pairs) this.cfg.Labels[p.key] = p.value;
            this.history(text, true);
          },
        };
      }
      case 'MAINTAINER': {
        const v = ins.value;
        return { keyText: `MAINTAINER ${v}`, run: async () => ((this.state.config.author = v), this.history(`MAINTAINER ${v}`, true)) };
      }
      case 'USER': {
        const v = ex(ins.value);
        return { keyText: `USER ${v}`, run: async () => ((this.cfg.User = v), this.history(`USER ${v}`, true)) };
      }
      case 'STOPSIGNAL': {
        const v = ex(ins.value);
        return { keyText: `STOPSIGNAL ${v}`, run: async () => ((this.cfg.StopSignal = v), this.history(`STOPSIGNAL ${v}`, true)) };
      }
      case 'EXPOSE': {
        const ports: string[] = [];
        for (const p of ins.ports.flatMap((w) => b.expandList(w, env, ins.line))) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: invalid containerPort: ${p}`);
          const proto = (m[3] ?? 'tcp').toLowerCase();
          const lo = Number(m[1]);
          const hi = m[2] ? Number(m[2]) : lo;
          if (hi < lo || hi > 65535) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: invalid port range: ${p}`);
          for (let x = lo; x <= hi; x++) ports.push(`${x}/${proto}`);
        }
        const text = `EXPOSE ${ports.join(' ')}`;
        return {
          keyText: text,
          run: async () => {
            this.cfg.ExposedPorts = { ...(this.cfg.ExposedPorts ?? {}) };
            for (const p of ports) this.cfg.ExposedPorts[p] = {};
            this.history(text, true);
          },
        };
      }
      case 'VOLUME': {
        const paths = ins.paths.map(ex).filter((p) => p !== '');
        if (paths.length === 0) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: VOLUME specified can not be an empty string`);
        const text = `VOLUME [${paths.map((p) => JSON.stringify(p)).join(' ')}]`;
        return {
          keyText: text,
          run: async () => {
            this.cfg.Volumes = { ...(this.cfg.Volumes ?? {}) };
            for (const p of paths) this.cfg.Volumes[p] = {};
            this.history(text, true);
          },
        };
      }
      case 'CMD':
      case 'ENTRYPOINT': {
        const args = this.shellArgs(ins.cmd);
        const text = `${ins.kind} ${JSON.stringify(args)}`;
        return {
          keyText: text,
          run: async () => {
            if (ins.kind === 'CMD') {
              this.cfg.Cmd = args;
              this.cmdSet = true;
            } else {
              this.cfg.Entrypoint = args;
              // An ENTRYPOINT drops a CMD inherited from the base (not one set in this stage).
              if (!this.cmdSet) this.cfg.Cmd = null;
            }
            this.history(text, true);
          },
        };
      }
      case 'SHELL': {
        const text = `SHELL ${JSON.stringify(ins.args)}`;
        return { keyText: text, run: async () => ((this.cfg.Shell = ins.args), this.history(text, true)) };
      }
      case 'HEALTHCHECK': {
        let hc: Record<string, unknown>;
        if (ins.none) hc = { Test: ['NONE'] };
        else {
          const c = ins.cmd!;
          hc = { Test: c.json ? ['CMD', ...c.args] : ['CMD-SHELL', c.text] };
          const dur = (name: string, field: string) => {
            const v = flag(ins.flags, name);
            if (v !== undefined) {
              const ns = parseDuration(v, `--${name}`);
              if (ns !== 0 && ns < 1e6) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: --${name} cannot be less than 1ms`);
              hc[field] = ns;
            }
          };
          dur('interval', 'Interval');
          dur('timeout', 'Timeout');
          dur('start-period', 'StartPeriod');
          dur('start-interval', 'StartInterval');
          const r = flag(ins.flags, 'retries');
          if (r !== undefined) {
            if (!/^\d+$/.test(r) || Number(r) < 1) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: --retries must be at least 1`);
            hc.Retries = Number(r);
          }
        }
        const text = `HEALTHCHECK ${JSON.stringify(hc)}`;
        return { keyText: text, run: async () => ((this.cfg.Healthcheck = hc), this.history(text, true)) };
      }
      case 'ONBUILD': {
        const text = `ONBUILD ${ins.trigger}`;
        return {
          keyText: text,
          run: async () => {
            this.cfg.OnBuild = [...((this.cfg.OnBuild as string[] | null | undefined) ?? []), ins.trigger];
            this.history(text, true);
          },
        };
      }
      case 'WORKDIR': {
        const v = ex(ins.value);
        const dir = posix.resolve(this.cfg.WorkingDir || '/', v);
        const text = `WORKDIR ${dir}`;
        return {
          keyText: text,
          run: async () => {
            const user = this.cfg.User;
            const layer = await b.withStepRoot(this.state.layers, async (rootfs) => {
              const owner = user ? this.resolveUserIn(rootfs, user, ins.line) : undefined;
              const missing = !lstatSync(resolveInRoot(rootfs, dir), { throwIfNoEntry: false });
              mkdirInRoot(rootfs, dir, missing && owner ? { uid: owner.uid, gid: owner.gid } : undefined);
            });
            this.cfg.WorkingDir = dir;
            this.addLayer(layer, text);
          },
        };
      }
      case 'RUN':
        return this.planRun(ins, env);
      case 'COPY':
      case 'ADD':
        return this.planCopy(ins, env);
      case 'FROM':
      case 'ARG':
        throw new Error('unreachable');
    }
  }

  private resolveUserIn(rootfs: string, spec: string, line: number) {
    try {
      return resolveUser(rootfs, spec);
    } catch (e) {
      throw new BuildError('ESTEP', `Dockerfile:${line}: ${(e as Error).message}`);
    }
  }

  // ---- RUN -------------------------------------------------------------------------------------

  private async planRun(ins: Extract<Instruction, { kind: 'RUN' }>, env: Map<string, string>) {
    const b = this.b;
    let argv: string[];
    let script: { name: string; data: string } | null = null;
    if (ins.cmd.json) argv = ins.cmd.args;
    else if (ins.heredocs.length) {
      const only = parseHeredocWord(ins.cmd.text.trim());
      if (only && ins.heredocs.length === 1) {
        const data = heredocBody(ins.heredocs[0]);
        if (data.startsWith('#!')) {
          script = { name: ins.heredocs[0].name, data };
          argv = [posix.join('/dev/pipes', ins.heredocs[0].name)];
        } else argv = this.shellArgs({ json: false, text: data });
      } else {
        let full = ins.cmd.text;
        for (const h of ins.heredocs) full += '\n' + h.content + h.name;
        argv = this.shellArgs({ json: false, text: full });
      }
    } else argv = this.shellArgs(ins.cmd);

    // Build args are in the step's environment unless ENV sets the same name.
    const cfgEnv = envMap(this.cfg.Env);
    const argEnv = [...this.args].filter(([k]) => !cfgEnv.has(k)).sort(([a], [c]) => a.localeCompare(c));
    const mounts = await this.parseMounts(ins, env);
    const network = flag(ins.flags, 'network');
    if (network === 'host') throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: RUN --network=host is not supported: build steps run without a network here`);
    if (network && !['none', 'default'].includes(network)) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: invalid --network: ${network}`);
    if (flag(ins.flags, 'security') === 'insecure') throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: RUN --security=insecure is not allowed`);
    const argText = argEnv.length ? `|${argEnv.length} ${argEnv.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
    const createdBy = `RUN ${argText}${argv.join(' ')} # buildkit`;
    const keyText = `RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)} ${JSON.stringify(mounts.map((m) => m.key))} ${script ? script.data : ''}`;
    const contentHash = mounts.map((m) => m.contentHash ?? '').join(',');
    return {
      keyText,
      contentHash,
      run: async (label: string) => {
        const p = b.targetPlatform;
        const h = b.hostPlatform;
        if (p.architecture !== h.architecture || p.os !== h.os) {
          throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: cannot RUN for ${p.os}/${p.architecture} on this ${h.os}/${h.architecture} host (no emulation here)`);
        }
        const dir = b.stepDir();
        const extra: Mount[] = [];
        for (const m of mounts) extra.push(await m.make(dir));
        if (script) {
          const pipes = join(dir, 'pipes');
          mkdirSync(pipes, { mode: 0o755 });
          const { writeFileSync } = await import('node:fs');
          writeFileSync(join(pipes, script.name), script.data, { mode: 0o755 });
          extra.push({ destination: '/dev/pipes', type: 'bind', source: pipes, options: ['rbind', 'ro'] });
        }
        let exitCode = 0;
        const cwd = this.cfg.WorkingDir || '/';
        const layer = await b.withStepRoot(this.state.layers, async (rootfs) => {
          const user = this.resolveUserIn(rootfs, this.cfg.User || '0', ins.line);
          // Mount points the runtime will make (and the working directory) if the image lacks them.
          const created: string[] = [];
          for (const dest of ['/proc', '/dev', '/sys', ...extra.map((m) => m.destination).filter((d) => !d.startsWith('/dev/'))]) {
            const parts = dest.split('/').filter(Boolean);
            for (let i = 1; i <= parts.length; i++) {
              const sub = '/' + parts.slice(0, i).join('/');
              if (!lstatSync(resolveInRoot(rootfs, sub), { throwIfNoEntry: false }) && !created.includes(sub)) created.push(sub);
            }
          }
          mkdirInRoot(rootfs, cwd);
          const runEnv = [...(this.cfg.Env ?? [])];
          for (const [k, v] of argEnv) runEnv.push(`${k}=${v}`);
          if (!runEnv.some((e) => e.startsWith('PATH='))) runEnv.unshift(DEFAULT_PATH);
          if (!runEnv.some((e) => e.startsWith('HOME='))) runEnv.push(`HOME=${user.home || '/root'}`);
          const id = `build-${randomBytes(6).toString('hex')}`;
          let pid = 0;
          try {
            exitCode = await runInContainer({
              rt: b.runtime,
              id,
              dir,
              rootfs,
              args: argv,
              env: runEnv,
              cwd,
              user,
              mounts: extra,
              onLine: (l) => b.output.line(label, l),
              onStart: (p2) => {
                pid = p2;
                b.trackPid(p2, true);
              },
            });
          } finally {
            if (pid) b.trackPid(pid, false);
          }
          return created;
        });
        b.checkCancelled();
        if (exitCode !== 0) {
          throw new BuildError('ERUN', `step ${label} ${ins.display.length > 200 ? ins.display.slice(0, 200) + '...' : ins.display}: process "${argv.join(' ')}" did not complete successfully: exit code: ${exitCode}`, { exitCode });
        }
        this.addLayer(layer, createdBy);
      },
    };
  }

  private async parseMounts(ins: Extract<Instruction, { kind: 'RUN' }>, env: Map<string, string>) {
    const b = this.b;
    const out: Array<{ key: string; contentHash?: string; make: (dir: string) => Promise<Mount> }> = [];
    for (const f of ins.flags.filter((x) => x.name === 'mount')) {
      const o: Record<string, string> = {};
      for (const part of b.expand(f.value ?? '', env, ins.line).split(',')) {
        if (!part) continue;
        const eq = part.indexOf('=');
        o[(eq < 0 ? part : part.slice(0, eq)).toLowerCase()] = eq < 0 ? 'true' : part.slice(eq + 1);
      }
      const type = o.type ?? 'bind';
      const target = o.target ?? o.dst ?? o.destination;
      if (!target && type !== 'secret' && type !== 'ssh') throw new BuildError('EPARSE', `Dockerfile:${ins.line}: --mount needs a target`);
      const dest = target ? posix.resolve(this.cfg.WorkingDir || '/', target) : '';
      const ro = o.ro === 'true' || o.readonly === 'true' || (type === 'bind' && o.rw !== 'true' && o.readwrite !== 'true');
      if (type === 'cache') {
        const id = o.id ?? dest;
        const hostDir = join(b.engineRoot, 'build', 'cache-mounts', createHash('sha256').update(id).digest('hex').slice(0, 32));
        out.push({
          key: `cache:${dest}:${id}`,
          make: async () => {
            mkdirSync(hostDir, { recursive: true, mode: o.mode ? parseInt(o.mode, 8) : 0o755 });
            if (o.uid || o.gid) (await import('node:fs')).chownSync(hostDir, Number(o.uid ?? 0), Number(o.gid ?? 0));
            return { destination: dest, type: 'bind', source: hostDir, options: ['rbind', ro ? 'ro' : 'rw'] };
          },
        });
      } else if (type === 'tmpfs') {
        out.push({ key: `tmpfs:${dest}`, make: async () => ({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(o.size ? [`size=${o.size}`] : [])] }) });
      } else if (type === 'bind') {
        const source = o.source ?? o.src ?? '';
        if (o.from) {
          const from = o.from;
          const src = await b.sourceState(from, this.stage.index);
          out.push({
            key: `bind:${dest}:${from}:${source}:${ro}`,
            contentHash: src.id,
            make: async (dir) => {
              const root = await b.readOnlyRoot(src.state.layers);
              let host = resolveInRoot(root, source || '/');
              if (!ro) {
                const copy = join(dir, `bind-${out.length}`);
                cpSync(host, copy, { recursive: true, verbatimSymlinks: true });
                host = copy;
              }
              return { destination: dest, type: 'bind', source: host, options: ['rbind', ro ? 'ro' : 'rw'] };
            },
          });
        } else {
          if (!b.ctx.dir) throw new BuildError('ECONTEXT', `Dockerfile:${ins.line}: RUN --mount=type=bind needs a build context`);
          const rel = cleanContextPath(source);
          if (!b.ctx.entries.has(rel)) throw new BuildError('ECONTEXT', `Dockerfile:${ins.line}: "/${rel}": not found in the build context`);
          out.push({
            key: `bind:${dest}:context:${rel}:${ro}`,
            contentHash: await b.ctx.contentHash([rel]),
            make: async (dir) => {
              // A copy of what .dockerignore lets through: ignored files never reach the step.
              const copy = join(dir, `ctx-${createHash('sha256').update(rel + dest).digest('hex').slice(0, 8)}`);
              const st = b.ctx.entries.get(rel)!;
              if (st.isDirectory()) {
                mkdirSync(copy, { mode: 0o755 });
                for (const e of b.ctx.below(rel)) {
                  if (e === rel) continue;
                  const sub = rel ? e.slice(rel.length + 1) : e;
                  const s = b.ctx.entries.get(e)!;
                  if (s.isDirectory()) mkdirSync(join(copy, sub), { recursive: true });
                  else cpSync(b.ctx.abs(e), join(copy, sub), { verbatimSymlinks: true });
                }
              } else cpSync(b.ctx.abs(rel), copy, { verbatimSymlinks: true });
              return { destination: dest, type: 'bind', source: copy, options: ['rbind', ro ? 'ro' : 'rw'] };
            },
          });
        }
      } else if (type === 'secret' || type === 'ssh') {
        throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: RUN --mount=type=${type} is not supported by dock build (no secrets or SSH agent are passed to builds)`);
      } else {
        throw new BuildError('EPARSE', `Dockerfile:${ins.line}: unsupported mount type "${type}"`);
      }
    }
    return out;
  }

  // ---- COPY / ADD ------------------------------------------------------------------------------

  private async planCopy(ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>, env: Map<string, string>) {
    const b = this.b;
    const ex = (w: string) => b.expand(w, env, ins.line);
    const from = flag(ins.flags, 'from');
    const fromName = from !== undefined ? ex(from) : undefined;
    const chown = flag(ins.flags, 'chown');
    const chownV = chown !== undefined ? ex(chown) : undefined;
    const chmod = flag(ins.flags, 'chmod');
    const chmodV = chmod !== undefined ? ex(chmod) : undefined;
    if (chmodV !== undefined && !/^[0-7]{3,4}$/.test(chmodV)) throw new BuildError('EPARSE', `Dockerfile:${ins.line}: invalid --chmod "${chmodV}": an octal mode is expected`);
    if (ins.kind === 'ADD' && flag(ins.flags, 'checksum') !== undefined) throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: ADD --checksum is only for remote URLs, which dock build does not fetch`);
    const heredocs = new Map(ins.heredocs.map((h) => [h.name, h]));
    const destRaw = ex(ins.dest);
    const workdir = this.cfg.WorkingDir || '/';
    let dest = posix.resolve(workdir, destRaw);
    if ((destRaw.endsWith('/') || destRaw === '.' || destRaw.endsWith('/.')) && !dest.endsWith('/')) dest += '/';

    const srcWords: Array<{ heredoc?: string; path?: string }> = [];
    for (const s of ins.sources) {
      const h = !ins.json ? parseHeredocWord(s) : null;
      if (h && heredocs.has(h.name)) srcWords.push({ heredoc: h.name });
      else srcWords.push({ path: ex(s) });
    }
    for (const s of srcWords) {
      if (s.path && /^[a-z][a-z0-9+.-]*:\/\//i.test(s.path)) {
        throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: ${ins.kind} from a URL (${s.path}) is not supported: this machine has no network access for builds; put the file in the build context and COPY it`);
      }
      if (s.path && /^git@|\.git(#.*)?$/.test(s.path) && ins.kind === 'ADD') {
        throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: ADD of a git repository (${s.path}) is not supported: clone it into the build context first`);
      }
    }
    const heredocData = (name: string) => {
      const h = heredocs.get(name)!;
      const body = heredocBody(h);
      return h.expand ? b.expand(body, env, ins.line) : body;
    };
    const flagsText = [fromName !== undefined ? `--from=${fromName}` : '', chownV ? `--chown=${chownV}` : '', chmodV ? `--chmod=${chmodV}` : ''].filter(Boolean).join(' ');
    const srcText = srcWords.map((s) => (s.heredoc ? `<<${s.heredoc}` : s.path)).join(' ');
    const createdBy = `${ins.kind} ${flagsText ? flagsText + ' ' : ''}${srcText} ${dest} # buildkit`;

    let contentHash: string;
    let items: () => Promise<CopyItem[]>;
    if (fromName !== undefined) {
      const src = await b.sourceState(fromName, this.stage.index);
      contentHash = `from:${src.id}:${srcWords.map((s) => (s.heredoc ? heredocData(s.heredoc) : '')).join('\0')}`;
      items = async () => {
        const root = await b.readOnlyRoot(src.state.layers);
        const out: CopyItem[] = [];
        for (const s of srcWords) {
          if (s.heredoc) out.push({ host: '', name: s.heredoc, keepOwner: false, data: heredocData(s.heredoc) });
          else for (const p of treeGlob(root, s.path!)) out.push({ host: p.host, name: p.name, keepOwner: true });
        }
        return out;
      };
    } else {
      const rels: string[][] = srcWords.map((s) => (s.path !== undefined ? b.ctx.resolveSource(s.path) : []));
      const hashes: string[] = [];
      for (let i = 0; i < srcWords.length; i++) {
        const s = srcWords[i];
        hashes.push(s.heredoc ? `heredoc:${heredocData(s.heredoc)}` : await b.ctx.contentHash(rels[i]));
      }
      contentHash = hashes.join(',');
      items = async () => {
        const out: CopyItem[] = [];
        srcWords.forEach((s, i) => {
          if (s.heredoc) out.push({ host: '', name: s.heredoc, keepOwner: false, data: heredocData(s.heredoc) });
          else out.push(...contextItems(b.ctx, rels[i]));
        });
        return out;
      };
    }
    return {
      keyText: `${ins.kind} ${flagsText} ${srcText} ${dest}`,
      contentHash,
      run: async () => {
        const list = await items();
        const layer = await b.withStepRoot(this.state.layers, async (rootfs) => {
          const opts: CopyOptions = { extract: ins.kind === 'ADD' && fromName === undefined };
          if (chownV) {
            const u = this.resolveUserIn(rootfs, chownV, ins.line);
            opts.chown = { uid: u.uid, gid: u.gid };
          }
          if (chmodV) opts.chmod = parseInt(chmodV, 8);
          await copyInto(rootfs, dest, list, opts);
        });
        this.addLayer(layer, createdBy);
      },
    };
  }
}

/** Paths in a mounted tree matching a COPY --from source (glob per segment, links followed). */
function treeGlob(root: string, pattern: string): Array<{ host: string; name: string }> {
  const clean = posix.normalize('/' + pattern);
  if (!/[*?[]/.test(clean)) {
    const host = resolveInRoot(root, clean);
    if (!lstatSync(host, { throwIfNoEntry: false })) throw new BuildError('ECONTEXT', `"${clean}": not found`);
    return [{ host, name: posix.basename(clean) || '' }];
  }
  const segs = clean.split('/').filter(Boolean);
  let cur: Array<{ path: string }> = [{ path: '/' }];
  for (const seg of segs) {
    const next: Array<{ path: string }> = [];
    const re = /[*?[]/.test(seg) ? new RegExp('^' + seg.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]') + '$') : null;
    for (const c of cur) {
      if (!re) {
        next.push({ path: posix.join(c.path, seg) });
        continue;
      }
      let names: string[] = [];
      try {
        names = readdirSync(resolveInRoot(root, c.path)).sort();
      } catch {
        /* not a directory */
      }
      for (const n of names) if (re.test(n)) next.push({ path: posix.join(c.path, n) });
    }
    cur = next;
  }
  const out = cur.map((c) => ({ host: resolveInRoot(root, c.path), name: posix.basename(c.path) })).filter((c) => lstatSync(c.host, { throwIfNoEntry: false }));
  if (out.length === 0) throw new BuildError('ECONTEXT', `no source files were specified: "${pattern}" matches nothing`);
  return out;
}

/** Runs a build with the given store and runtime. */
export async function build(store: ImageStore, rt: Runtime, opts: BuildOptions, onBuilder?: (b: Builder) => void): Promise<BuildResult> {
  const b = new Builder(store, rt, opts);
  onBuilder?.(b);
  return b.build();
}
