// Docker compose's labels, on everything `dock compose` makes, so that `up` finds what it made
// before (and other tools recognize the projects), and its naming of containers, networks, volumes.

import { createHash } from 'node:crypto';
import type { Service } from './model';

export const L = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  number: 'com.docker.compose.container-number',
  oneoff: 'com.docker.compose.oneoff',
  hash: 'com.docker.compose.config-hash',
  workingDir: 'com.docker.compose.project.working_dir',
  configFiles: 'com.docker.compose.project.config_files',
  version: 'com.docker.compose.version',
  image: 'com.docker.compose.image',
  dependsOn: 'com.docker.compose.depends_on',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

/** The compose version the labels carry: docker compose v2's format, made by dock. */
export const COMPOSE_VERSION = '2.0.0-dock';

export const containerName = (project: string, service: string, n: number) => `${project}-${service}-${n}`;

/**
 * The config hash: a digest of what makes the container (the service's normalized model), not of
 * what only says how many there are or how the image is made. A changed hash means recreate.
 */
export function configHash(s: Service, networkNames: Record<string, string>): string {
  const { deploy, scale: _scale, build: _build, pull_policy: _pp, profiles: _profiles, depends_on: _deps, ...rest } = s;
  const { replicas: _r, ...deployRest } = deploy ?? {};
  const shape = { ...rest, ...(Object.keys(deployRest).length ? { deploy: deployRest } : {}), networkNames };
  return createHash('sha256').update(stableJson(shape)).digest('hex');
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}
