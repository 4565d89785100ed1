// Variable interpolation of the Compose Specification: $VAR, ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $.
// Defaults and alternatives may themselves hold interpolations (${A:-${B:-x}}), as compose-go.
// Applied to every string value of the parsed YAML (never to keys), before schema validation.

import { ComposeError } from './errors';

export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export interface InterpolateOptions {
  /** Called once per variable that is unset and has no default (docker compose warns). */
  onUnset?: (name: string) => void;
}

/** Interpolates one string; `where` names its place for error messages. */
export function interpolateString(text: string, lookup: Lookup, where: string, o: InterpolateOptions = {}): string {
  if (!text.includes('$')) return text;
  return new Parser(text, lookup, where, o).run();
}

class Parser {
  private pos = 0;
  constructor(
    private readonly s: string,
    private readonly lookup: Lookup,
    private readonly where: string,
    private readonly o: InterpolateOptions,
  ) {}

  run(): string {
    return this.until(null);
  }

  private bad(): never {
    throw new ComposeError('EINTERP', `${this.where}: invalid interpolation format in "${this.s}": you may need to escape any $ with another $`);
  }

  /** Reads up to (not including) an unmatched `stop` character ("}" inside ${...}), or the end. */
  private until(stop: '}' | null): string {
    let out = '';
    while (this.pos < this.s.length) {
      const c = this.s[this.pos];
      if (stop && c === stop) return out;
      if (c !== '$') {
        out += c;
        this.pos++;
        continue;
      }
      const next = this.s[this.pos + 1];
      if (next === '$') {
        out += '$';
        this.pos += 2;
      } else if (next === '{') {
        this.pos += 2;
        out += this.braced();
      } else {
        const m = NAME.exec(this.s.slice(this.pos + 1));
        if (!m) {
          // A lone "$" (end of string, or before a character that starts no name) stays literal.
          out += '$';
          this.pos++;
          continue;
        }
        this.pos += 1 + m[0].length;
        out += this.value(m[0]) ?? '';
      }
    }
    if (stop) this.bad();
    return out;
  }

  private value(name: string, hasDefault = false): string | undefined {
    const v = this.lookup(name);
    if (v === undefined && !hasDefault) this.o.onUnset?.(name);
    return v;
  }

  /** After "${": NAME, then "}" or an operator and its word, then "}". */
  private braced(): string {
    const m = NAME.exec(this.s.slice(this.pos));
    if (!m) this.bad();
    const name = m[0];
    this.pos += name.length;
    const rest = this.s.slice(this.pos);
    if (rest.startsWith('}')) {
      this.pos++;
      return this.value(name) ?? '';
    }
    const op = /^(:-|-|:\?|\?|:\+|\+)/.exec(rest)?.[0];
    if (!op) this.bad();
    this.pos += op.length;
    // The word is parsed (and so interpolated) only when it is used, as a shell does: an error
    // message or a default is not evaluated for a variable that is set.
    const start = this.pos;
    const word = () => {
      this.pos = start;
      return this.until('}');
    };
    const skip = () => {
      // Parsed with a lookup that never fails, only to find the closing brace.
      const quiet = new Parser(this.s, () => '', this.where, {});
      quiet.pos = start;
      quiet.until('}');
      this.pos = quiet.pos;
    };
    const v = this.lookup(name);
    const emptyCounts = op.startsWith(':');
    const missing = v === undefined || (emptyCounts && v === '');
    let out: string;
    switch (op) {
      case ':-':
      case '-':
        out = missing ? word() : (skip(), v!);
        break;
      case ':+':
      case '+':
        out = missing ? (skip(), '') : word();
        break;
      default: {
        if (!missing) {
          skip();
          out = v!;
          break;
        }
        const msg = word();
        throw new ComposeError('EINTERP', `${this.where}: required variable ${name} is missing a value${msg ? `: ${msg}` : ''}`);
      }
    }
    if (this.s[this.pos] !== '}') this.bad();
    this.pos++;
    return out;
  }
}

/** Interpolates every string value of a parsed document (keys untouched); returns a new value. */
export function interpolateTree(v: unknown, lookup: Lookup, path: string, o: InterpolateOptions = {}): unknown {
  if (typeof v === 'string') return interpolateString(v, lookup, path, o);
  if (Array.isArray(v)) return v.map((x, i) => interpolateTree(x, lookup, `${path}[${i}]`, o));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = interpolateTree(x, lookup, path ? `${path}.${k}` : k, o);
    return out;
  }
  return v;
}
