// dock's flag parsing and image-config merging, without containers.
import { describe, expect, it } from 'vitest';
import { buildConfig, mergeEnv, parseBytes, parseDevice, parseDuration, parseRestart, parseUlimit } from '../../src/engine/containers/config';
import { effectiveCaps, DEFAULT_CAPS } from '../../src/engine/containers/spec';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../../src/engine/volumes/mounts';
import { restartDelayMs, shouldRestart } from '../../src/engine/containers/exit';
import type { ImageConfig } from '../../src/engine/registry/manifest';
import type { ContainerDoc } from '../../src/engine/containers/types';

const image = (config: ImageConfig['config']): ImageConfig => ({ architecture: 'amd64', os: 'linux', config, rootfs: { type: 'layers', diff_ids: [] } });

describe('dock flag values', () => {
  it('parses sizes, durations, restart policies, ulimits and devices as Docker does', () => {
    expect(parseBytes('512m', '--memory')).toBe(512 * 1024 * 1024);
    expect(parseBytes('1.5g', '--memory')).toBe(1.5 * 1024 ** 3);
    expect(parseBytes('100', '--memory')).toBe(100);
    expect(parseBytes('64MB', '--memory')).toBe(64 * 1024 * 1024);
    expect(() => parseBytes('lots', '--memory')).toThrow('invalid value "lots" for --memory');
    expect(parseDuration('1m30s', 'x')).toBe(90e9);
    expect(parseDuration('250ms', 'x')).toBe(250e6);
    expect(() => parseDuration('5', 'x')).toThrow(/invalid duration/);
    expect(parseRestart('on-failure:5')).toEqual({ Name: 'on-failure', MaximumRetryCount: 5 });
    expect(parseRestart(undefined)).toEqual({ Name: 'no', MaximumRetryCount: 0 });
    expect(() => parseRestart('always:3')).toThrow(/maximum retry count cannot be used with always/);
    expect(parseUlimit('nofile=1024:2048')).toEqual({ Name: 'nofile', Soft: 1024, Hard: 2048 });
    expect(parseUlimit('nproc=50')).toEqual({ Name: 'nproc', Soft: 50, Hard: 50 });
    expect(() => parseUlimit('nofile=10:5')).toThrow(/above the hard limit/);
    expect(parseDevice('/dev/fuse')).toEqual({ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' });
    expect(parseDevice('/dev/sda:/dev/xvda:r')).toEqual({ PathOnHost: '/dev/sda', PathInContainer: '/dev/xvda', CgroupPermissions: 'r' });
    expect(parseDevice('/dev/null:rw')).toEqual({ PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rw' });
  });

  it('parses -v, --mount and --tmpfs', () => {
    expect(parseVolumeFlag('/data')).toEqual({ Type: 'volume', Source: '', Target: '/data', ReadOnly: false });
    expect(parseVolumeFlag('cache:/c:ro,nocopy')).toEqual({ Type: 'volume', Source: 'cache', Target: '/c', ReadOnly: true, NoCopy: true });
    expect(parseVolumeFlag('/h:/c:rshared')).toEqual({ Type: 'bind', Source: '/h', Target: '/c', ReadOnly: false, Propagation: 'rshared', CreateSource: true });
    expect(() => parseVolumeFlag('xy:/c:shared')).toThrow(/propagation applies to bind mounts only/);
    expect(parseMountFlag('type=bind,src=/h,dst=/c,readonly,bind-propagation=rslave')).toEqual({ Type: 'bind', Source: '/h', Target: '/c', ReadOnly: true, Propagation: 'rslave' });
    expect(parseMountFlag('target=/v')).toEqual({ Type: 'volume', Source: '', Target: '/v', ReadOnly: false });
    expect(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=700')).toEqual({ Type: 'tmpfs', Source: '', Target: '/t', ReadOnly: false, TmpfsSize: 64 * 1024 * 1024, TmpfsMode: 0o700 });
    expect(() => parseMountFlag('type=bind,target=/c')).toThrow(/needs a source/);
    expect(parseTmpfsFlag('/run:rw,noexec,size=64m')).toMatchObject({ Type: 'tmpfs', Target: '/run', TmpfsOptions: 'rw,noexec,size=64m' });
    expect(() => parseTmpfsFlag('/run:bogus')).toThrow(/unknown option "bogus"/);
  });
});

describe('merging the image config with the flags', () => {
  const img = image({ Entrypoint: ['/entry'], Cmd: ['default'], Env: ['PATH=/bin', 'A=image'], WorkingDir: '/app', User: 'app', Labels: { a: '1' }, Volumes: { '/data': {} }, StopSignal: 'SIGQUIT' });

  it('keeps the image values when no flag is given', () => {
    const { config, hostConfig } = buildConfig(img, 'img', {}, []);
    expect(config).toMatchObject({ Entrypoint: ['/entry'], Cmd: ['default'], Env: ['PATH=/bin', 'A=image'], WorkingDir: '/app', User: 'app', Labels: { a: '1' }, StopSignal: 'SIGQUIT', Volumes: { '/data': {} } });
    expect(hostConfig).toMatchObject({ NetworkMode: 'bridge', RestartPolicy: { Name: 'no' }, AutoRemove: false });
  });

  it('lets flags win: command replaces Cmd, --entrypoint drops Cmd, env merges by name', () => {
    expect(buildConfig(img, 'img', {}, ['x', 'y']).config).toMatchObject({ Entrypoint: ['/entry'], Cmd: ['x', 'y'] });
    expect(buildConfig(img, 'img', { entrypoint: '/other' }, []).config).toMatchObject({ Entrypoint: ['/other'], Cmd: null });
    expect(buildConfig(img, 'img', { env: ['A=flag', 'B=2'], user: '0', workdir: '/w', stopSignal: 'USR1', label: ['b=2'] }, []).config).toMatchObject({
      Env: ['PATH=/bin', 'A=flag', 'B=2'],
      User: '0',
      WorkingDir: '/w',
      StopSignal: 'USR1',
      Labels: { a: '1', b: '2' },
    });
    expect(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4'])).toEqual(['A=1', 'B=3', 'C=4']);
  });

  it('refuses what Docker refuses', () => {
    expect(() => buildConfig(image({}), 'img', {}, [])).toThrow(/no command specified/);
    expect(() => buildConfig(img, 'img', { rm: true, restart: 'always' }, [])).toThrow(/--restart and --rm/);
    expect(() => buildConfig(img, 'img', { memory: '4m' }, [])).toThrow(/minimum memory limit/);
    expect(() => buildConfig(img, 'img', { memory: '64m', memorySwap: '32m' }, [])).toThrow(/--memory-swap must be larger/);
    expect(() => buildConfig(img, 'img', { workdir: 'rel' }, [])).toThrow(/needs to be an absolute path/);
    expect(() => buildConfig(img, 'img', { volume: ['/a', '/a'] }, [])).toThrow(/duplicate mount point/);
    expect(() => buildConfig(img, 'img', { healthInterval: '1s' }, [])).toThrow(/give --health-cmd/);
  });

  it('builds health checks in nanoseconds', () => {
    const { config } = buildConfig(img, 'img', { healthCmd: 'true', healthInterval: '2s', healthRetries: '4', healthTimeout: '500ms' }, []);
    expect(config.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 2e9, Retries: 4, Timeout: 500e6 });
    expect(buildConfig(img, 'img', { noHealthcheck: true }, []).config.Healthcheck).toEqual({ Test: ['NONE'] });
  });
});

describe('capabilities and restart policy', () => {
  it("computes Docker's capability sets", () => {
    expect(effectiveCaps(false, [], [])).toEqual(DEFAULT_CAPS);
    expect(effectiveCaps(false, ['CAP_SYS_ADMIN'], ['CAP_NET_RAW'])).toEqual([...DEFAULT_CAPS.filter((c) => c !== 'CAP_NET_RAW'), 'CAP_SYS_ADMIN']);
    expect(effectiveCaps(false, ['CAP_CHOWN'], ['ALL'])).toEqual(['CAP_CHOWN']);
    expect(() => effectiveCaps(false, ['CAP_BOGUS'], [])).toThrow(/unknown capability/);
  });

  const doc = (policy: string, count: number, manual = false) =>
    ({ HostConfig: { RestartPolicy: parseRestart(policy) }, State: { RestartCount: count, ManualStop: manual } }) as unknown as ContainerDoc;

  it('decides restarts and back-off as Docker does', () => {
    expect(shouldRestart(doc('no', 0), 1)).toBe(false);
    expect(shouldRestart(doc('on-failure:2', 1), 1)).toBe(true);
    expect(shouldRestart(doc('on-failure:2', 2), 1)).toBe(false);
    expect(shouldRestart(doc('on-failure', 50), 0)).toBe(false);
    expect(shouldRestart(doc('always', 9), 0)).toBe(true);
    expect(shouldRestart(doc('always', 9, true), 0)).toBe(false);
    expect(restartDelayMs(doc('always', 0), 10)).toBe(100);
    expect(restartDelayMs(doc('always', 3), 10)).toBe(800);
    expect(restartDelayMs(doc('always', 20), 10)).toBe(60_000);
    expect(restartDelayMs(doc('always', 20), 10_000)).toBe(100);
  });
});

describe('--env-file from a careless caller', () => {
  it('reads only a regular file of sane size: a FIFO, a device, a directory or a huge file is one clear error', async () => {
    const { readEnvFile } = await import('../../src/engine/containers/config');
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, rmSync, writeFileSync, truncateSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'dock-envfile-'));
    try {
      writeFileSync(join(dir, 'ok'), '# comment\nA=1\n  B=two words\n');
      expect(readEnvFile(join(dir, 'ok'))).toEqual(['A=1', 'B=two words']);
      execFileSync('mkfifo', [join(dir, 'fifo')]); // nobody writes: reading it would block forever
      expect(() => readEnvFile(join(dir, 'fifo'))).toThrow(`cannot read env file ${join(dir, 'fifo')}: not a regular file`);
      expect(() => readEnvFile('/dev/zero')).toThrow('cannot read env file /dev/zero: not a regular file');
      expect(() => readEnvFile(dir)).toThrow(`cannot read env file ${dir}: not a regular file`);
      writeFileSync(join(dir, 'huge'), '');
      truncateSync(join(dir, 'huge'), 2 << 20);
      expect(() => readEnvFile(join(dir, 'huge'))).toThrow(/larger than 1048576 bytes$/);
      expect(() => readEnvFile(join(dir, 'missing'))).toThrow(/no such file or directory$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
