// Schema validation of one compose file against schemas/compose.json (what dock reads of the
// Compose Specification), compiled to code at build time by scripts/compile-schemas.mjs. The
// error names the place as compose users read it: services.web.ports[0].

import { validateComposeSchema, type SchemaError } from './generated/validators';
import { ComposeError } from './errors';

/** A JSON Pointer as a compose path: /services/web/ports/0 -> services.web.ports[0]. */
export function pointerToPath(ptr: string): string {
  let out = '';
  for (const raw of ptr.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

function at(doc: unknown, ptr: string): unknown {
  let v = doc;
  for (const raw of ptr.split('/').slice(1)) v = (v as Record<string, unknown> | undefined)?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
  return v;
}

const show = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v));

function describe(e: SchemaError, doc: unknown): string {
  const path = pointerToPath(e.instancePath);
  const where = path || 'the top level';
  const p = e.params;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p.additionalProperty);
      // Under services/networks/volumes a key is a name; elsewhere it is a setting dock lacks.
      if (/^(services|networks|volumes|secrets|configs)$/.test(path)) return `${path}: invalid name "${key}": only [a-zA-Z0-9._-] are allowed`;
      return `${path ? `${path}.` : ''}${key}: unsupported key${path ? '' : ' at the top level'} (dock compose does not read it; see src/engine/compose/README.md)`;
    }
    case 'required':
      return `${where}: ${String(p.missingProperty)} is required`;
    case 'type':
      return `${where}: must be ${String(p.type).replace(/,/g, ' or ')}, got ${show(at(doc, e.instancePath))}`;
    case 'enum':
      return `${where}: must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}, got ${show(at(doc, e.instancePath))}`;
    case 'pattern':
      return `${where}: ${show(at(doc, e.instancePath))} does not match ${String(p.pattern)}`;
    case 'uniqueItems':
      return `${where}: must not hold duplicates (items ${String(p.j)} and ${String(p.i)} are the same)`;
    case 'oneOf':
      return `${where}: ${show(at(doc, e.instancePath))} is none of the forms this key takes`;
    default:
      return `${where}: does not match the schema (${e.keyword})`;
  }
}

/**
 * Among the errors ajv collected (the branches of a oneOf fail together), the most telling: an
 * unsupported key or missing one first, then the deepest place, and the summary of a oneOf last.
 */
function pick(errors: SchemaError[]): SchemaError {
  const rank = (e: SchemaError) => (e.keyword === 'additionalProperties' ? 3 : e.keyword === 'oneOf' ? 0 : e.keyword === 'type' ? 1 : 2);
  return [...errors].sort((a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length || rank(b) - rank(a))[0];
}

export function validateComposeFile(doc: unknown, file: string): void {
  if (validateComposeSchema(doc)) return;
  const errors = validateComposeSchema.errors ?? [];
  const e = errors.length ? pick(errors) : undefined;
  throw new ComposeError('ESCHEMA', `${file}: ${e ? describe(e, doc) : 'does not match the compose schema'}`);
}
