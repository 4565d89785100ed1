// One stage's steps: each instruction is expanded with the stage's ARGs and ENV, keyed for the
// cache, and run when the cache does not have it. Metadata instructions change the config only;
// WORKDIR, RUN, COPY and ADD run on an overlay of the stage's layers (Builder.withStepRoot) and
// add the upper directory's content as a layer. Every step adds a history entry (ARG none).

import { createHash, randomBytes } from 'node:crypto';
import { cpSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Mount } from '../../oci/types';
import { resolveInRoot, resolveUser } from '../containers/rootfs';
import type { ImageConfig } from '../registry/manifest';
import type { LayerRecord } from '../store/store';
import type { Builder } from './builder';
import { type BuildState, chainKey } from './cache';
import { cleanContextPath } from './context';
import { contextItems, copyInto, type CopyItem, type CopyOptions, mkdirInRoot } from './copy';
import { type CommandForm, type Flag, type Instruction, type Stage, heredocBody, parseHeredocWord } from './dockerfile';
import { BuildError } from './errors';
import { runInContainer } from './run-step';
import { networkKey, StepNetworkSession, stepContainerId, stepNetwork } from './step-network';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_SHELL = ['/bin/sh', '-c'];
const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

export function flag(flags: Flag[], name: string): string | undefined {
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

export function envMap(list: string[] | undefined): Map<string, string> {
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

export class StageRun {
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

  /** Runs one instruction; an error names the step and its Dockerfile line. */
  async step(ins: Instruction, label: string, display = ins.display): Promise<void> {
    try {
      await this.runStep(ins, label, display);
      this.b.output.stepDone?.(label);
    } catch (e) {
      if (e instanceof BuildError && (e.code === 'ERUN' || e.message === 'build cancelled')) throw e;
      const msg = ((e as Error).message ?? String(e)).replace(/^Dockerfile:\d+: /, '');
      const shown = display.length > 120 ? display.slice(0, 120) + '...' : display;
      const code = e instanceof BuildError ? e.code : 'ESTEP';
      throw new BuildError(code, `Dockerfile:${ins.line}: step ${label} ${shown}: ${msg}`, { cause: e });
    }
  }

  private async runStep(ins: Instruction, label: string, display: string): Promise<void> {
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
          // ENTRYPOINT's result depends on whether this stage set CMD (an inherited one is dropped).
          keyText: ins.kind === 'ENTRYPOINT' ? `${text} cmd-set=${this.cmdSet}` : text,
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
    const network = stepNetwork(b.network, flag(ins.flags, 'network'), ins.line);
    if (flag(ins.flags, 'security') === 'insecure') throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: RUN --security=insecure is not allowed`);
    const argText = argEnv.length ? `|${argEnv.length} ${argEnv.map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
    const createdBy = `RUN ${argText}${argv.join(' ')} # buildkit`;
    const netKey = networkKey(network);
    const keyText = `RUN ${JSON.stringify(argv)} ${JSON.stringify(argEnv)} ${JSON.stringify(mounts.map((m) => m.key))} ${script ? script.data : ''}${netKey ? ' ' + netKey : ''}`;
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
        const id = stepContainerId(randomBytes(6).toString('hex'));
        const net = new StepNetworkSession(network, { db: b.db, root: b.engineRoot }, id, dir);
        extra.push(...net.mounts());
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
              network: net,
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
        throw new BuildError('EREFUSED', `Dockerfile:${ins.line}: ${ins.kind} from a URL (${s.path}) is not supported by dock build: fetch it in a RUN step (RUN steps have a network), or put it in the build context and COPY it`);
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
