import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lookupCredentials, parseChallenges, removeCredentials, storeCredentials } from '../../src/engine/registry/auth';
import { MT, parseManifest, parsePlatform, selectManifest, ImageIndex } from '../../src/engine/registry/manifest';
import { entryPath } from '../../src/engine/store/unpack';

const D = (c: string) => 'sha256:' + c.repeat(64);

describe('WWW-Authenticate challenges', () => {
  it('parses Docker Hub style bearer challenges', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
    ]);
  });
  it('parses basic challenges, escaped quotes and several headers', () => {
    expect(parseChallenges(['Basic realm="a \\"b\\""', 'Bearer realm=https://x/t, error=invalid_token'])).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'https://x/t', error: 'invalid_token' } },
    ]);
  });
});

describe('Docker config.json credentials', () => {
  it('reads existing auths (Docker Hub key, URL keys), writes and removes entries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skiff-cfg-'));
    const file = join(dir, 'config.json');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(file, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') }, 'https://quay.io': { auth: b64('q:x:y') } }, psFormat: 'keep me' }));
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    expect(lookupCredentials('docker.io', cfg)).toEqual({ username: 'hub', password: 'pw' });
    expect(lookupCredentials('quay.io', cfg)).toEqual({ username: 'q', password: 'x:y' });
    expect(lookupCredentials('ghcr.io', cfg)).toBeNull();
    storeCredentials('localhost:5000', { username: 'u', password: 'p' }, file);
    const after = JSON.parse(readFileSync(file, 'utf8'));
    expect(after.psFormat).toBe('keep me');
    expect(after.auths['localhost:5000'].auth).toBe(b64('u:p'));
    expect(removeCredentials('localhost:5000', file)).toBe(true);
    expect(removeCredentials('localhost:5000', file)).toBe(false);
    rmSync(dir, { recursive: true });
  });
});

describe('manifests', () => {
  it('refuses schema1 with a clear message', () => {
    const body = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }));
    expect(() => parseManifest(body, MT.dockerSchema1Signed, 'x:y')).toThrow(/x:y uses the Docker image manifest v2 schema 1, .* not supported/);
  });
  it('tells indexes from manifests by content type, mediaType or shape', () => {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    expect(parseManifest(idx, 'application/json', 'i').kind).toBe('index');
    const m = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: MT.ociConfig, digest: D('a'), size: 1 }, layers: [] }));
    expect(parseManifest(m, MT.dockerManifest, 'm')).toMatchObject({ kind: 'image', mediaType: MT.dockerManifest });
    expect(() => parseManifest(Buffer.from('{"schemaVersion":2,"config":{"digest":"md5:x"},"layers":[]}'), MT.ociManifest, 'bad')).toThrow(/malformed descriptor/);
  });
  it('selects platforms as containerd normalises them', () => {
    const index: ImageIndex = {
      schemaVersion: 2,
      manifests: [
        { mediaType: MT.ociManifest, digest: D('1'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
        { mediaType: MT.ociManifest, digest: D('2'), size: 1, platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: MT.ociManifest, digest: D('3'), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
        { mediaType: MT.ociManifest, digest: D('4'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
      ],
    };
    expect(selectManifest(index, parsePlatform('linux/amd64'), 'i').digest).toBe(D('1'));
    expect(selectManifest(index, parsePlatform('linux/aarch64'), 'i').digest).toBe(D('2'));
    expect(selectManifest(index, parsePlatform('linux/arm64/v8'), 'i').digest).toBe(D('2'));
    expect(selectManifest(index, parsePlatform('linux/armhf'), 'i').digest).toBe(D('3'));
    expect(() => selectManifest(index, parsePlatform('linux/arm/v6'), 'i')).toThrow('no image for platform linux/arm/v6 in i (it has linux/amd64, linux/arm64/v8, linux/arm/v7)');
    expect(() => parsePlatform('linux/')).toThrow(/invalid platform/);
  });
});

describe('layer entry paths', () => {
  it('normalises and refuses escapes', () => {
    expect(entryPath('./a/./b/')).toBe('a/b');
    expect(entryPath('/abs/x')).toBe('abs/x');
    expect(entryPath('./')).toBe('');
    expect(() => entryPath('a/../../b', 'L')).toThrow('layer L: entry "a/../../b" escapes the layer root');
    expect(() => entryPath('a/..', 'L')).toThrow(/escapes/);
  });
});
