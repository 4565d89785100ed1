// Builds that touch no filesystem (FROM scratch and metadata instructions) run without root: the
// image config, the history and the cache behaviour are checked here through the library.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRuntime } from '../../src/runtime/runtime';
import { build, type BuildOptions } from '../../src/engine/build/builder';
import { BuildError } from '../../src/engine/build/errors';
import { ImageStore } from '../../src/engine/store/store';

let root: string;
let store: ImageStore;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'build-unit-'));
  store = await ImageStore.open(root);
});
afterAll(() => {
  store.close();
  rmSync(root, { recursive: true, force: true });
});

async function configOf(dockerfile: string, opts: Partial<BuildOptions> = {}) {
  const r = await build(store, openRuntime({ root: join(root, 'rt') }), { root, contextDir: null, dockerfile, ...opts });
  const img = store.getImage(r.id)!;
  return { id: r.id, result: r, config: await store.readConfig(img), image: img };
}

describe('image config from metadata instructions', () => {
  it('substitutes ENV with the values from before the instruction, as Docker does', async () => {
    const { config } = await configOf('FROM scratch\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n');
    expect(config.config?.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'abc=bye', 'def=hello', 'ghi=bye']);
  });

  it('scopes ARGs: a global ARG is seen in a stage only when declared again; build args override defaults', async () => {
    const df = 'ARG V=1\nFROM scratch\nENV A=${V:-unset}\nARG V\nENV B=$V\nARG W=w-default\nENV C=$W\n';
    const plain = (await configOf(df)).config.config!.Env!;
    expect(plain).toEqual(expect.arrayContaining(['A=unset', 'B=1', 'C=w-default']));
    const given = await configOf(df, { buildArgs: { V: '2', W: 'given', UNUSED: 'x' } });
    expect(given.config.config!.Env!).toEqual(expect.arrayContaining(['A=unset', 'B=2', 'C=given']));
    expect(given.result.warnings).toContain('one or more build-args [UNUSED] were not consumed');
    // ARGs never reach the image.
    expect(given.config.config!.Env!.some((e) => e.startsWith('V=') || e.startsWith('W='))).toBe(false);
  });

  it('uses global ARGs in FROM and ENV overrides an ARG of the same name', async () => {
    const { config } = await configOf('ARG BASE=base\nFROM scratch AS base\nENV X=from-base\nFROM ${BASE}\nARG X=arg\nENV Y=$X\n');
    expect(config.config!.Env!).toEqual(expect.arrayContaining(['X=from-base', 'Y=from-base']));
  });

  it('drops an inherited CMD when ENTRYPOINT is set, keeps one set in the same stage', async () => {
    const inherited = await configOf('FROM scratch AS base\nCMD ["a"]\nFROM base\nENTRYPOINT ["e"]\n');
    expect(inherited.config.config!.Entrypoint).toEqual(['e']);
    expect(inherited.config.config!.Cmd).toBeNull();
    const same = await configOf('FROM scratch\nCMD ["a"]\nENTRYPOINT ["e"]\n');
    expect(same.config.config!.Cmd).toEqual(['a']);
  });

  it('records SHELL for later shell forms, EXPOSE ranges, HEALTHCHECK, STOPSIGNAL, VOLUME, LABEL, ONBUILD, USER, MAINTAINER', async () => {
    const { config } = await configOf(
      [
        'FROM scratch',
        'MAINTAINER someone <a@b>',
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
        'CMD echo $HOME',
        'EXPOSE 80 8000-8002/udp',
        'HEALTHCHECK --interval=1m30s --timeout=500ms --start-interval=2s CMD curl -f http://localhost/',
        'STOPSIGNAL SIGTERM',
        'VOLUME /a /b',
        'LABEL "key with space"="v 1" other=2',
        'ONBUILD RUN echo later',
        'USER 1000:1000',
      ].join('\n'),
      { labels: { 'from.cli': 'yes' } },
    );
    const c = config.config!;
    expect(config.author).toBe('someone <a@b>');
    expect(c.Shell).toEqual(['/bin/bash', '-o', 'pipefail', '-c']);
    expect(c.Cmd).toEqual(['/bin/bash', '-o', 'pipefail', '-c', 'echo $HOME']);
    expect(c.ExposedPorts).toEqual({ '80/tcp': {}, '8000/udp': {}, '8001/udp': {}, '8002/udp': {} });
    expect(c.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'curl -f http://localhost/'], Interval: 90e9, Timeout: 500e6, StartInterval: 2e9 });
    expect(c.StopSignal).toBe('SIGTERM');
    expect(c.Volumes).toEqual({ '/a': {}, '/b': {} });
    expect(c.Labels).toEqual({ 'key with space': 'v 1', other: '2', 'from.cli': 'yes' });
    expect(c.OnBuild).toEqual(['RUN echo later']);
    expect(c.User).toBe('1000:1000');
  });

  it('writes one history entry per instruction but ARG, all empty layers here', async () => {
    const { config, image } = await configOf('FROM scratch\nARG X=1\nENV A=$X\nLABEL l=v\nCMD ["x"]\n');
    expect(config.history!.map((h) => [h.created_by, h.empty_layer, h.comment])).toEqual([
      ['ENV A=1', true, 'buildkit.dockerfile.v0'],
      ['LABEL l=v', true, 'buildkit.dockerfile.v0'],
      ['CMD ["x"]', true, 'buildkit.dockerfile.v0'],
    ]);
    expect(image.layers).toEqual([]);
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [] });
  });

  it('gives the same image again from the cache, and a new one with --no-cache or a changed step', async () => {
    const df = 'FROM scratch\nENV A=1\nCMD ["x"]\n';
    const a = await configOf(df);
    const b = await configOf(df);
    expect(b.id).toBe(a.id);
    const c = await configOf(df, { noCache: true });
    expect(c.id).not.toBe(a.id);
    const d = await configOf(df.replace('A=1', 'A=2'));
    expect(d.id).not.toBe(a.id);
  });

  it('tags only when the build succeeds', async () => {
    const ok = await configOf('FROM scratch\nENV A=1\n', { tags: ['unit/ok:1'] });
    expect(store.imageIdByTag('docker.io/unit/ok:1')).toBe(ok.id);
    await expect(configOf('FROM scratch\nENV A=1\nADD http://example.com/f /f\n', { tags: ['unit/bad:1'] })).rejects.toThrow(/ADD from a URL/);
    expect(store.imageIdByTag('docker.io/unit/bad:1')).toBeNull();
  });

  it('builds the --target stage and refuses an unknown one', async () => {
    const df = 'FROM scratch AS one\nENV S=one\nFROM scratch AS two\nENV S=two\n';
    expect((await configOf(df, { target: 'one' })).config.config!.Env).toContain('S=one');
    await expect(configOf(df, { target: 'three' })).rejects.toThrow(/target stage "three" could not be found/);
  });

  it('refuses a RUN for another platform (no emulation), and reports bad substitutions with their line', async () => {
    const err = await configOf('FROM scratch\nRUN true\n', { platform: 'linux/s390x' }).catch((e) => e);
    expect(err).toBeInstanceOf(BuildError);
    expect(err.code).toBe('EREFUSED');
    expect(err.message).toMatch(/cannot RUN for linux\/s390x/);
    await expect(configOf('FROM scratch\n\nENV A=${B:?required}\n')).rejects.toThrow(/^Dockerfile:3: step \[2\/2\] ENV A=\$\{B:\?required\}: B: required$/);
  });
});
