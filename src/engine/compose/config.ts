// `dock compose config`: the normalized model printed as YAML (or JSON), keys in a stable order.

import YAML from 'yaml';
import type { Project } from './model';

/** Keys sorted; every "$" written "$$", so that the output reads back as it is (docker compose does so). */
function sorted(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$/g, '$$$$');
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted((v as Record<string, unknown>)[k])]));
  return v;
}

/** The document `config` prints: name, services, and the networks/volumes/secrets/configs in use. */
export function configDocument(p: Project): Record<string, unknown> {
  const doc: Record<string, unknown> = { name: p.name, services: sorted(p.services) };
  for (const k of ['networks', 'volumes', 'secrets', 'configs'] as const) if (Object.keys(p[k]).length) doc[k] = sorted(p[k]);
  return doc;
}

export function configText(p: Project, format: 'yaml' | 'json' = 'yaml'): string {
  const doc = configDocument(p);
  if (format === 'json') return JSON.stringify(doc, null, 2) + '\n';
  return YAML.stringify(doc, { aliasDuplicateObjects: false, lineWidth: 0 });
}
