// bin/dock sets NODE_EXTRA_CA_CERTS aside before Node starts (Node would parse the bundle at every
// start); the registry client then trusts that bundle itself, beside Node's roots. A real TLS server
// with a certificate made here by openssl; skipped without openssl.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { needTools, skipWhen } from '../host';
import { ROOT } from '../helpers';


describe.skipIf(skipWhen(needTools('openssl')))('NODE_EXTRA_CA_CERTS for dock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dock-ca-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  let server: ReturnType<typeof createServer>;
  let url: URL;

  beforeAll(async () => {
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) => res.end('{}'));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    url = new URL(`https://localhost:${(server.address() as AddressInfo).port}/v2/`);
  });
  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** httpRequest from a fresh copy of the module, whose agents read the environment when made. */
  async function get(caFile: string | undefined) {
    vi.resetModules();
    if (caFile === undefined) delete process.env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS;
    else process.env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS = caFile;
    try {
      const { httpRequest } = await import('../../src/engine/registry/http');
      const res = await httpRequest({ method: 'GET', url });
      res.body.resume();
      return res.status;
    } finally {
      delete process.env.SKIFF_CALLER_NODE_EXTRA_CA_CERTS;
    }
  }

  it('trusts the bundle bin/dock set aside, and only that', async () => {
    expect(await get(cert)).toBe(200);
    await expect(get(undefined)).rejects.toMatchObject({ code: 'ENETWORK' });
  });

  it('bin/dock starts Node without it (Node would warn about an unreadable bundle at start)', () => {
    const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'missing.pem') };
    const r = spawnSync(join(ROOT, 'bin', 'dock'), ['--version'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const plain = spawnSync(process.execPath, ['-e', '0'], { env, encoding: 'utf8' });
    expect(plain.stderr).toMatch(/extra certs/i); // the check above would notice the variable
  });
});
