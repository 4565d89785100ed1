// JSON text <-> values for the documents skiff reads and writes (config.json, process.json,
// resources, state). Two things JSON.parse cannot do, done here:
//
// - Exact 64-bit integers. The spec's uint64/int64 fields hold values beyond 2^53 in real configs
//   (RLIM_INFINITY = 18446744073709551615, seccomp masks, "unlimited" memory as 2^63-1). JSON.parse
//   rounds them; parseJson returns every integer that is not a safe integer as a bigint, every
//   other number as a number (see Uint64/Int64 in types.ts). stringifyJson writes bigints back
//   as plain JSON integers.
// - Saying where a syntax error is: "unexpected token ']' at line 3 column 5" (Node 20's own
//   messages carry no position for most errors).
//
// Speed: the native JSON.parse does the work whenever the text holds no integer literal of 16 or
// more digits (all integers up to 2^53 have at most 16 digits, and only those with 16 can be
// unsafe); the hand-written parser below runs only for such texts and to explain syntax errors.

/** A syntax error with its place in the text; line and column count from 1. */
export class JsonSyntaxError extends Error {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  /** The message without the position, e.g. "unexpected token ']'". */
  readonly reason: string;

  constructor(reason: string, text: string, offset: number) {
    const { line, column } = lineColumn(text, offset);
    super(`${reason} at line ${line} column ${column}`);
    this.name = 'JsonSyntaxError';
    this.reason = reason;
    this.offset = offset;
    this.line = line;
    this.column = column;
  }
}

// Sixteen digits in a row: a candidate for an unsafe integer (or a long fraction, or digits in a
// string: those only cost the slower exact parse, never a wrong result).
const LONG_DIGITS = /\d{16}/;

/**
 * JSON.parse with exact 64-bit integers (as bigint when unsafe) and positioned errors.
 * @throws JsonSyntaxError
 */
export function parseJson(text: string): unknown {
  checkJsonDepth(text);
  let fast: unknown;
  try {
    fast = JSON.parse(text);
  } catch (err) {
    // Find where and why with the exact parser; it agrees with JSON.parse on what is valid JSON.
    new ExactParser(text).parseDocument();
    // Unreachable unless the two parsers disagree; keep V8's word for it then.
    throw new JsonSyntaxError(String((err as Error).message).replace(/^Unexpected/, 'unexpected'), text, 0);
  }
  return LONG_DIGITS.test(text) ? new ExactParser(text).parseDocument() : fast;
}

/**
 * Refuse a text nested deeper than MAX_DEPTH before anything parses it: JSON.parse itself copes
 * with 10,000 levels, but every recursive walk after it (validation, cloning, stringify) would
 * die of a stack overflow instead of saying what is wrong. One pass over the text, strings skipped.
 * @throws JsonSyntaxError
 */
export function checkJsonDepth(text: string): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: skip to its closing quote (an unterminated one is the parser's to report)
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) throw new JsonSyntaxError(TOO_DEEP, text, i);
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/** JSON.parse of a document from outside (an image's manifest or config), depth checked first. */
export function parseJsonDocument(text: string): unknown {
  checkJsonDepth(text);
  return JSON.parse(text);
}

/** JSON.stringify that writes bigints as JSON integers (JSON.stringify throws on them). */
export function stringifyJson(value: unknown, space?: number | string): string {
  let nonce: string | undefined;
  const out = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== 'bigint') return v;
      nonce ??= `\u0000${Math.random().toString(36).slice(2)}:`;
      return nonce + v.toString();
    },
    space,
  );
  if (nonce === undefined) return out;
  // JSON.stringify escapes U+0000 as \u0000, so the marker appears as "\u0000<nonce>:<digits>".
  const marker = JSON.stringify(nonce).slice(1, -1);
  return out.replace(new RegExp(`"${marker.replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g'), '$1');
}

/** True when the value holds a bigint anywhere (what parseJson produces for unsafe integers). */
export function containsBigInt(value: unknown): boolean {
  if (typeof value === 'bigint') return true;
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some(containsBigInt);
  for (const key in value) {
    if (containsBigInt((value as Record<string, unknown>)[key])) return true;
  }
  return false;
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** How a character is shown in "unexpected token 'x'": itself when printable, else escaped. */
function showChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code >= 0x20 && code !== 0x7f && !(code >= 0xd800 && code <= 0xdfff) && code !== 0xfeff) return `'${ch}'`;
  return `'\\u${code.toString(16).padStart(4, '0')}'`;
}

// Deep enough for any real document, shallow enough to never exhaust the stack.
const MAX_DEPTH = 2000;
const TOO_DEEP = `too deeply nested (more than ${MAX_DEPTH} levels)`;

/** RFC 8259 JSON, as strict as JSON.parse; integers that are not safe become bigints. */
class ExactParser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parseDocument(): unknown {
    this.skipSpace();
    const value = this.parseValue();
    this.skipSpace();
    if (this.pos < this.text.length) this.unexpected();
    return value;
  }

  private fail(reason: string, at = this.pos): never {
    throw new JsonSyntaxError(reason, this.text, at);
  }

  private unexpected(): never {
    if (this.pos >= this.text.length) this.fail('unexpected end of JSON input');
    this.fail(`unexpected token ${showChar(this.text[this.pos])}`);
  }

  private skipSpace(): void {
    const t = this.text;
    for (;;) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  private parseValue(): unknown {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.parseObject();
      case '[':
        return this.parseArray();
      case '"':
        return this.parseString();
      case 't':
        return this.parseLiteral('true', true);
      case 'f':
        return this.parseLiteral('false', false);
      case 'n':
        return this.parseLiteral('null', null);
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.parseNumber();
        return this.unexpected();
    }
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail(TOO_DEEP);
    this.pos++;
    this.skipSpace();
  }

  private parseObject(): Record<string, unknown> {
    this.enter();
    const obj: Record<string, unknown> = {};
    if (this.text[this.pos] === '}') {
      this.pos++;
      this.depth--;
      return obj;
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.unexpected();
      const key = this.parseString();
      this.skipSpace();
      if (this.text[this.pos] !== ':') this.unexpected();
      this.pos++;
      this.skipSpace();
      const value = this.parseValue();
      // Like JSON.parse: "__proto__" is an own property, never the prototype; the last duplicate wins.
      if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
      else obj[key] = value;
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        this.skipSpace();
      } else if (c === '}') {
        this.pos++;
        this.depth--;
        return obj;
      } else {
        this.unexpected();
      }
    }
  }

  private parseArray(): unknown[] {
    this.enter();
    const arr: unknown[] = [];
    if (this.text[this.pos] === ']') {
      this.pos++;
      this.depth--;
      return arr;
    }
    for (;;) {
      arr.push(this.parseValue());
      this.skipSpace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        this.skipSpace();
      } else if (c === ']') {
        this.pos++;
        this.depth--;
        return arr;
      } else {
        this.unexpected();
      }
    }
  }

  private parseLiteral<T>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++, this.pos++) {
      if (this.text[this.pos] !== word[i]) this.unexpected();
    }
    return value;
  }

  private parseString(): string {
    const t = this.text;
    const start = this.pos;
    this.pos++; // opening quote
    let out = '';
    let chunk = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail('unterminated string', start);
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail(`bad control character ${showChar(t[this.pos])} in string`);
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += t.slice(chunk, this.pos);
      const e = t[this.pos + 1];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = t.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('bad \\u escape in string');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          if (e === undefined) this.fail('unterminated string', start);
          this.fail(`bad escape '\\${showChar(e).slice(1, -1)}' in string`);
      }
      this.pos += 2;
      chunk = this.pos;
    }
  }

  private parseNumber(): number | bigint {
    const t = this.text;
    const start = this.pos;
    if (t[this.pos] === '-') this.pos++;
    if (t[this.pos] === '0') {
      this.pos++;
    } else if (t[this.pos] >= '1' && t[this.pos] <= '9') {
      while (t[this.pos] >= '0' && t[this.pos] <= '9') this.pos++;
    } else {
      this.unexpected();
    }
    let integer = true;
    if (t[this.pos] === '.') {
      integer = false;
      this.pos++;
      if (!(t[this.pos] >= '0' && t[this.pos] <= '9')) this.unexpected();
      while (t[this.pos] >= '0' && t[this.pos] <= '9') this.pos++;
    }
    if (t[this.pos] === 'e' || t[this.pos] === 'E') {
      integer = false;
      this.pos++;
      if (t[this.pos] === '+' || t[this.pos] === '-') this.pos++;
      if (!(t[this.pos] >= '0' && t[this.pos] <= '9')) this.unexpected();
      while (t[this.pos] >= '0' && t[this.pos] <= '9') this.pos++;
    }
    const literal = t.slice(start, this.pos);
    const n = Number(literal);
    if (integer && !Number.isSafeInteger(n)) return BigInt(literal);
    return n;
  }
}
