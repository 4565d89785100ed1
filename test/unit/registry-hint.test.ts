// The --insecure-registry hint of a failed https ping: only where marking the registry insecure can
// be the answer, never for Docker Hub (`FROM nosuch:img`) or a name that does not resolve.
import { describe, expect, it } from 'vitest';
import { withInsecureHint } from '../../src/engine/registry/client';
import { RegistryError } from '../../src/engine/registry/errors';

const net = (msg: string) => new RegistryError('ENETWORK', msg);
const text = (e: unknown) => (e as Error).message;

describe('withInsecureHint', () => {
  it('says nothing about --insecure-registry for Docker Hub', () => {
    expect(text(withInsecureHint(net('cannot reach https://registry-1.docker.io: connection refused'), 'docker.io'))).not.toMatch(/insecure/);
    expect(text(withInsecureHint(net('cannot reach https://registry-1.docker.io: certificate has expired'), 'docker.io'))).not.toMatch(/insecure/);
  });

  it('says nothing for a name that does not resolve', () => {
    for (const why of ['no such host', 'getaddrinfo ENOTFOUND nosuch.example', 'getaddrinfo EAI_AGAIN nosuch.example']) {
      expect(text(withInsecureHint(net(`cannot reach https://nosuch.example: ${why}`), 'nosuch.example'))).not.toMatch(/insecure/);
    }
  });

  it('hints for a reachable registry that may be plain HTTP, and leaves other errors alone', () => {
    const hinted = withInsecureHint(net('cannot reach https://reg.lan:5000: wrong version number'), 'reg.lan:5000');
    expect(hinted).toBeInstanceOf(RegistryError);
    expect(text(hinted)).toBe('cannot reach https://reg.lan:5000: wrong version number (for a registry without TLS, mark it insecure with --insecure-registry reg.lan:5000)');
    const denied = new RegistryError('EDENIED', 'pull access denied');
    expect(withInsecureHint(denied, 'reg.lan:5000')).toBe(denied);
  });
});
