// Image references parsed and normalised as Docker does (distribution/reference's
// ParseNormalizedNamed): `busybox` is `docker.io/library/busybox:latest`, a first path component
// is a registry host only when it has a dot or a colon or is `localhost`, ports and bracketed IPv6
// hosts are allowed, `name:tag@digest` keeps both.

import { RegistryError } from './errors';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';

// Grammar from distribution/reference/regexp.go.
const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DIGEST_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const SHA256_RE = /^sha256:[0-9a-f]{64}$/;
const ID_RE = /^[a-f0-9]{64}$/;
const NAME_TOTAL_MAX = 255;

export interface Reference {
  /** Registry host as written (normalised: docker.io for Docker Hub), with its port if any. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;
}

const bad = (ref: string, why: string) => new RegistryError('EREFERENCE', `invalid reference format "${ref}": ${why}`);

/** Parses a reference the way `docker pull` does, filling in docker.io, library/ and :latest. */
export function parseReference(input: string, opts: { defaultTag?: boolean } = {}): Reference {
  const ref = input.trim();
  if (ref === '') throw bad(input, 'empty reference');
  if (ID_RE.test(ref)) throw bad(input, 'a 64-character hexadecimal string is an image id, not a name');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw bad(input, `invalid digest "${digest}"`);
    if (digest.startsWith('sha256:') && !SHA256_RE.test(digest)) throw bad(input, 'a sha256 digest has 64 lower-case hex digits');
  }
  // The tag is after the last colon, when that colon is past the last slash (a colon before the
  // last slash is a port).
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(input, `invalid tag "${tag}"`);
  }
  if (rest === '') throw bad(input, 'missing repository name');

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      domain = first;
      path = rest.slice(slash + 1);
    }
  }
  if (domain !== DEFAULT_DOMAIN && !DOMAIN_RE.test(domain)) throw bad(input, `invalid registry host "${domain}"`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) throw bad(input, 'repository name must be lowercase');
  if (!PATH_RE.test(path)) throw bad(input, `invalid repository name "${path}"`);
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  if (domain.length + 1 + path.length > NAME_TOTAL_MAX) throw bad(input, `repository name longer than ${NAME_TOTAL_MAX} characters`);
  if (tag === undefined && digest === undefined && opts.defaultTag !== false) tag = 'latest';
  return { domain, path, tag, digest };
}

/** `docker.io/library/busybox` */
export function repositoryName(r: Pick<Reference, 'domain' | 'path'>): string {
  return `${r.domain}/${r.path}`;
}

/** Full normalised form: `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:...`. */
export function formatReference(r: Reference): string {
  return repositoryName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Docker's short display form: `busybox:latest`, `user/app:1`, `localhost:5000/x:y`. */
export function familiarName(r: Pick<Reference, 'domain' | 'path'>): string {
  if (r.domain === DEFAULT_DOMAIN) {
    return r.path.startsWith(OFFICIAL_REPO_PREFIX) && r.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) < 0
      ? r.path.slice(OFFICIAL_REPO_PREFIX.length)
      : r.path;
  }
  return repositoryName(r);
}

export function familiarReference(r: Reference): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** The host:port to speak the registry API to (Docker Hub's API lives on another host). */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? DOCKER_HUB_API_HOST : domain;
}

/** Host part without the port, brackets removed from IPv6. */
export function hostname(domain: string): string {
  if (domain.startsWith('[')) return domain.slice(1, domain.indexOf(']'));
  const c = domain.lastIndexOf(':');
  return c >= 0 ? domain.slice(0, c) : domain;
}

/** Docker treats loopback registries as insecure: plain HTTP is allowed for them. */
export function isLoopbackDomain(domain: string): boolean {
  const h = hostname(domain).toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export function isDigest(s: string): boolean {
  return SHA256_RE.test(s);
}
