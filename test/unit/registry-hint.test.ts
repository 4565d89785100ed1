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

describe('an anonymous pull the registry refuses', () => {
  it("says docker's 'pull access denied ..., repository does not exist or may require login'", async () => {
    const { createServer } = await import('node:http');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { RegistryClient } = await import('../../src/engine/registry/client');
    // Docker Hub's answer for a repository that does not exist: a bearer challenge, an anonymous
    // token, then 401 again for the manifest.
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const challenge = `Bearer realm="http://127.0.0.1:${(server.address() as { port: number }).port}/token",service="registry.test"`;
      if (req.url!.startsWith('/token')) {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token: 'anonymous' }));
        return;
      }
      res.writeHead(401, { 'WWW-Authenticate': challenge, 'Content-Type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const config = mkdtempSync(join(tmpdir(), 'skiff-regcfg-'));
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = config;
    try {
      const domain = `127.0.0.1:${(server.address() as { port: number }).port}`;
      const client = new RegistryClient(domain, { retries: 0 });
      const err = await client.getManifest('library/nosuch', 'img').then(() => null, (e) => e as RegistryError);
      expect(err).toBeInstanceOf(RegistryError);
      expect(err!.code).toBe('EDENIED');
      expect(err!.message).toBe(`pull access denied for ${domain}/library/nosuch, repository does not exist or may require 'dock login' (unauthorized: authentication required)`);
      expect(seen.some((s) => s.startsWith('GET /token'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
      rmSync(config, { recursive: true, force: true });
      server.close();
    }
  });
});
