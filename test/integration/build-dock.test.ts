// dock build on real containers (root): a busybox image made locally and loaded into a private
// engine root; multi-stage builds, ARG/ENV substitution and heredocs, the layer cache, a
// .dockerignore'd secret checked inside the image's layers, a failing RUN, the config shown by
// `dock image inspect`, the image run by `dock run`, and pushed to a local registry, pulled and
// run by podman (with crun: a peer reading our layers and config).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { startRegistry, type TestRegistry } from '../fixtures/images/registry';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { buildAppImage, cleanRoot, d, dockChild, mountsUnder, newRoot, ok, ops, type TestImage, waitFor } from './dock-helpers';

const BASE = 'skiff-test/app:1';

let img: TestImage;
let root: string;
const dirs: string[] = [];

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'build-ctx-'));
  dirs.push(dir);
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  return dir;
}

/** Every entry (name and content) of every layer of an image, read from the blob store. */
async function layerEntries(r: string, ref: string, opts: { last?: number } = {}): Promise<Array<{ name: string; data: Buffer }>> {
  const info = JSON.parse(await ok(r, ['image', 'inspect', ref]))[0];
  const blob = (dg: string) => readFileSync(join(r, 'images', 'blobs', 'sha256', dg.replace('sha256:', '')));
  const manifest = JSON.parse(blob(info.Descriptor.digest).toString());
  const out: Array<{ name: string; data: Buffer }> = [];
  for (const l of opts.last ? manifest.layers.slice(-opts.last) : manifest.layers) {
    const extract = tarStream.extract();
    const done = new Promise<void>((res, rej) => {
      extract.on('entry', (h, s, next) => {
        const chunks: Buffer[] = [];
        s.on('data', (c: unknown) => {
          chunks.push(c as Buffer);
        });
        s.on('end', () => {
          out.push({ name: h.name, data: Buffer.concat(chunks) });
          next();
        });
      });
      extract.on('finish', () => res());
      extract.on('error', rej);
    });
    const raw = blob(l.digest);
    extract.end(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw); // loaded base layers are plain tar
    await done;
  }
  return out;
}

/** Build containers, their cgroups and mounts must all be gone after any build. */
function leftovers(r: string): { mounts: string[]; states: string[]; cgroups: string[]; tmp: string[] } {
  const states = (() => {
    try {
      return readdirSync(join(r, 'build', 'runtime'));
    } catch {
      return [];
    }
  })();
  const tmp = (() => {
    try {
      return readdirSync(join(r, 'build', 'tmp'));
    } catch {
      return [];
    }
  })();
  // Only this root's step cgroups (skiff/<hash of its build runtime root>/build-*): other test
  // files build at the same time, under their own roots.
  const own = createHash('sha256').update(join(r, 'build', 'runtime')).digest('hex').slice(0, 12);
  const cgroups: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    const dir = join('/sys/fs/cgroup', h, 'skiff', own);
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && e.name.startsWith('build-')) cgroups.push(join(dir, e.name));
    } catch {
      /* no cgroup of this root in this hierarchy */
    }
  }
  return { mounts: mountsUnder(r), states, cgroups, tmp };
}

/** Until the build's RUN step printed its first line; a build that ends first fails with its output. */
async function stepStarted(b: ReturnType<typeof dockChild>): Promise<void> {
  let ended = false;
  void b.closed.then(() => (ended = true));
  // Bounded by the test's timeout: loading the base, mounting its layers and creating the step's
  // container take what they take on a busy machine.
  await waitFor(() => ended || b.out().includes('| started'), 'the RUN step to start', 55_000);
  if (!b.out().includes('| started')) throw new Error(`the build ended before its RUN step started: ${b.err()}`);
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock build', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      await cleanRoot(root);
      rmSync(root, { recursive: true, force: true });
    }
    img?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('builds a multi-stage image that copies from a builder stage, only the stages the target needs', async () => {
    const ctx = context({
      'Dockerfile': [
        `FROM ${BASE} AS builder`,
        'RUN mkdir -p /out && echo compiled > /out/artifact && echo building',
        '',
        `FROM ${BASE} AS unused`,
        'RUN echo this stage must not run',
        '',
        `FROM ${BASE} AS other`,
        'RUN echo other > /other.txt',
        '',
        'FROM scratch',
        'COPY --from=builder /out/artifact /artifact',
        'COPY --from=other /other.txt /bin/busybox /',
        'ENTRYPOINT ["/busybox"]',
        'CMD ["cat", "/artifact", "/other.txt"]',
      ].join('\n'),
    });
    const r = await d(root, ['build', '--network', 'none', '-t', 'multi:1', ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\[builder 2\/2\] RUN mkdir -p \/out/m);
    expect(r.stdout).toMatch(/^\[builder 2\/2\] \| building$/m);
    expect(r.stdout).not.toContain('this stage must not run');
    expect(r.stdout).not.toMatch(/\[unused /);
    expect(r.stdout).toMatch(/^writing image sha256:[0-9a-f]{64}$/m);
    expect(r.stdout).toMatch(/^naming to docker.io\/library\/multi:1$/m);
    // scratch + two COPY layers: just the files copied, not the builder's tree.
    const names = (await layerEntries(root, 'multi:1')).map((e) => e.name).sort();
    expect(names).toEqual(['artifact', 'busybox', 'other.txt']);
    const run = await d(root, ['run', '--network', 'none', '--rm', 'multi:1']);
    expect(run.stdout).toBe('compiled\nother\n');
    expect(run.code).toBe(0);
    // --target builds that stage and nothing after it.
    const t = await d(root, ['build', '--network', 'none', '-q', '--target', 'other', '-t', 'multi:other', ctx]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'multi:other', 'cat', '/other.txt'])).stdout).toBe('other\n');
    expect(leftovers(root)).toEqual({ mounts: [], states: [], cgroups: [], tmp: [] });
  }, ops(5));

  it('builds independent stages at the same time', async () => {
    // Each stage's RUN waits for the other's mark in a shared cache mount: built one after the
    // other, the first would give up after its 600 tries and fail the build.
    const id = `sync-${Date.now()}-${process.pid}`;
    const wait = (me: string, other: string) =>
      `RUN --mount=type=cache,id=${id},target=/sync sh -c 'touch /sync/${me}; i=0; while [ ! -e /sync/${other} ]; do i=$((i+1)); [ $i -gt 600 ] && exit 9; sleep 0.1; done; echo ${me} > /${me}'`;
    const ctx = context({
      'Dockerfile': [`FROM ${BASE} AS a`, wait('a', 'b'), `FROM ${BASE} AS b`, wait('b', 'a'), `FROM ${BASE}`, 'COPY --from=a /a /a', 'COPY --from=b /b /b'].join('\n'),
    });
    const r = await d(root, ['build', '--network', 'none', '-t', 'parallel:1', ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'parallel:1', 'cat', '/a', '/b'])).stdout).toBe('a\nb\n');
  }, ops(2));

  it('runs a step on top of 80 layers (more than a page of snapshot paths as lowerdirs)', async () => {
    const lines = [`FROM ${BASE}`];
    for (let i = 1; i <= 80; i++) lines.push(`COPY f /many/f${i}`);
    lines.push('RUN ls /many | wc -l > /count');
    const ctx = context({ 'Dockerfile': lines.join('\n'), 'f': 'x\n' });
    const r = await d(root, ['build', '--network', 'none', '-t', 'many:1', ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(await ok(root, ['image', 'inspect', 'many:1']))[0].RootFS.Layers).toHaveLength(82);
    // The RUN on top saw all 80 files (read from its layer: `dock run` mounts its overlay with the
    // snapshots' full names, which stops near 60 layers).
    const last = await layerEntries(root, 'many:1', { last: 1 });
    expect(last.map((e) => [e.name, e.data.toString().trim()])).toEqual([['count', '80']]);
  }, 82 * 3_000); // 82 steps, each a commit of a layer: a bound per step, not a guess at the machine

  it('substitutes ARG and ENV (with defaults, build args and heredocs)', async () => {
    const ctx = context({
      'Dockerfile': [
        'ARG BASE_IMAGE=skiff-test/app:none',
        'FROM ${BASE_IMAGE}',
        'ARG GREETING=hello',
        'ARG UNSET_ARG',
        'ENV WHO=${WHO:-world} DIR=/srv/${GREETING}',
        'ENV ALT=${UNSET_ARG:+set}x PLAIN="$GREETING $WHO"',
        'WORKDIR $DIR',
        'RUN <<EOF',
        'echo "$GREETING, $WHO" > message',
        'echo "in $(pwd)"',
        'EOF',
        "COPY <<EOT <<'RAW' ./",
        'expanded: ${GREETING} ${WHO}',
        'EOT',
        'raw: ${GREETING}',
        'RAW',
        'RUN cat <<-END > script.out',
        '\tindented $ALT',
        '\tEND',
        'CMD ["sh", "-c", "cat message EOT RAW script.out; echo $PLAIN"]',
      ].join('\n'),
    });
    const r = await d(root, ['build', '--network', 'none', '--build-arg', `BASE_IMAGE=${BASE}`, '--build-arg', 'GREETING=bonjour', '-t', 'subst:1', ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| in \/srv\/bonjour$/m);
    const run = await d(root, ['run', '--network', 'none', '--rm', 'subst:1']);
    expect(run.stdout).toBe('bonjour, world\nexpanded: bonjour world\nraw: ${GREETING}\nindented x\nbonjour world\n');
    const cfg = JSON.parse(await ok(root, ['image', 'inspect', 'subst:1']))[0].Config;
    expect(cfg.WorkingDir).toBe('/srv/bonjour');
    expect(cfg.Env).toEqual(expect.arrayContaining(['WHO=world', 'DIR=/srv/bonjour', 'ALT=x', 'PLAIN=bonjour world']));
    // Build args are not in the image.
    expect(cfg.Env.some((e: string) => e.startsWith('GREETING='))).toBe(false);
  }, ops(3));

  it('reuses every step before the COPY of a changed file, and rebuilds that COPY and the steps after it', async () => {
    const ctx = context({
      'Dockerfile': [
        `FROM ${BASE}`,
        'RUN echo first > /first',
        'COPY stable.txt /app/stable.txt',
        'RUN echo second > /second',
        'COPY changing.txt /app/changing.txt',
        'RUN cat /app/changing.txt > /app/derived',
        'LABEL stage=last',
      ].join('\n'),
      'stable.txt': 'stable\n',
      'changing.txt': 'version 1\n',
    });
    const first = await d(root, ['build', '--network', 'none', '-t', 'cache:1', ctx]);
    expect(first.code).toBe(0);
    expect(first.stdout).not.toMatch(/CACHED/);
    const again = await d(root, ['build', '--network', 'none', '-t', 'cache:1', ctx]);
    expect(again.code).toBe(0);
    for (const n of [2, 3, 4, 5, 6, 7]) expect(again.stdout).toMatch(new RegExp(`^CACHED \\[${n}/7\\]`, 'm'));
    const idOf = (out: string) => /^writing image (sha256:\S+)$/m.exec(out)![1];
    expect(idOf(again.stdout)).toBe(idOf(first.stdout)); // a full cache hit gives the same image

    writeFileSync(join(ctx, 'changing.txt'), 'version 2\n');
    const changed = await d(root, ['build', '--network', 'none', '-t', 'cache:2', ctx]);
    expect(changed.code).toBe(0);
    for (const n of [2, 3, 4]) expect(changed.stdout).toMatch(new RegExp(`^CACHED \\[${n}/7\\]`, 'm'));
    for (const n of [5, 6, 7]) {
      expect(changed.stdout).toMatch(new RegExp(`^\\[${n}/7\\]`, 'm'));
      expect(changed.stdout).not.toMatch(new RegExp(`^CACHED \\[${n}/7\\]`, 'm'));
    }
    expect((await d(root, ['run', '--network', 'none', '--rm', 'cache:2', 'cat', '/app/derived'])).stdout).toBe('version 2\n');
    expect((await d(root, ['run', '--network', 'none', '--rm', 'cache:1', 'cat', '/app/derived'])).stdout).toBe('version 1\n');

    // --no-cache runs everything again.
    const nc = await d(root, ['build', '--network', 'none', '--no-cache', '-t', 'cache:3', ctx]);
    expect(nc.code).toBe(0);
    expect(nc.stdout).not.toMatch(/CACHED/);

    // builder prune forgets the cache; the images stay and still run.
    const recent = await ok(root, ['builder', 'prune', '-f', '--filter', 'until=1h']);
    expect(recent).toMatch(/^Deleted build cache entries: 0$/m);
    const prune = await ok(root, ['builder', 'prune', '-f']);
    expect(Number(/^Deleted build cache entries: (\d+)$/m.exec(prune)![1])).toBeGreaterThan(0);
    const after = await d(root, ['build', '--network', 'none', '-t', 'cache:4', ctx]);
    expect(after.code).toBe(0);
    expect(after.stdout).not.toMatch(/CACHED/);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'cache:1', 'cat', '/app/derived'])).stdout).toBe('version 1\n');
  }, ops(11));

  it('keeps a .dockerignore\'d secret out of the image, also with COPY . and a glob', async () => {
    const ctx = context({
      'Dockerfile': [`FROM ${BASE}`, 'COPY . /ctx/', 'COPY *.txt /globbed/', 'RUN ls -R /ctx /globbed'].join('\n'),
      '.dockerignore': 'secret.txt\nprivate/\n!private/ok.txt\n',
      'secret.txt': 'TOP-SECRET-TOKEN-1\n',
      'public.txt': 'public\n',
      'private/key': 'TOP-SECRET-TOKEN-2\n',
      'private/ok.txt': 'fine\n',
    });
    const r = await d(root, ['build', '--network', 'none', '-t', 'ignore:1', ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const entries = await layerEntries(root, 'ignore:1');
    const names = entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['ctx/public.txt', 'ctx/private/ok.txt', 'ctx/Dockerfile', 'globbed/public.txt']));
    expect(names.filter((n) => /secret\.txt|private\/key/.test(n))).toEqual([]);
    expect(entries.some((e) => e.data.includes('TOP-SECRET-TOKEN'))).toBe(false);
    // Naming an ignored file is "not found", as in Docker.
    const named = context({ 'Dockerfile': `FROM ${BASE}\nCOPY secret.txt /s\n`, '.dockerignore': 'secret.txt\n', 'secret.txt': 'x' });
    const n = await d(root, ['build', '--network', 'none', named]);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/"\/secret.txt": not found in the build context \(excluded by \.dockerignore\)/);
  }, ops(3));

  it('stops at a failing RUN with its exit code and the step named, tagging nothing and leaving nothing behind', async () => {
    const ctx = context({
      'Dockerfile': [`FROM ${BASE}`, 'RUN echo before', 'RUN echo about to fail && exit 7', 'RUN echo never'].join('\n'),
    });
    const r = await d(root, ['build', '--network', 'none', '-t', 'fails:1', ctx]);
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/\[3\/4\] \| about to fail/);
    expect(r.stdout).not.toContain('never');
    expect(r.stderr).toMatch(/step \[3\/4\] RUN echo about to fail && exit 7: process "\/bin\/sh -c echo about to fail && exit 7" did not complete successfully: exit code: 7/);
    const inspect = await d(root, ['image', 'inspect', 'fails:1']);
    expect(inspect.code).not.toBe(0);
    expect(leftovers(root)).toEqual({ mounts: [], states: [], cgroups: [], tmp: [] });
  }, ops(2));

  it('stops a build interrupted by SIGINT: the running step is killed, nothing is tagged or left behind', async () => {
    const ctx = context({ 'Dockerfile': [`FROM ${BASE}`, 'RUN echo started; sleep 600', 'RUN echo never'].join('\n') });
    const b = dockChild(root, ['build', '--network', 'none', '-t', 'interrupted:1', ctx]);
    await stepStarted(b);
    b.child.kill('SIGINT');
    const code = await b.closed;
    expect(code).toBe(1);
    expect(b.err()).toMatch(/build cancelled/);
    expect(b.out()).not.toContain('never');
    expect((await d(root, ['image', 'inspect', 'interrupted:1'])).code).not.toBe(0);
    expect(leftovers(root)).toEqual({ mounts: [], states: [], cgroups: [], tmp: [] });
  }, ops(3));

  it('cleans up after a dock killed in the middle of a RUN, at the next build', async () => {
    const ctx = context({ 'Dockerfile': [`FROM ${BASE}`, 'RUN echo started; sleep 600'].join('\n') });
    const b = dockChild(root, ['build', '--network', 'none', '-t', 'killed:1', ctx]);
    await stepStarted(b);
    b.child.kill('SIGKILL');
    await b.closed;
    const left = leftovers(root);
    expect(left.mounts.length).toBeGreaterThan(0);
    expect(left.states.length).toBe(1);
    expect(left.cgroups.length).toBeGreaterThan(0); // the step's, found under this root's hash
    const state = JSON.parse(readFileSync(join(root, 'build', 'runtime', left.states[0], 'state.json'), 'utf8'));
    expect(() => process.kill(state.pid, 0)).not.toThrow(); // the step's container outlived dock

    const next = context({ 'Dockerfile': `FROM ${BASE}\nENV AFTER=kill\n` });
    expect((await d(root, ['build', '--network', 'none', next])).code).toBe(0);
    expect(leftovers(root)).toEqual({ mounts: [], states: [], cgroups: [], tmp: [] });
    await waitFor(() => {
      try {
        process.kill(state.pid, 0);
        return readFileSync(`/proc/${state.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
      } catch {
        return true;
      }
    }, 'the orphaned step container to be gone');
  }, ops(3));

  it('records CMD/ENTRYPOINT/USER/WORKDIR/ENV/EXPOSE/HEALTHCHECK/LABEL/STOPSIGNAL/VOLUME, history, and runs as that user', async () => {
    const ctx = context({
      'Dockerfile': [
        `FROM ${BASE}`,
        'ENV APP_HOME=/home/app MODE=prod',
        'USER app',
        'WORKDIR $APP_HOME/work',
        'RUN id -u > uid.txt && pwd > pwd.txt',
        'EXPOSE 8080 53/udp 9000-9001',
        'VOLUME ["/cache"]',
        'STOPSIGNAL SIGQUIT',
        'LABEL org.test.built="yes" org.test.kind=overridden',
        'HEALTHCHECK --interval=30s --timeout=3s --start-period=1s --retries=4 CMD ["test", "-f", "uid.txt"]',
        'ENTRYPOINT ["/bin/sh", "-c"]',
        'CMD ["echo $(id -un) $(cat uid.txt) $(cat pwd.txt) $MODE"]',
      ].join('\n'),
    });
    const r = await d(root, ['build', '--network', 'none', '-t', 'conf:1', '--label', 'org.test.cli=1', '--iidfile', join(ctx, 'iid'), ctx]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const info = JSON.parse(await ok(root, ['image', 'inspect', 'conf:1']))[0];
    expect(readFileSync(join(ctx, 'iid'), 'utf8')).toBe(info.Id);
    const c = info.Config;
    expect(c.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(c.Cmd).toEqual(['echo $(id -un) $(cat uid.txt) $(cat pwd.txt) $MODE']);
    expect(c.User).toBe('app');
    expect(c.WorkingDir).toBe('/home/app/work');
    expect(c.Env).toEqual(expect.arrayContaining(['PATH=/bin', 'FOO=image', 'APP_HOME=/home/app', 'MODE=prod']));
    expect(c.ExposedPorts).toEqual({ '8080/tcp': {}, '53/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
    expect(c.Healthcheck).toEqual({ Test: ['CMD', 'test', '-f', 'uid.txt'], Interval: 30e9, Timeout: 3e9, StartPeriod: 1e9, Retries: 4 });
    expect(c.Labels).toEqual({ 'org.test.kind': 'overridden', 'org.test.keep': 'yes', 'org.test.built': 'yes', 'org.test.cli': '1' });
    expect(c.StopSignal).toBe('SIGQUIT');
    expect(Object.keys(c.Volumes).sort()).toEqual(['/cache', '/data']);
    const history = await ok(root, ['history', '--no-trunc', 'conf:1']);
    expect(history).toContain('RUN /bin/sh -c id -u > uid.txt && pwd > pwd.txt # buildkit');
    // The WORKDIR made for user app belongs to it, and the RUN ran as app.
    const run = await d(root, ['run', '--network', 'none', '--rm', 'conf:1']);
    expect(run.stdout).toBe('app 1000 /home/app/work prod\n');
    expect(run.code).toBe(0);
  }, ops(4));

  it('runs ONBUILD triggers when the image is used as a base, and extracts local tarballs with ADD', async () => {
    const ctx = context({ 'Dockerfile': [`FROM ${BASE}`, 'ONBUILD COPY trigger.txt /from-trigger.txt', 'ONBUILD RUN echo triggered > /triggered'].join('\n') });
    expect((await d(root, ['build', '--network', 'none', '-t', 'onbuild-base:1', ctx])).code).toBe(0);
    const baseCfg = JSON.parse(await ok(root, ['image', 'inspect', 'onbuild-base:1']))[0].Config;
    expect(baseCfg.OnBuild).toEqual(['COPY trigger.txt /from-trigger.txt', 'RUN echo triggered > /triggered']);
    const tarDir = mkdtempSync(join(tmpdir(), 'build-tar-'));
    dirs.push(tarDir);
    mkdirSync(join(tarDir, 'pkg/sub'), { recursive: true });
    writeFileSync(join(tarDir, 'pkg/sub/file'), 'from the tarball\n');
    const child = context({
      'Dockerfile': ['FROM onbuild-base:1', 'ADD pkg.tar.gz /opt/', 'ADD plain.txt /opt/plain.txt', 'CMD cat /from-trigger.txt /triggered /opt/pkg/sub/file /opt/plain.txt'].join('\n'),
      'trigger.txt': 'trigger content\n',
      'plain.txt': 'not an archive\n',
    });
    execFileSync('tar', ['-C', tarDir, '-czf', join(child, 'pkg.tar.gz'), 'pkg']);
    const r = await d(root, ['build', '--network', 'none', '-t', 'onbuild-child:1', child]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ONBUILD RUN echo triggered/);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'onbuild-child:1'])).stdout).toBe('trigger content\ntriggered\nfrom the tarball\nnot an archive\n');
    const childCfg = JSON.parse(await ok(root, ['image', 'inspect', 'onbuild-child:1']))[0].Config;
    expect(childCfg.OnBuild ?? null).toBeNull();
    // Remote sources are refused clearly (there is no network for builds here).
    const url = context({ 'Dockerfile': `FROM ${BASE}\nADD https://example.com/x.tar.gz /x\n` });
    const u = await d(root, ['build', '--network', 'none', url]);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/ADD from a URL \(https:\/\/example.com\/x.tar.gz\) is not supported/);
  }, ops(6));

  it('takes a Dockerfile or a context archive on stdin with "-", RUN --mount=type=cache and type=bind, and a shebang heredoc', async () => {
    const df = [
      `FROM ${BASE}`,
      'RUN --mount=type=cache,target=/var/cache/app sh -c "echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /count"',
      'RUN <<EOF',
      '#!/bin/sh -e',
      'echo "script as $0"',
      'EOF',
    ].join('\n');
    const r = await d(root, ['build', '--network', 'none', '-t', 'stdin:1', '-'], { input: df });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| script as \/dev\/pipes\/EOF/);
    // The cache mount is not in the image, and it persists across builds.
    expect((await layerEntries(root, 'stdin:1')).some((e) => e.name.startsWith('var/cache/app'))).toBe(false);
    await d(root, ['build', '--network', 'none', '--no-cache', '-t', 'stdin:2', '-'], { input: df });
    expect((await d(root, ['run', '--network', 'none', '--rm', 'stdin:2', 'cat', '/count'])).stdout.trim()).toBe('2');

    // A tar archive on stdin is the context (gzip'd here), with its own .dockerignore.
    const tarCtx = context({ 'Dockerfile': `FROM ${BASE}\nCOPY . /from-tar/\n`, 'in-tar.txt': 'from the archive\n', 'skip.me': 'no', '.dockerignore': 'skip.me\n' });
    const archive = execFileSync('tar', ['-C', tarCtx, '-cz', '.']);
    const child = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'dock.js'), 'build', '-q', '-t', 'tarctx:1', '-'], { input: archive, env: { ...process.env, DOCK_ROOT: root }, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'tarctx:1', 'ls', '-A', '/from-tar'])).stdout).toBe('.dockerignore\nDockerfile\nin-tar.txt\n');

    const ctx = context({ 'Dockerfile': `FROM ${BASE}\nRUN --mount=type=bind,source=data,target=/mnt cat /mnt/in.txt > /out.txt\n`, 'data/in.txt': 'bound\n', 'data/.hidden': 'h' });
    const b = await d(root, ['build', '--network', 'none', '-t', 'bind:1', ctx]);
    expect(b.code).toBe(0);
    expect((await d(root, ['run', '--network', 'none', '--rm', 'bind:1', 'cat', '/out.txt'])).stdout).toBe('bound\n');
    expect((await layerEntries(root, 'bind:1', { last: 1 })).map((e) => e.name)).toEqual(['out.txt']);
  }, ops(7));

  describe.skipIf(skipWhen(needTools('podman', 'docker-registry')))('interoperability', () => {
    let reg: TestRegistry | undefined;
    let podmanDir: string | undefined;
    afterAll(async () => {
      if (podmanDir) {
        spawnSync('podman', ['--root', join(podmanDir, 'storage'), '--runroot', join(podmanDir, 'run'), 'rm', '-af'], { stdio: 'ignore' });
        const mounts = mountsUnder(podmanDir).sort((a, b) => b.length - a.length);
        for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
        rmSync(podmanDir, { recursive: true, force: true });
      }
      await reg?.stop();
    });

    it('pushes the built image to a registry; podman pulls and runs it', async () => {
      reg = await startRegistry();
      const ctx = context({
        'Dockerfile': [
          `FROM ${BASE} AS build`,
          'RUN echo "built by dock" > /msg',
          `FROM ${BASE}`,
          'COPY --from=build /msg /msg',
          // A deleted file (a whiteout) and a replaced directory (an opaque one) for the peer to honour.
          'RUN rm /bin/vi && rm -rf /data && mkdir /data && echo fresh > /data/new && mkdir -p /etc/app && echo conf > /etc/app/conf',
          'USER app',
          'WORKDIR /home/app',
          'ENV WHERE=podman',
          'CMD ["sh", "-c", "cat /msg /etc/app/conf; id -un; pwd; echo $WHERE; ls /data; test -e /bin/vi || echo vi-gone"]',
        ].join('\n'),
      });
      const name = `${reg.host}/built/app:1`;
      expect((await d(root, ['build', '--network', 'none', '-t', name, ctx])).code).toBe(0);
      const last = (await layerEntries(root, name, { last: 1 })).map((e) => e.name);
      expect(last).toEqual(expect.arrayContaining(['bin/.wh.vi', 'data/', 'data/.wh..wh..opq', 'data/new', 'etc/app/conf']));
      const push = await d(root, ['push', name]);
      expect(push.stderr).toBe('');
      expect(push.code).toBe(0);

      podmanDir = mkdtempSync(join(tmpdir(), 'build-podman-'));
      const conf = join(podmanDir, 'containers.conf');
      // No CAP_SYS_RESOURCE in this sandbox: podman's default nofile/nproc limits cannot be set.
      // The runtime is runc: crun refuses cgroup v1 hybrid hosts such as this one.
      writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n');
      const podman = (args: string[]) =>
        spawnSync('podman', ['--root', join(podmanDir!, 'storage'), '--runroot', join(podmanDir!, 'run'), '--storage-driver', 'vfs', '--runtime', 'runc', ...args], {
          env: { ...process.env, CONTAINERS_CONF: conf },
          encoding: 'utf8',
          timeout: 120_000,
        });
      const pull = podman(['pull', '--tls-verify=false', name]);
      expect(pull.stderr + pull.stdout).not.toMatch(/Error/);
      expect(pull.status).toBe(0);
      // A build in an empty engine root pulls its base from the registry.
      const fresh = mkdtempSync('/tmp/dkf-');
      try {
        const child = context({ 'Dockerfile': `FROM ${name}\nUSER root\nRUN cat /msg > /again\nCMD ["cat", "/again"]\n` });
        const b = await d(fresh, ['build', '--network', 'none', '-t', 'pulled-base:1', child]);
        expect(b.stderr).toBe('');
        expect(b.code).toBe(0);
        expect(b.stdout).toContain(`pulling ${name}`);
        expect((await d(fresh, ['run', '--network', 'none', '--rm', 'pulled-base:1'])).stdout).toBe('built by dock\n');
      } finally {
        await cleanRoot(fresh);
        rmSync(fresh, { recursive: true, force: true });
      }

      const run = podman(['run', '--rm', name]);
      expect(run.stderr).toBe('');
      expect(run.stdout).toBe('built by dock\nconf\napp\n/home/app\npodman\nnew\nvi-gone\n');
      expect(run.status).toBe(0);
    }, ops(8));
  });
});
