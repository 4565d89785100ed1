// Registry credentials in Docker's config format ($DOCKER_CONFIG/config.json, default
// ~/.docker/config.json): "auths" entries with base64 "user:password", credential helpers
// ("credHelpers" per registry, "credsStore" for all) run as docker-credential-<name>, and the
// WWW-Authenticate challenge (Basic, or Bearer with realm/service/scope) of the token protocol.

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { RegistryError } from './errors';
import { DEFAULT_DOMAIN } from './reference';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth refresh token (Docker's "identitytoken"), used instead of the password. */
  identityToken?: string;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
}

export interface DockerConfigFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [k: string]: unknown;
}

/** The key Docker uses for Docker Hub in config.json. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

export function dockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

export function readDockerConfig(path = dockerConfigPath()): DockerConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new RegistryError('ECONFIG', `cannot read ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === '') return {};
  try {
    const doc = JSON.parse(text);
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as DockerConfigFile;
  } catch (e) {
    throw new RegistryError('ECONFIG', `cannot parse ${path}: ${(e as Error).message}`);
  }
}

function writeDockerConfig(cfg: DockerConfigFile, path = dockerConfigPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** config.json keys that may name a registry: Docker writes bare hosts, some tools URLs. */
function candidateKeys(domain: string): string[] {
  if (domain === DEFAULT_DOMAIN) return [DOCKER_HUB_AUTH_KEY, 'index.docker.io', 'docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1'];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

function authKey(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_AUTH_KEY : domain;
}

function decodeEntry(e: AuthEntry): Credentials | null {
  if (e.identitytoken) return { username: e.username ?? '', password: '', identityToken: e.identitytoken };
  if (e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8');
    const i = text.indexOf(':');
    if (i < 0) return null;
    return { username: text.slice(0, i), password: text.slice(i + 1) };
  }
  if (e.username !== undefined && e.password !== undefined) return { username: e.username, password: e.password };
  return null;
}

function fromHelper(helper: string, domain: string): Credentials | null {
  const server = authKey(domain);
  const r = spawnSync(`docker-credential-${helper}`, ['get'], { input: server, encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new RegistryError('ECONFIG', `credential helper docker-credential-${helper}: ${r.error.message}`);
  if (r.status !== 0) {
    if (/credentials not found/i.test(r.stdout + r.stderr)) return null;
    throw new RegistryError('ECONFIG', `credential helper docker-credential-${helper} failed: ${(r.stderr || r.stdout).trim()}`);
  }
  const doc = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
  if (!doc.Secret) return null;
  if (doc.Username === '<token>') return { username: '', password: '', identityToken: doc.Secret };
  return { username: doc.Username ?? '', password: doc.Secret };
}

/** Credentials for a registry domain (as in a reference: docker.io, host:5000), or null. */
export function lookupCredentials(domain: string, cfg: DockerConfigFile = readDockerConfig()): Credentials | null {
  const keys = candidateKeys(domain);
  const helper = keys.map((k) => cfg.credHelpers?.[k]).find(Boolean);
  if (helper) return fromHelper(helper, domain);
  for (const k of keys) {
    const e = cfg.auths?.[k];
    if (e) {
      const c = decodeEntry(e);
      if (c) return c;
    }
  }
  if (cfg.credsStore) return fromHelper(cfg.credsStore, domain);
  return null;
}

export function storeCredentials(domain: string, creds: Credentials, path = dockerConfigPath()): void {
  const cfg = readDockerConfig(path);
  cfg.auths = cfg.auths ?? {};
  cfg.auths[authKey(domain)] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  writeDockerConfig(cfg, path);
}

/** Removes every entry that names this registry; returns whether one existed. */
export function removeCredentials(domain: string, path = dockerConfigPath()): boolean {
  const cfg = readDockerConfig(path);
  let found = false;
  for (const k of candidateKeys(domain)) {
    if (cfg.auths && k in cfg.auths) {
      delete cfg.auths[k];
      found = true;
    }
  }
  if (found) writeDockerConfig(cfg, path);
  return found;
}

export interface Challenge {
  scheme: string; // lower-case: 'basic' | 'bearer' | ...
  params: Record<string, string>;
}

/**
 * Parses WWW-Authenticate values. Registries send one challenge per header line
 * (`Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`); several lines give
 * several challenges.
 */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: Challenge[] = [];
  for (const v of values) {
    const m = /^\s*([A-Za-z][A-Za-z0-9_-]*)(.*)$/s.exec(v);
    if (!m) continue;
    const params: Record<string, string> = {};
    const pr = /([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
    for (const p of m[2].matchAll(pr)) params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
    out.push({ scheme: m[1].toLowerCase(), params });
  }
  return out;
}
