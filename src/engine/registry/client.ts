// Client of one registry (OCI Distribution Spec v1.1, Docker Registry HTTP API v2).
//
// Authentication follows the challenge the registry sends with its first 401: Basic with the
// stored credentials, or Bearer tokens fetched from the challenge's realm for the scopes an
// operation needs (cached until they expire). HTTP is used only for loopback registries and those
// marked insecure, after HTTPS failed to connect, as Docker does.
//
// Blob downloads are verified while they stream (sha256 of what is written), resumed with a Range
// request after an interruption (also across processes: the partial file stays in the ingest
// directory), and retried a few times before failing.

import { createReadStream, createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Credentials, lookupCredentials, parseChallenges, Challenge } from './auth';
import { RegistryError } from './errors';
import { cancelled, httpRequest, HttpResponse, networkError, readBody, registryErrorText } from './http';
import { Descriptor, MANIFEST_ACCEPT } from './manifest';
import { apiHost, isLoopbackDomain } from './reference';
import type { Ingest } from '../store/blobs';
import { sha256 } from '../store/digest';

export interface ClientOptions {
  /** Registries (host[:port]) where plain HTTP and unverified TLS are allowed. */
  insecureRegistries?: string[];
  /** Credentials to use instead of looking them up in the Docker config. */
  credentials?: Credentials | null;
  /** Download retries after an interruption (each resumes where the last stopped). */
  retries?: number;
  /** Base delay between retries, ms. */
  retryDelayMs?: number;
  /** Cancels every request (a pull whose API client went away): RegistryError ECANCELED. */
  signal?: AbortSignal;
}

export function insecureFromEnv(): string[] {
  return (process.env.DOCK_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter(Boolean);
}

type Action = 'pull' | 'push';

export class RegistryClient {
  readonly domain: string;
  private readonly host: string;
  private readonly insecure: boolean;
  private base: URL | null = null;
  private challenge: Challenge | null = null;
  private creds: Credentials | null | undefined;
  private readonly tokens = new Map<string, { header: string; expires: number }>();
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly signal: AbortSignal | undefined;

  constructor(domain: string, opts: ClientOptions = {}) {
    this.domain = domain;
    this.host = apiHost(domain);
    const insecureList = [...(opts.insecureRegistries ?? []), ...insecureFromEnv()];
    this.insecure = isLoopbackDomain(domain) || insecureList.includes(domain) || insecureList.includes(this.host);
    this.creds = opts.credentials;
    this.retries = opts.retries ?? 4;
    this.retryDelayMs = opts.retryDelayMs ?? 300;
    this.signal = opts.signal;
  }

  /** Throws ECANCELED once the caller gave up. */
  checkCancelled(): void {
    if (this.signal?.aborted) throw cancelled(new URL(`https://${this.host}/`));
  }

  private credentials(): Credentials | null {
    if (this.creds === undefined) this.creds = lookupCredentials(this.domain);
    return this.creds;
  }

  /** Finds the scheme (HTTPS, or HTTP for insecure registries) and the auth challenge. */
  async ping(): Promise<HttpResponse> {
    const tryBase = async (scheme: 'https' | 'http') => {
      const base = new URL(`${scheme}://${this.host}/`);
      const res = await httpRequest({ method: 'GET', url: new URL('/v2/', base), insecureTls: this.insecure, idleTimeoutMs: 30_000, signal: this.signal });
      this.base = base;
      return res;
    };
    let res: HttpResponse;
    try {
      res = await tryBase('https');
    } catch (err) {
      if (!this.insecure || !(err instanceof RegistryError) || err.code !== 'ENETWORK') {
        throw this.insecure ? err : withInsecureHint(err, this.domain);
      }
      res = await tryBase('http');
    }
    if (res.status === 401) this.challenge = parseChallenges(res.headers['www-authenticate'])[0] ?? null;
    return res;
  }

  /** Checks the credentials (or anonymous access) against the registry, as `docker login` does. */
  async login(): Promise<void> {
    const res = await this.ping();
    res.body.resume();
    if (res.status === 200) {
      if (this.challenge === null && this.credentials()) return;
      return;
    }
    if (res.status !== 401) throw new RegistryError('EHTTP', `unexpected answer from ${this.domain}: HTTP ${res.status}`);
    const r = await this.send('GET', '/v2/', { scopes: [] });
    r.body.resume();
    if (r.status !== 200) throw new RegistryError('EHTTP', `unexpected answer from ${this.domain}: HTTP ${r.status}`);
  }

  private async authHeader(scopes: string[], fresh: boolean): Promise<string | null> {
    const ch = this.challenge;
    if (!ch) return null;
    const creds = this.credentials();
    if (ch.scheme === 'basic') {
      if (!creds) throw new RegistryError('EUNAUTHORIZED', `${this.domain} requires authentication: run "dock login ${this.domain}"`);
      return 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    }
    if (ch.scheme !== 'bearer') throw new RegistryError('EUNAUTHORIZED', `${this.domain} asks for unsupported authentication "${ch.scheme}"`);
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (!fresh && cached && cached.expires > Date.now()) return cached.header;
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError('EUNAUTHORIZED', `${this.domain} sent a bearer challenge without realm`);
    const url = new URL(realm);
    let res: HttpResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'skiff-dock', access_type: 'offline' });
      if (ch.params.service) form.set('service', ch.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await httpRequest({ method: 'POST', url, headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: Buffer.from(form.toString()), insecureTls: this.insecure, signal: this.signal });
    } else {
      if (ch.params.service) url.searchParams.set('service', ch.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds) headers.Authorization = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
      res = await httpRequest({ method: 'GET', url, headers, insecureTls: this.insecure, signal: this.signal });
    }
    if (res.status === 401 || res.status === 403) {
      const why = await registryErrorText(res);
      throw new RegistryError('EUNAUTHORIZED', `${this.domain}: the token service refused ${creds ? `the credentials of "${creds.username}"` : 'anonymous access'} (${why})`);
    }
    if (res.status !== 200) throw new RegistryError('EUNAUTHORIZED', `${this.domain}: token request failed: ${await registryErrorText(res)}`);
    const doc = JSON.parse((await readBody(res, 1 << 20)).toString('utf8')) as { token?: string; access_token?: string; expires_in?: number };
    const token = doc.token || doc.access_token;
    if (!token) throw new RegistryError('EUNAUTHORIZED', `${this.domain}: the token service sent no token`);
    const header = `Bearer ${token}`;
    this.tokens.set(key, { header, expires: Date.now() + Math.max(30, (doc.expires_in ?? 60) - 10) * 1000 });
    return header;
  }

  /**
   * Sends a request to the registry with the authorization its challenge wants, answering a 401
   * once with a fresh challenge / token.
   */
  async send(
    method: string,
    pathOrUrl: string,
    o: { scopes: string[]; headers?: Record<string, string>; body?: Buffer | (() => Readable); idleTimeoutMs?: number },
  ): Promise<HttpResponse> {
    if (!this.base) (await this.ping()).body.resume();
    for (let attempt = 0; ; attempt++) {
      const url = new URL(pathOrUrl, this.base!);
      const headers = { ...(o.headers ?? {}) };
      const auth = await this.authHeader(o.scopes, attempt > 0);
      if (auth) headers.Authorization = auth;
      const res = await httpRequest({ method, url, headers, body: o.body, insecureTls: this.insecure, idleTimeoutMs: o.idleTimeoutMs, signal: this.signal });
      if (res.status !== 401) return res;
      const ch = parseChallenges(res.headers['www-authenticate'])[0] ?? null;
      if (attempt > 0 || !ch || (auth && ch.scheme === 'basic')) {
        const why = await registryErrorText(res);
        const creds = this.credentials();
        // docker's words when an anonymous token does not open a repository to pull (Docker Hub
        // answers so for a repository that does not exist: `FROM nosuch:img`).
        const pull = o.scopes.map((s) => /^repository:(.+):pull$/.exec(s)?.[1]).find(Boolean);
        if (!creds && auth && ch?.scheme === 'bearer' && pull) {
          const name = this.domain === 'docker.io' ? pull.replace(/^library\//, '') : `${this.domain}/${pull}`;
          throw new RegistryError('EDENIED', `pull access denied for ${name}, repository does not exist or may require 'dock login' (${why})`);
        }
        throw new RegistryError(
          'EUNAUTHORIZED',
          creds ? `${this.domain} refused the credentials of "${creds.username}" (${why})` : `${this.domain} requires authentication (${why}): run "dock login ${this.domain}"`,
        );
      }
      res.body.resume();
      this.challenge = ch;
    }
  }

  private scope(repo: string, action: Action): string {
    return `repository:${repo}:${action === 'pull' ? 'pull' : 'pull,push'}`;
  }

  private async fail(res: HttpResponse, what: string): Promise<never> {
    const why = await registryErrorText(res);
    if (res.status === 404) throw new RegistryError('ENOTFOUND', `${what}: not found (${why})`);
    if (res.status === 403) throw new RegistryError('EDENIED', `${what}: denied (${why})`);
    throw new RegistryError('EHTTP', `${what}: ${why}`);
  }

  /** GETs a manifest or index by tag or digest; the digest is computed from the bytes and checked. */
  async getManifest(repo: string, reference: string): Promise<{ body: Buffer; contentType: string | undefined; digest: string }> {
    const res = await this.send('GET', `/v2/${repo}/manifests/${reference}`, { scopes: [this.scope(repo, 'pull')], headers: { Accept: MANIFEST_ACCEPT } });
    const what = `manifest ${this.domain}/${repo}:${reference}`.replace(/:sha256:/, '@sha256:');
    if (res.status !== 200) {
      if (res.status === 404) {
        res.body.resume();
        throw new RegistryError('ENOTFOUND', `${this.domain}/${repo}${reference.startsWith('sha256:') ? '@' : ':'}${reference}: manifest unknown`);
      }
      await this.fail(res, what);
    }
    const body = await readBody(res, 8 << 20);
    const digest = sha256(body);
    if (reference.startsWith('sha256:') && digest !== reference) {
      throw new RegistryError('EDIGEST', `${what}: content hashes to ${digest}, not the digest asked for`);
    }
    const announced = res.headers['docker-content-digest'];
    if (typeof announced === 'string' && announced.startsWith('sha256:') && announced !== digest) {
      throw new RegistryError('EDIGEST', `${what}: content hashes to ${digest}, the registry says ${announced}`);
    }
    return { body, contentType: res.headers['content-type'], digest };
  }

  /** A small blob (an image config) read whole and verified. */
  async getBlob(repo: string, desc: Descriptor, limit = 64 << 20): Promise<Buffer> {
    const res = await this.send('GET', `/v2/${repo}/blobs/${desc.digest}`, { scopes: [this.scope(repo, 'pull')] });
    if (res.status !== 200) await this.fail(res, `blob ${desc.digest} of ${this.domain}/${repo}`);
    const body = await readBody(res, limit);
    const got = sha256(body);
    if (got !== desc.digest) throw new RegistryError('EDIGEST', `blob ${desc.digest} of ${this.domain}/${repo}: content hashes to ${got}`);
    if (body.length !== desc.size) throw new RegistryError('ESIZE', `blob ${desc.digest} of ${this.domain}/${repo}: ${body.length} bytes, the manifest says ${desc.size}`);
    return body;
  }

  /**
   * Downloads a blob into an ingest slot, resuming from `ingest.offset`; retried after network
   * failures. The caller commits the ingest (which verifies the digest).
   */
  async downloadBlob(repo: string, desc: Descriptor, ingest: Ingest, onBytes?: (total: number) => void): Promise<void> {
    let lastErr: unknown;
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** (attempt - 1)));
      this.checkCancelled();
      try {
        await this.downloadOnce(repo, desc, ingest, onBytes);
        return;
      } catch (err) {
        this.checkCancelled();
        lastErr = err;
        if (!(err instanceof RegistryError) || err.code !== 'ENETWORK') throw err;
      }
    }
    throw lastErr;
  }

  private async downloadOnce(repo: string, desc: Descriptor, ingest: Ingest, onBytes?: (total: number) => void): Promise<void> {
    if (ingest.offset > desc.size) await ingest.reset();
    if (ingest.offset === desc.size && desc.size > 0) return;
    const what = `blob ${desc.digest} of ${this.domain}/${repo}`;
    const headers: Record<string, string> = {};
    if (ingest.offset > 0) headers.Range = `bytes=${ingest.offset}-`;
    const res = await this.send('GET', `/v2/${repo}/blobs/${desc.digest}`, { scopes: [this.scope(repo, 'pull')], headers, idleTimeoutMs: 60_000 });
    if (res.status === 416) {
      res.body.resume();
      await ingest.reset();
      throw new RegistryError('ENETWORK', `${what}: range not satisfiable, starting over`);
    }
    if (res.status === 200 && ingest.offset > 0) await ingest.reset(); // Range ignored: whole blob
    else if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
      if (!m || Number(m[1]) !== ingest.offset) {
        res.body.resume();
        await ingest.reset();
        throw new RegistryError('ENETWORK', `${what}: unexpected Content-Range, starting over`);
      }
    } else if (res.status !== 200) {
      if (res.status === 404) {
        res.body.resume();
        throw new RegistryError('ENOTFOUND', `${what}: blob unknown to the registry`);
      }
      await this.fail(res, what);
    }
    onBytes?.(ingest.offset);
    const out = createWriteStream(ingest.partialPath, { flags: 'a' });
    const closed = new Promise<void>((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
    });
    try {
      for await (const chunk of res.body) {
        const c = chunk as Buffer;
        if (ingest.offset + c.length > desc.size) {
          res.body.destroy();
          out.end();
          await closed;
          await ingest.reset();
          throw new RegistryError('ESIZE', `${what}: the registry sent more than the ${desc.size} bytes the manifest announces`);
        }
        ingest.hash.update(c);
        ingest.offset += c.length;
        if (!out.write(c)) await new Promise<void>((r) => out.once('drain', r));
        onBytes?.(ingest.offset);
      }
    } catch (err) {
      out.end();
      await closed.catch(() => undefined);
      if (err instanceof RegistryError) throw err;
      throw new RegistryError('ENETWORK', `${what}: download interrupted after ${ingest.offset} of ${desc.size} bytes: ${(err as Error).message}`, { cause: err });
    }
    out.end();
    await closed;
    if (ingest.offset < desc.size) {
      throw new RegistryError('ENETWORK', `${what}: download interrupted after ${ingest.offset} of ${desc.size} bytes`);
    }
  }

  async hasBlob(repo: string, digest: string): Promise<boolean> {
    const res = await this.send('HEAD', `/v2/${repo}/blobs/${digest}`, { scopes: [this.scope(repo, 'push')] });
    res.body.resume();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    return this.fail(res, `blob ${digest} of ${this.domain}/${repo}`);
  }

  /** Cross-repository mount; true when the registry mounted it (201). */
  async mountBlob(repo: string, digest: string, from: string): Promise<boolean> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.send('POST', `/v2/${repo}/blobs/uploads/?${q}`, {
      scopes: [this.scope(repo, 'push'), this.scope(from, 'pull')],
      headers: { 'Content-Length': '0' },
      body: Buffer.alloc(0),
    });
    res.body.resume();
    if (res.status === 201) return true;
    if (res.status === 202) {
      // The registry opened an upload instead; drop it.
      if (res.headers.location) {
        const del = await this.send('DELETE', res.headers.location, { scopes: [this.scope(repo, 'push')] }).catch(() => null);
        del?.body.resume();
      }
      return false;
    }
    return this.fail(res, `mount of ${digest} into ${this.domain}/${repo}`);
  }

  /** Monolithic upload: POST to open a session, PUT the whole blob with its digest. */
  async uploadBlob(repo: string, desc: Descriptor, path: string, onBytes?: (n: number) => void): Promise<void> {
    const what = `upload of ${desc.digest} to ${this.domain}/${repo}`;
    const start = await this.send('POST', `/v2/${repo}/blobs/uploads/`, { scopes: [this.scope(repo, 'push')], headers: { 'Content-Length': '0' }, body: Buffer.alloc(0) });
    if (start.status !== 202) await this.fail(start, what);
    start.body.resume();
    const loc = start.headers.location;
    if (!loc) throw new RegistryError('EHTTP', `${what}: the registry sent no upload location`);
    const url = new URL(loc, this.base!);
    url.searchParams.set('digest', desc.digest);
    let sent = 0;
    const res = await this.send('PUT', url.href, {
      scopes: [this.scope(repo, 'push')],
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(desc.size) },
      body: () => {
        const s = createReadStream(path, { highWaterMark: 1 << 20 });
        s.on('data', (c) => {
          sent += (c as Buffer).length;
          onBytes?.(sent);
        });
        return s;
      },
      idleTimeoutMs: 120_000,
    });
    if (res.status !== 201) await this.fail(res, what);
    res.body.resume();
  }

  async putManifest(repo: string, reference: string, body: Buffer, mediaType: string): Promise<string> {
    const res = await this.send('PUT', `/v2/${repo}/manifests/${reference}`, { scopes: [this.scope(repo, 'push')], headers: { 'Content-Type': mediaType }, body });
    if (res.status !== 201 && res.status !== 200) await this.fail(res, `push of manifest ${this.domain}/${repo}:${reference}`);
    res.body.resume();
    return sha256(body);
  }
}

export { networkError };

/**
 * A failed https ping of a registry, with the --insecure-registry hint only where it can be the
 * answer: a TLS failure or a refused https port of a registry that could be plain HTTP. Never for
 * Docker Hub (`FROM nosuch:img`), never for a name that does not resolve.
 */
export function withInsecureHint(err: unknown, domain: string): unknown {
  if (!(err instanceof RegistryError) || err.code !== 'ENETWORK') return err;
  if (domain === 'docker.io' || /no such host|ENOTFOUND|EAI_AGAIN/.test(err.message)) return err;
  return new RegistryError('ENETWORK', `${err.message} (for a registry without TLS, mark it insecure with --insecure-registry ${domain})`, { cause: err });
}
