// GVariant text format (GLib's gvariant-text; what `busctl`, `gdbus` and runc's
// org.systemd.property.* annotations use) → a D-Bus signature and a value dbus-next can send.
// No npm package parses this text, so this is the subset unit properties need: booleans, numbers
// (int32 or double unless typed), strings, arrays, tuples, and the type prefixes (`uint64 5`,
// `@t 5`, `@as []`). Variants, dictionaries and byte strings are refused with a clear error.
//
// Values as dbus-next wants them: bigint for 64-bit integers ("x", "t"), number for the other
// numbers, arrays for arrays and tuples.

export interface Typed {
  signature: string;
  value: unknown;
}

type Node =
  | { k: 'num'; text: string }
  | { k: 'str'; v: string }
  | { k: 'bool'; v: boolean }
  | { k: 'arr'; items: Node[] }
  | { k: 'tuple'; items: Node[] }
  | { k: 'typed'; sig: string; node: Node };

const KEYWORDS: Record<string, string> = {
  boolean: 'b', byte: 'y', int16: 'n', uint16: 'q', int32: 'i', uint32: 'u', handle: 'h',
  int64: 'x', uint64: 't', double: 'd', string: 's', objectpath: 'o', signature: 'g',
};
const INT_RANGE: Record<string, [bigint, bigint]> = {
  y: [0n, 255n], n: [-32768n, 32767n], q: [0n, 65535n], i: [-(2n ** 31n), 2n ** 31n - 1n],
  u: [0n, 2n ** 32n - 1n], h: [0n, 2n ** 32n - 1n], x: [-(2n ** 63n), 2n ** 63n - 1n], t: [0n, 2n ** 64n - 1n],
};
const INTEGER = /^[-+]?(?:0[xX][0-9a-fA-F]+|\d+)$/;
const FLOAT = /^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)$/;

class ParseError extends Error {}

/** Length of the one complete type at sig[i] (e.g. "a(ss)" → 5), or throws. */
function typeLength(sig: string, i: number): number {
  const c = sig[i];
  if (c === undefined) throw new ParseError(`incomplete type ${JSON.stringify(sig)}`);
  if ('bynqiuxthdsog'.includes(c)) return 1;
  if (c === 'a') return 1 + typeLength(sig, i + 1);
  if (c === '(') {
    let j = i + 1;
    while (sig[j] !== ')') {
      if (sig[j] === undefined) throw new ParseError(`unterminated tuple type ${JSON.stringify(sig)}`);
      j += typeLength(sig, j);
    }
    if (j === i + 1) throw new ParseError('an empty tuple type has no D-Bus form');
    return j + 1 - i;
  }
  throw new ParseError(`unsupported type ${JSON.stringify(c)} in ${JSON.stringify(sig)}`);
}

/** The member types of a tuple type "(sa(ss))" → ["s", "a(ss)"]. */
function tupleMembers(sig: string): string[] {
  const out: string[] = [];
  for (let i = 1; i < sig.length - 1; ) {
    const n = typeLength(sig, i);
    out.push(sig.slice(i, i + n));
    i += n;
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseAll(): Node {
    const n = this.value();
    this.ws();
    if (this.i < this.s.length) throw new ParseError(`unexpected ${JSON.stringify(this.s.slice(this.i, this.i + 10))} after the value`);
    return n;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }

  private word(): string {
    const m = /^[A-Za-z0-9_.+-]+/.exec(this.s.slice(this.i));
    if (!m) throw new ParseError(this.i >= this.s.length ? 'missing value' : `unexpected ${JSON.stringify(this.s[this.i])}`);
    this.i += m[0].length;
    return m[0];
  }

  private value(): Node {
    this.ws();
    const c = this.s[this.i];
    if (c === '@') {
      this.i++;
      const start = this.i;
      const len = typeLength(this.s, start);
      const sig = this.s.slice(start, start + len);
      this.i += len;
      return { k: 'typed', sig, node: this.value() };
    }
    if (c === "'" || c === '"') return { k: 'str', v: this.string(c) };
    if (c === '[') return { k: 'arr', items: this.list(']') };
    if (c === '(') {
      const items = this.list(')');
      if (!items.length) throw new ParseError('an empty tuple has no D-Bus form');
      return { k: 'tuple', items };
    }
    if (c === '<' || c === '{') throw new ParseError(`${c === '<' ? 'variants' : 'dictionaries'} are not supported`);
    const w = this.word();
    if (w === 'true' || w === 'false') return { k: 'bool', v: w === 'true' };
    if (KEYWORDS[w]) {
      if (this.i < this.s.length && !/\s/.test(this.s[this.i])) throw new ParseError(`expected a space after ${w}`);
      return { k: 'typed', sig: KEYWORDS[w], node: this.value() };
    }
    if (INTEGER.test(w) || FLOAT.test(w)) return { k: 'num', text: w };
    throw new ParseError(`unexpected ${JSON.stringify(w)} (strings need quotes)`);
  }

  private list(close: string): Node[] {
    this.i++;
    const items: Node[] = [];
    this.ws();
    if (this.s[this.i] === close) {
      this.i++;
      return items;
    }
    for (;;) {
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === close) return items;
      if (c !== ',') throw new ParseError(c === undefined ? `missing ${JSON.stringify(close)}` : `expected "," or ${JSON.stringify(close)}, not ${JSON.stringify(c)}`);
    }
  }

  private string(q: string): string {
    let out = '';
    this.i++;
    for (;;) {
      const c = this.s[this.i++];
      if (c === undefined) throw new ParseError('unterminated string');
      if (c === q) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.s[this.i++];
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', a: '\x07', '\\': '\\', "'": "'", '"': '"' };
      if (e !== undefined && simple[e] !== undefined) out += simple[e];
      else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = this.s.slice(this.i, this.i + n);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw new ParseError(`bad \\${e} escape`);
        out += String.fromCodePoint(parseInt(hex, 16));
        this.i += n;
      } else throw new ParseError(`unknown escape \\${e ?? ''}`);
    }
  }
}

function infer(n: Node): string {
  switch (n.k) {
    case 'num':
      return INTEGER.test(n.text) ? 'i' : 'd';
    case 'str':
      return 's';
    case 'bool':
      return 'b';
    case 'typed':
      return n.sig;
    case 'tuple':
      return `(${n.items.map(infer).join('')})`;
    case 'arr': {
      if (!n.items.length) throw new ParseError('the type of an empty array cannot be inferred (write it, e.g. @as [])');
      const sigs = [...new Set(n.items.map(infer))];
      if (sigs.length === 1) return `a${sigs[0]}`;
      // As GLib does: one typed element ([uint32 1, 2]) types the plain numbers beside it.
      const definite = [...new Set(n.items.filter((i) => i.k !== 'num').map(infer))];
      if (definite.length === 1 && (INT_RANGE[definite[0]] || definite[0] === 'd')) return `a${definite[0]}`;
      if (sigs.every((s) => s === 'i' || s === 'd')) return 'ad';
      throw new ParseError(`array elements of different types (${sigs.join(', ')})`);
    }
  }
}

function coerce(n: Node, sig: string): unknown {
  if (n.k === 'typed') {
    if (n.sig !== sig) throw new ParseError(`a value of type ${n.sig} where ${sig} is expected`);
    return coerce(n.node, sig);
  }
  const c = sig[0];
  if (INT_RANGE[c]) {
    if (n.k !== 'num' || !INTEGER.test(n.text)) throw new ParseError(`expected an integer (${sig})`);
    const neg = n.text.startsWith('-');
    const body = n.text.replace(/^[-+]/, '');
    const v = neg ? -BigInt(body) : BigInt(body);
    const [lo, hi] = INT_RANGE[c];
    if (v < lo || v > hi) throw new ParseError(`${n.text} is out of range for type ${sig}`);
    return c === 'x' || c === 't' ? v : Number(v);
  }
  switch (c) {
    case 'd':
      if (n.k !== 'num') throw new ParseError('expected a number (d)');
      return Number(n.text);
    case 'b':
      if (n.k !== 'bool') throw new ParseError('expected true or false');
      return n.v;
    case 's':
    case 'o':
    case 'g':
      if (n.k !== 'str') throw new ParseError(`expected a quoted string (${sig})`);
      if (c === 'o' && !/^\/$|^(\/[A-Za-z0-9_]+)+$/.test(n.v)) throw new ParseError(`${JSON.stringify(n.v)} is not an object path`);
      if (c === 'g') for (let i = 0; i < n.v.length; ) i += typeLength(n.v, i);
      return n.v;
    case 'a':
      if (n.k !== 'arr') throw new ParseError(`expected an array (${sig})`);
      return n.items.map((item) => coerce(item, sig.slice(1)));
    case '(': {
      const members = tupleMembers(sig);
      if (n.k !== 'tuple' || n.items.length !== members.length) throw new ParseError(`expected a tuple of ${members.length} (${sig})`);
      return n.items.map((item, i) => coerce(item, members[i]));
    }
    default:
      throw new ParseError(`unsupported type ${sig}`);
  }
}

/** Parse one GVariant text value; throws an Error whose message says what is wrong. */
export function parseGVariant(text: string): Typed {
  try {
    const node = new Parser(text).parseAll();
    const signature = infer(node);
    return { signature, value: coerce(node, signature) };
  } catch (err) {
    if (err instanceof ParseError) throw new Error(err.message);
    throw err;
  }
}
