// Reading one compose file: YAML 1.2 through the `yaml` library with merge keys (<<) and anchors,
// one document only, and the Compose Specification's !reset and !override tags (merge.ts honours
// them). Errors name the file, line and column.

import YAML from 'yaml';
import { ComposeError } from './errors';

/** Markers left in the parsed tree by the tags: { [RESET]: true } and { [OVERRIDE]: value }. */
export const RESET = '\u0000reset';
export const OVERRIDE = '\u0000override';

const marker = (key: string) => (node: YAML.YAMLMap | YAML.YAMLSeq) => {
  const m = new YAML.YAMLMap();
  m.set(key, key === OVERRIDE ? node : true);
  return m;
};

const TAGS: YAML.Tags = [
  { tag: '!reset', identify: () => false, resolve: () => ({ [RESET]: true }) },
  { tag: '!reset', collection: 'seq', identify: () => false, nodeClass: YAML.YAMLSeq, resolve: marker(RESET) },
  { tag: '!reset', collection: 'map', identify: () => false, nodeClass: YAML.YAMLMap, resolve: marker(RESET) },
  { tag: '!override', collection: 'map', identify: () => false, nodeClass: YAML.YAMLMap, resolve: marker(OVERRIDE) },
  { tag: '!override', collection: 'seq', identify: () => false, nodeClass: YAML.YAMLSeq, resolve: marker(OVERRIDE) },
] as YAML.Tags;

function position(file: string, e: YAML.YAMLError): string {
  const at = e.linePos?.[0];
  return at ? `${file}:${at.line}:${at.col}` : file;
}

/** The first line of a yaml library message, without its "at line L, column C" tail. */
function reason(e: YAML.YAMLError): string {
  return e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

export function parseComposeYaml(text: string, file: string): Record<string, unknown> {
  const docs = YAML.parseAllDocuments(text, { merge: true, customTags: TAGS, uniqueKeys: true, prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    const e = d.errors[0] ?? d.warnings[0];
    if (e) throw new ComposeError('EYAML', `${position(file, e)}: yaml: ${reason(e)}`);
  }
  if (list.length > 1) {
    const at = list[1].range?.[0];
    const line = at === undefined ? '' : `:${text.slice(0, at).split('\n').length}`;
    throw new ComposeError('EYAML', `${file}${line}: yaml: a compose file holds one document, this one has ${list.length} (split them into files and give each with -f)`);
  }
  let value: unknown;
  try {
    value = list[0]?.toJS({ maxAliasCount: 1000 }) ?? null;
  } catch (e) {
    throw new ComposeError('EYAML', `${file}: yaml: ${(e as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) throw new ComposeError('EYAML', `${file}: yaml: the file is empty`);
  if (typeof value !== 'object' || Array.isArray(value)) throw new ComposeError('EYAML', `${file}: yaml: the top level must be a mapping (services:, networks:, ...)`);
  return value as Record<string, unknown>;
}
