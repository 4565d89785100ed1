import { describe, expect, it } from 'vitest';
import { apiHost, familiarReference, formatReference, isLoopbackDomain, parseReference } from '../../src/engine/registry/reference';

const D = 'sha256:' + 'a'.repeat(64);

describe('image references (Docker normalisation)', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app:v1', 'localhost:5000/app:v1'],
    ['127.0.0.1:5000/a/b/c:tag', '127.0.0.1:5000/a/b/c:tag'],
    ['[::1]:5000/app', '[::1]:5000/app:latest'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest'],
    ['myhost:5000/app', 'myhost:5000/app:latest'],
    ['foo_bar/baz-qux.x__y', 'docker.io/foo_bar/baz-qux.x__y:latest'],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox:1.36@${D}`],
    [`localhost:5000/app@${D}`, `localhost:5000/app@${D}`],
    ['a'.repeat(10) + ':' + 'T'.repeat(128), `docker.io/library/${'a'.repeat(10)}:${'T'.repeat(128)}`],
  ];
  for (const [input, want] of cases) {
    it(`${input} → ${want.slice(0, 60)}`, () => {
      expect(formatReference(parseReference(input))).toBe(want);
    });
  }

  it('keeps port and tag apart', () => {
    const r = parseReference('localhost:5000/app');
    expect(r).toEqual({ domain: 'localhost:5000', path: 'app', tag: 'latest', digest: undefined });
    const r2 = parseReference('host:5000/ns/app:5000');
    expect(r2.domain).toBe('host:5000');
    expect(r2.tag).toBe('5000');
  });

  it('treats a first component without dot or colon as a Docker Hub namespace', () => {
    expect(parseReference('myhost/app').domain).toBe('docker.io');
    expect(parseReference('myhost/app').path).toBe('myhost/app');
  });

  const bad = [
    '',
    'UPPER',
    'docker.io/Library/busybox',
    'busybox:',
    'busybox:-tag',
    'busybox:' + 't'.repeat(129),
    'busybox@sha256:abc',
    'busybox@sha256:' + 'A'.repeat(64),
    'a'.repeat(64),
    'app//x',
    'app/',
    '-app',
    'app-',
    'a..b',
    ':tag',
    'host:port/app',
    'x/' + 'a'.repeat(260),
  ];
  for (const input of bad) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))}`, () => {
      expect(() => parseReference(input)).toThrowError(/invalid reference format/);
    });
  }

  it('prints familiar names as docker does', () => {
    expect(familiarReference(parseReference('busybox'))).toBe('busybox:latest');
    expect(familiarReference(parseReference('user/app:1'))).toBe('user/app:1');
    expect(familiarReference(parseReference('localhost:5000/library/x'))).toBe('localhost:5000/library/x:latest');
    expect(familiarReference(parseReference('docker.io/library/a/b'))).toBe('library/a/b:latest');
  });

  it('knows Docker Hub’s API host and loopback registries', () => {
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('quay.io')).toBe('quay.io');
    expect(isLoopbackDomain('localhost:5000')).toBe(true);
    expect(isLoopbackDomain('127.0.0.1:5000')).toBe(true);
    expect(isLoopbackDomain('[::1]:5000')).toBe(true);
    expect(isLoopbackDomain('example.com:5000')).toBe(false);
  });
});
