// Go's text/template, the language of docker's --format: text and {{actions}} with trim markers and
// comments, pipelines, variables, if/else if/with/range (with else, break, continue), define/
// template/block, parenthesised pipelines, Go's builtin functions (and, or, not, len, index, slice,
// print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery, call) and the functions a
// caller adds (docker's json, join, split, upper...). Values are JSON-shaped: objects act as Go
// maps (a missing key is "<no value>") unless the caller asks for struct rows (`strict`: a missing
// field is an error, as docker's formatter contexts are structs). No npm library implements this
// faithfully (the ones there know fields, if and range only), hence this one evaluator.

export class TemplateError extends Error {
  readonly domain = 'template';
  readonly code = 'ETEMPLATE';
}

export type TemplateFunc = (...args: unknown[]) => unknown;

// ---- lexer ----------------------------------------------------------------------------------------

type TokKind = 'text' | 'open' | 'close' | 'field' | 'var' | 'dot' | 'ident' | 'string' | 'number' | 'char' | 'bool' | 'nil' | 'pipe' | 'lparen' | 'rparen' | 'declare' | 'assign' | 'comma' | 'space';

interface Tok {
  k: TokKind;
  v: string;
  pos: number;
}

function lex(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const err = (msg: string, at: number) => new TemplateError(`template: :${lineOf(src, at)}: ${msg}`);
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let textEnd = open < 0 ? src.length : open;
    let next = textEnd;
    // "{{- " trims the white space before it; "{{/*" is a comment.
    const trimLeft = open >= 0 && src[open + 2] === '-' && /\s/.test(src[open + 3] ?? '');
    if (trimLeft) while (textEnd > i && /\s/.test(src[textEnd - 1])) textEnd--;
    if (textEnd > i) toks.push({ k: 'text', v: src.slice(i, textEnd), pos: i });
    if (open < 0) break;
    next = open + (trimLeft ? 4 : 2);
    let j = next;
    // Comments: {{/* ... */}} with optional trim markers.
    const afterSpace = j;
    if (src.startsWith('/*', afterSpace)) {
      const end = src.indexOf('*/', afterSpace + 2);
      if (end < 0) throw err('unclosed comment', open);
      let k = end + 2;
      let trimRight = false;
      if (src.startsWith(' -}}', k) || src.startsWith('\t-}}', k) || src.startsWith('\n-}}', k)) {
        trimRight = true;
        k += 4;
      } else if (src.startsWith('}}', k)) k += 2;
      else throw err('comment ends before closing delimiter', open);
      i = k;
      if (trimRight) while (i < src.length && /\s/.test(src[i])) i++;
      continue;
    }
    toks.push({ k: 'open', v: '{{', pos: open });
    // Inside the action.
    for (;;) {
      if (j >= src.length) throw err('unclosed action', open);
      const c = src[j];
      if (/\s/.test(c)) {
        // " -}}" closes with a right trim.
        let k = j;
        while (k < src.length && /\s/.test(src[k])) k++;
        if (src.startsWith('-}}', k)) {
          toks.push({ k: 'close', v: '}}', pos: k });
          j = k + 3;
          while (j < src.length && /\s/.test(src[j])) j++;
          break;
        }
        toks.push({ k: 'space', v: ' ', pos: j });
        j = k;
        continue;
      }
      if (src.startsWith('}}', j)) {
        toks.push({ k: 'close', v: '}}', pos: j });
        j += 2;
        break;
      }
      const start = j;
      if (c === '|') toks.push({ k: 'pipe', v: c, pos: j++ });
      else if (c === '(') toks.push({ k: 'lparen', v: c, pos: j++ });
      else if (c === ')') toks.push({ k: 'rparen', v: c, pos: j++ });
      else if (c === ',') toks.push({ k: 'comma', v: c, pos: j++ });
      else if (c === ':' && src[j + 1] === '=') {
        toks.push({ k: 'declare', v: ':=', pos: j });
        j += 2;
      } else if (c === '=') toks.push({ k: 'assign', v: c, pos: j++ });
      else if (c === '"') {
        j++;
        while (j < src.length && src[j] !== '"') {
          if (src[j] === '\\') j++;
          if (src[j] === '\n') throw err('unterminated quoted string', start);
          j++;
        }
        if (j >= src.length) throw err('unterminated quoted string', start);
        j++;
        toks.push({ k: 'string', v: unquote(src.slice(start + 1, j - 1), () => err('invalid syntax in quoted string', start)), pos: start });
      } else if (c === '`') {
        const end = src.indexOf('`', j + 1);
        if (end < 0) throw err('unterminated raw quoted string', start);
        toks.push({ k: 'string', v: src.slice(j + 1, end), pos: start });
        j = end + 1;
      } else if (c === "'") {
        j++;
        while (j < src.length && src[j] !== "'") {
          if (src[j] === '\\') j++;
          j++;
        }
        if (j >= src.length) throw err('unterminated character constant', start);
        j++;
        const ch = unquote(src.slice(start + 1, j - 1), () => err('invalid syntax in character constant', start));
        if ([...ch].length !== 1) throw err(`malformed character constant: ${src.slice(start, j)}`, start);
        toks.push({ k: 'char', v: String(ch.codePointAt(0)), pos: start });
      } else if (c === '$') {
        j++;
        while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
        toks.push({ k: 'var', v: src.slice(start, j), pos: start });
      } else if (c === '.' && !/[0-9]/.test(src[j + 1] ?? '')) {
        j++;
        if (j < src.length && /[\p{L}_]/u.test(src[j])) {
          while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
          toks.push({ k: 'field', v: src.slice(start + 1, j), pos: start });
        } else toks.push({ k: 'dot', v: '.', pos: start });
      } else if (/[0-9+\-.]/.test(c)) {
        const m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][+-]?\d+)?)/.exec(src.slice(j));
        const w = m?.[0] ?? '';
        if (!/[0-9]/.test(w) || /[\p{L}_.]/u.test(src[j + w.length] ?? '')) throw err(`bad number syntax: "${src.slice(j).split(/[\s}|)]/)[0]}"`, start);
        j += w.length;
        toks.push({ k: 'number', v: w, pos: start });
      } else if (/[\p{L}_]/u.test(c)) {
        while (j < src.length && /[\p{L}\p{N}_]/u.test(src[j])) j++;
        const w = src.slice(start, j);
        toks.push({ k: w === 'true' || w === 'false' ? 'bool' : w === 'nil' ? 'nil' : 'ident', v: w, pos: start });
      } else throw err(`unexpected "${c}" in command`, j);
    }
    i = j;
  }
  return toks;
}

function lineOf(src: string, pos: number): number {
  return src.slice(0, pos).split('\n').length;
}

function unquote(s: string, bad: () => Error): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== '\\') {
      out += s[i];
      continue;
    }
    const c = s[++i];
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'" };
    if (c in simple) out += simple[c];
    else if (c === 'x' || c === 'u' || c === 'U') {
      const n = c === 'x' ? 2 : c === 'u' ? 4 : 8;
      const hex = s.slice(i + 1, i + 1 + n);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== n) throw bad();
      out += String.fromCodePoint(parseInt(hex, 16));
      i += n;
    } else if (/[0-7]/.test(c)) {
      const oct = s.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct)) throw bad();
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
    } else throw bad();
  }
  return out;
}

// ---- parser ---------------------------------------------------------------------------------------

type Arg =
  | { t: 'field'; path: string[]; pos: number }
  | { t: 'var'; name: string; path: string[]; pos: number }
  | { t: 'dot'; pos: number }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'const'; v: unknown; pos: number }
  | { t: 'pipe'; pipe: Pipe; path: string[]; pos: number };

interface Cmd {
  args: Arg[];
  pos: number;
}

interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Cmd[];
  pos: number;
}

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'with' | 'range'; pipe: Pipe; list: Node[]; else: Node[] | null; pos: number }
  | { t: 'template'; name: string; pipe: Pipe | null; pos: number }
  | { t: 'break' | 'continue'; pos: number };

class Parser {
  private i = 0;
  readonly defines = new Map<string, Node[]>();
  private loops = 0;

  constructor(
    private readonly toks: Tok[],
    private readonly src: string,
    private readonly funcs: Set<string>,
  ) {}

  private err(msg: string, pos?: number): TemplateError {
    return new TemplateError(`template: :${lineOf(this.src, pos ?? this.peek()?.pos ?? this.src.length)}: ${msg}`);
  }

  private peek(skipSpace = true): Tok | undefined {
    let j = this.i;
    if (skipSpace) while (this.toks[j]?.k === 'space') j++;
    return this.toks[j];
  }

  private next(skipSpace = true): Tok | undefined {
    if (skipSpace) while (this.toks[this.i]?.k === 'space') this.i++;
    return this.toks[this.i++];
  }

  private expect(k: TokKind, ctx: string): Tok {
    const t = this.next();
    if (!t || t.k !== k) throw this.err(`unexpected ${describe(t)} in ${ctx}`, t?.pos);
    return t;
  }

  parse(): Node[] {
    const { list, end } = this.list();
    if (end) throw this.err(`unexpected {{${end.word}}}`, end.pos);
    return list;
  }

  /** Nodes up to {{end}}, {{else...}} or the end of the input. */
  private list(): { list: Node[]; end: { word: 'end' | 'else'; pos: number } | null } {
    const list: Node[] = [];
    for (;;) {
      const t = this.next(false);
      if (!t) return { list, end: null };
      if (t.k === 'text') {
        list.push({ t: 'text', v: t.v });
        continue;
      }
      // t is "open"
      const w = this.peek();
      if (w?.k === 'ident') {
        switch (w.v) {
          case 'end':
            this.next();
            this.expect('close', 'end');
            return { list, end: { word: 'end', pos: w.pos } };
          case 'else':
            this.next();
            return { list, end: { word: 'else', pos: w.pos } };
          case 'if':
          case 'with':
          case 'range':
            this.next();
            list.push(this.control(w.v, w.pos));
            continue;
          case 'break':
          case 'continue':
            this.next();
            if (!this.loops) throw this.err(`{{${w.v}}} outside {{range}}`, w.pos);
            this.expect('close', w.v);
            list.push({ t: w.v, pos: w.pos });
            continue;
          case 'define': {
            this.next();
            const name = this.expect('string', 'define clause').v;
            this.expect('close', 'define clause');
            const body = this.list();
            if (body.end?.word !== 'end') throw this.err('unexpected EOF in define clause', w.pos);
            this.defines.set(name, body.list);
            continue;
          }
          case 'template':
          case 'block': {
            this.next();
            const name = this.expect('string', `${w.v} clause`).v;
            const pipe = this.peek()?.k === 'close' ? null : this.pipeline(`${w.v} clause`, false);
            this.expect('close', `${w.v} clause`);
            if (w.v === 'block') {
              const body = this.list();
              if (body.end?.word !== 'end') throw this.err('unexpected EOF in block clause', w.pos);
              this.defines.set(name, body.list);
            }
            list.push({ t: 'template', name, pipe, pos: w.pos });
            continue;
          }
        }
      }
      const pipe = this.pipeline('command', true);
      this.expect('close', 'command');
      list.push({ t: 'action', pipe });
    }
  }

  private control(kind: 'if' | 'with' | 'range', pos: number): Node {
    const pipe = this.pipeline(kind, true, kind === 'range');
    this.expect('close', kind);
    if (kind === 'range') this.loops++;
    const body = this.list();
    if (kind === 'range') this.loops--;
    if (!body.end) throw this.err(`unexpected EOF`, pos);
    let elseList: Node[] | null = null;
    if (body.end.word === 'else') {
      const w = this.peek();
      if (w?.k === 'ident' && (w.v === 'if' || w.v === 'with') && kind !== 'range') {
        // {{else if ...}} / {{else with ...}}: a nested control that shares our {{end}}.
        this.next();
        elseList = [this.control(w.v, w.pos)];
      } else {
        this.expect('close', 'else');
        const rest = this.list();
        if (rest.end?.word !== 'end') throw this.err(rest.end ? 'expected end; found {{else}}' : 'unexpected EOF', pos);
        elseList = rest.list;
      }
    }
    return { t: kind, pipe, list: body.list, else: elseList, pos };
  }

  private pipeline(ctx: string, allowDecl: boolean, range = false): Pipe {
    const pos = this.peek()?.pos ?? 0;
    const decl: string[] = [];
    let assign = false;
    // $x := / $x = / (range) $i, $e :=
    const save = this.i;
    const v = this.peek();
    if (allowDecl && v?.k === 'var') {
      this.next();
      const after = this.peek();
      if (after?.k === 'declare' || after?.k === 'assign') {
        this.next();
        decl.push(v.v);
        assign = after.k === 'assign';
      } else if (range && after?.k === 'comma') {
        this.next();
        const v2 = this.next();
        if (v2?.k !== 'var') throw this.err(`range can only initialize variables`, v2?.pos);
        const d = this.next();
        if (d?.k !== 'declare' && d?.k !== 'assign') throw this.err(`range can only initialize variables`, d?.pos);
        decl.push(v.v, v2.v);
        assign = d.k === 'assign';
      } else this.i = save;
    }
    const cmds: Cmd[] = [];
    for (;;) {
      cmds.push(this.command(ctx));
      const t = this.peek();
      if (t?.k === 'pipe') {
        this.next();
        continue;
      }
      break;
    }
    if (!cmds.length || cmds.some((c) => !c.args.length)) throw this.err(`missing value for ${ctx}`, pos);
    for (const c of cmds.slice(1)) {
      const a = c.args[0];
      if (a.t === 'const' || a.t === 'dot') throw this.err(`non executable command in pipeline stage ${cmds.indexOf(c) + 1}`, a.pos);
    }
    return { decl, assign, cmds, pos };
  }

  private command(ctx: string): Cmd {
    const args: Arg[] = [];
    const pos = this.peek()?.pos ?? 0;
    for (;;) {
      const t = this.peek();
      if (!t || t.k === 'close' || t.k === 'pipe' || t.k === 'rparen') break;
      args.push(this.operand(ctx));
      // Operands are separated by spaces; a field right after an operand chains onto it.
      const n = this.toks[this.i];
      if (n && n.k !== 'space' && n.k !== 'close' && n.k !== 'pipe' && n.k !== 'rparen') throw this.err(`unexpected ${describe(n)} in operand`, n.pos);
    }
    if (!args.length) throw this.err(`missing value for ${ctx}`, pos);
    return { args, pos };
  }

  private fields(): string[] {
    const path: string[] = [];
    while (this.toks[this.i]?.k === 'field') path.push(this.toks[this.i++].v);
    return path;
  }

  private operand(ctx: string): Arg {
    const t = this.next()!;
    switch (t.k) {
      case 'field':
        return { t: 'field', path: [t.v, ...this.fields()], pos: t.pos };
      case 'var': {
        return { t: 'var', name: t.v, path: this.fields(), pos: t.pos };
      }
      case 'dot':
        if (this.toks[this.i]?.k === 'field') throw this.err('unexpected . after term "."', t.pos);
        return { t: 'dot', pos: t.pos };
      case 'ident':
        if (!this.funcs.has(t.v)) throw this.err(`function "${t.v}" not defined`, t.pos);
        if (this.toks[this.i]?.k === 'field') throw this.err(`unexpected . after term "${t.v}"`, t.pos);
        return { t: 'ident', name: t.v, pos: t.pos };
      case 'string':
        return { t: 'const', v: t.v, pos: t.pos };
      case 'char':
        return { t: 'const', v: Number(t.v), pos: t.pos };
      case 'bool':
        return { t: 'const', v: t.v === 'true', pos: t.pos };
      case 'nil':
        return { t: 'const', v: null, pos: t.pos };
      case 'number': {
        const s = t.v.replace(/_/g, '');
        const sign = s.startsWith('-') ? -1 : 1;
        const body = s.replace(/^[+-]/, '');
        // Go's integer literals: 0x.., 0b.., 0o.. and a leading 0 for octal.
        const n = /^0[xX]/.test(body) ? sign * parseInt(body.slice(2), 16) : /^0[bB]/.test(body) ? sign * parseInt(body.slice(2), 2) : /^0[oO]/.test(body) ? sign * parseInt(body.slice(2), 8) : /^0[0-7]+$/.test(body) ? sign * parseInt(body.slice(1), 8) : Number(s);
        if (!Number.isFinite(n)) throw this.err(`bad number syntax: "${t.v}"`, t.pos);
        return { t: 'const', v: n, pos: t.pos };
      }
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', true);
        this.expect('rparen', 'parenthesized pipeline');
        return { t: 'pipe', pipe, path: this.fields(), pos: t.pos };
      }
      default:
        throw this.err(`unexpected ${describe(t)} in ${ctx}`, t.pos);
    }
  }
}

function describe(t: Tok | undefined): string {
  if (!t) return 'EOF';
  if (t.k === 'close') return '"}}"';
  if (t.k === 'rparen') return '")"';
  if (t.k === 'lparen') return '"("';
  if (t.k === 'comma') return '","';
  if (t.k === 'declare') return '":="';
  if (t.k === 'assign') return '"="';
  if (t.k === 'pipe') return '"|"';
  if (t.k === 'string') return `quoted string`;
  return `<${t.k === 'field' ? '.' + t.v : t.v}>`;
}

// ---- values ---------------------------------------------------------------------------------------

/** A missing map key: prints "<no value>" (Go's zero reflect.Value). */
export const NO_VALUE = Symbol('no value');

export function truth(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** fmt's %v of a JSON-shaped value: [a b], map[k:v], <nil>, <no value>. */
export function formatValue(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return '<func>';
  if (Array.isArray(v)) return `[${v.map(inner).join(' ')}]`;
  if (v instanceof Date) return v.toISOString();
  const keys = Object.keys(v as object).sort();
  return `map[${keys.map((k) => `${k}:${inner((v as Record<string, unknown>)[k])}`).join(' ')}]`;
}

function inner(v: unknown): string {
  return v === null || v === undefined || v === NO_VALUE ? '<nil>' : formatValue(v);
}

function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  // Go's %v of a float64: the shortest representation, exponent form from 1e21 and below 1e-4.
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

function typeName(v: unknown): string {
  if (v === null || v === undefined || v === NO_VALUE) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (typeof v === 'function') return 'func';
  return 'map[string]interface {}';
}

function basicKind(v: unknown): string {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (v === null || v === undefined || v === NO_VALUE) return 'nil';
  return 'other';
}

// ---- printf ----------------------------------------------------------------------------------------

/** Go's fmt.Sprintf for the verbs templates use: %v %s %d %q %x %X %o %b %f %F %e %E %g %t %c %%. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let a = 0;
  for (let i = 0; i < format.length; i++) {
    if (format[i] !== '%') {
      out += format[i];
      continue;
    }
    const m = /^([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) {
      out += '%!(NOVERB)';
      break;
    }
    i += m[0].length;
    const flags = m[1];
    let width = m[2] === '*' ? Number(args[a++]) : m[2] !== undefined ? Number(m[2]) : undefined;
    const prec = m[3] === '*' ? Number(args[a++]) : m[3] !== undefined ? Number(m[3]) : m[0].includes('.') ? 0 : undefined;
    const verb = m[4];
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (a >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = args[a++];
    let s: string;
    const num = typeof v === 'number';
    switch (verb) {
      case 'v':
        s = flags.includes('#') && typeof v === 'string' ? JSON.stringify(v) : formatValue(v);
        break;
      case 's':
        s = num || typeof v === 'boolean' ? `%!s(${typeName(v)}=${formatValue(v)})` : formatValue(v);
        if (prec !== undefined && !s.startsWith('%!')) s = [...s].slice(0, prec).join('');
        break;
      case 'q':
        s = typeof v === 'string' ? JSON.stringify(v) : num && Number.isInteger(v) ? `'${String.fromCodePoint(v)}'` : `%!q(${typeName(v)}=${formatValue(v)})`;
        break;
      case 'd':
        s = num && Number.isInteger(v) ? withSign(String(Math.abs(v)), v < 0, flags) : `%!d(${typeName(v)}=${formatValue(v)})`;
        break;
      case 'x':
      case 'X':
      case 'o':
      case 'b': {
        const base = verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
        if (num && Number.isInteger(v)) s = withSign((flags.includes('#') && base === 16 ? '0x' : '') + Math.abs(v).toString(base), v < 0, flags);
        else if (typeof v === 'string' && base === 16) s = Buffer.from(v).toString('hex');
        else {
          s = `%!${verb}(${typeName(v)}=${formatValue(v)})`;
          break;
        }
        if (verb === 'X') s = s.toUpperCase();
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (!num) {
          s = `%!${verb}(${typeName(v)}=${formatValue(v)})`;
          break;
        }
        if (verb === 'f' || verb === 'F') s = Math.abs(v).toFixed(prec ?? 6);
        else if (verb === 'e' || verb === 'E') s = Math.abs(v).toExponential(prec ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
        else s = prec !== undefined ? String(Number(Math.abs(v).toPrecision(prec || 1))) : formatNumber(Math.abs(v));
        s = withSign(s, v < 0, flags);
        if (verb === 'E' || verb === 'G') s = s.toUpperCase();
        break;
      case 't':
        s = typeof v === 'boolean' ? String(v) : `%!t(${typeName(v)}=${formatValue(v)})`;
        break;
      case 'c':
        s = num && Number.isInteger(v) ? String.fromCodePoint(v) : `%!c(${typeName(v)}=${formatValue(v)})`;
        break;
      case 'T':
        s = typeName(v);
        break;
      default:
        s = `%!${verb}(${typeName(v)}=${formatValue(v)})`;
    }
    if (width !== undefined && width < 0) width = undefined;
    if (width !== undefined && [...s].length < width) {
      const pad = width - [...s].length;
      if (flags.includes('-')) s += ' '.repeat(pad);
      else if (flags.includes('0') && /[dxXobfFeEgG]/.test(verb) && num) {
        const sign = /^[+\- ]/.test(s) ? s[0] : '';
        s = sign + '0'.repeat(pad) + s.slice(sign.length);
      } else s = ' '.repeat(pad) + s;
    }
    out += s;
  }
  if (a < args.length) out += `%!(EXTRA ${args.slice(a).map((v) => `${typeName(v)}=${formatValue(v)}`).join(', ')})`;
  return out;
}

function withSign(digits: string, negative: boolean, flags: string): string {
  return (negative ? '-' : flags.includes('+') ? '+' : flags.includes(' ') ? ' ' : '') + digits;
}

// ---- builtins -------------------------------------------------------------------------------------

class ExecError extends Error {}

function compare(op: string, a: unknown, b: unknown): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (op === 'eq' || op === 'ne') {
    if (ka === 'other' || kb === 'other') throw new ExecError('incompatible types for comparison');
    if (ka !== kb && ka !== 'nil' && kb !== 'nil') throw new ExecError('incompatible types for comparison');
    const eq = ka === 'nil' || kb === 'nil' ? ka === kb : a === b;
    return op === 'eq' ? eq : !eq;
  }
  if (ka !== kb) throw new ExecError('incompatible types for comparison');
  if (ka !== 'number' && ka !== 'string') throw new ExecError(`invalid type for comparison`);
  const x = a as number | string;
  const y = b as number | string;
  return op === 'lt' ? x < y : op === 'le' ? x <= y : op === 'gt' ? x > y : x >= y;
}

function lengthOf(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw new ExecError(`len of type ${typeName(v)}`);
}

function indexOf(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (Array.isArray(cur) || typeof cur === 'string') {
      if (typeof k !== 'number' || !Number.isInteger(k)) throw new ExecError(`cannot index slice/array with type ${typeName(k)}`);
      const len = Array.isArray(cur) ? cur.length : Buffer.byteLength(cur);
      if (k < 0 || k >= len) throw new ExecError(`index out of range: ${k}`);
      cur = Array.isArray(cur) ? cur[k] : Buffer.from(cur)[k];
    } else if (cur && typeof cur === 'object') {
      if (typeof k !== 'string') throw new ExecError(`value has type ${typeName(k)}; should be string`);
      cur = Object.prototype.hasOwnProperty.call(cur, k) ? (cur as Record<string, unknown>)[k] : NO_VALUE;
    } else if (cur === null || cur === undefined || cur === NO_VALUE) throw new ExecError('index of untyped nil');
    else throw new ExecError(`can't index item of type ${typeName(cur)}`);
  }
  return cur;
}

function sliceOf(v: unknown, ...idx: unknown[]): unknown {
  if (!Array.isArray(v) && typeof v !== 'string') throw new ExecError(`can't slice item of type ${typeName(v)}`);
  const len = v.length;
  const [lo = 0, hi = len] = idx as number[];
  if (idx.length > 2) throw new ExecError('too many slice indexes');
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi > len || lo > hi) throw new ExecError(`index out of range: ${lo}:${hi}`);
  return v.slice(lo, hi);
}

/** Go's fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

const BUILTINS: Record<string, TemplateFunc> = {
  not: (a) => !truth(a),
  len: (a) => lengthOf(a),
  index: (v, ...k) => indexOf(v, ...k),
  slice: (v, ...k) => sliceOf(v, ...k),
  print: (...a) => sprint(a),
  println: (...a) => a.map(formatValue).join(' ') + '\n',
  printf: (f, ...a) => sprintf(String(f), a),
  eq: (a, ...b) => {
    if (!b.length) throw new ExecError('missing argument for comparison');
    return b.some((x) => compare('eq', a, x));
  },
  ne: (a, b) => compare('ne', a, b),
  lt: (a, b) => compare('lt', a, b),
  le: (a, b) => compare('le', a, b),
  gt: (a, b) => compare('gt', a, b),
  ge: (a, b) => compare('ge', a, b),
  html: (...a) => sprint(a).replace(/[&'<>"\0]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!),
  js: (...a) => sprint(a).replace(/[\\'"<>&=\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
  call: (f, ...a) => {
    if (typeof f !== 'function') throw new ExecError(`non-function of type ${typeName(f)}`);
    return f(...a);
  },
};

// ---- execution ------------------------------------------------------------------------------------

class Break {}
class Continue {}

export interface ExecOptions {
  /** Objects are structs: a field they lack is an error, not "<no value>". */
  strict?: boolean;
}

export class Template {
  private constructor(
    private readonly src: string,
    private readonly root: Node[],
    private readonly defines: Map<string, Node[]>,
    private readonly funcs: Record<string, TemplateFunc>,
  ) {}

  /** Parses `src` (errors are TemplateError with Go's wording); `funcs` are added to the builtins. */
  static parse(src: string, funcs: Record<string, TemplateFunc> = {}): Template {
    const all = { ...BUILTINS, ...funcs };
    const p = new Parser(lex(src), src, new Set([...Object.keys(all), 'and', 'or']));
    const root = p.parse();
    return new Template(src, root, p.defines, all);
  }

  execute(data: unknown, opts: ExecOptions = {}): string {
    const vars: Array<[string, unknown]> = [['$', data]];
    let out = '';
    const fail = (pos: number, what: string, msg: string): never => {
      throw new TemplateError(`template: :${lineOf(this.src, pos)}: executing "" at <${what}>: ${msg}`);
    };

    const field = (base: unknown, name: string, pos: number, args: unknown[], final: unknown, hasFinal: boolean): unknown => {
      if (base === null || base === undefined || base === NO_VALUE) fail(pos, `.${name}`, `nil pointer evaluating interface {}.${name}`);
      if (typeof base !== 'object') fail(pos, `.${name}`, `can't evaluate field ${name} in type ${typeName(base)}`);
      const has = Object.prototype.hasOwnProperty.call(base, name) || (opts.strict && name in (base as object));
      let v = has ? (base as Record<string, unknown>)[name] : NO_VALUE;
      if (!has && (opts.strict || Array.isArray(base))) fail(pos, `.${name}`, `can't evaluate field ${name} in type ${Array.isArray(base) ? typeName(base) : 'row'}`);
      if (typeof v === 'function') {
        const callArgs = hasFinal ? [...args, final] : args;
        try {
          v = (v as TemplateFunc).apply(base, callArgs);
        } catch (e) {
          fail(pos, `.${name}`, `error calling ${name}: ${(e as Error).message}`);
        }
      } else if (args.length || hasFinal) fail(pos, `.${name}`, `${name} has arguments but cannot be invoked as function`);
      return v;
    };

    const chain = (base: unknown, path: string[], pos: number, args: unknown[], final: unknown, hasFinal: boolean): unknown => {
      let v = base;
      path.forEach((name, i) => {
        const last = i === path.length - 1;
        v = field(v, name, pos, last ? args : [], final, last && hasFinal);
      });
      return v;
    };

    const lookupVar = (name: string, pos: number): unknown => {
      for (let i = vars.length - 1; i >= 0; i--) if (vars[i][0] === name) return vars[i][1];
      return fail(pos, name, `undefined variable: ${name}`);
    };

    const evalArg = (dot: unknown, a: Arg): unknown => {
      switch (a.t) {
        case 'dot':
          return dot;
        case 'const':
          return a.v;
        case 'field':
          return chain(dot, a.path, a.pos, [], undefined, false);
        case 'var':
          return chain(lookupVar(a.name, a.pos), a.path, a.pos, [], undefined, false);
        case 'pipe':
          return chain(evalPipe(dot, a.pipe), a.path, a.pos, [], undefined, false);
        case 'ident': {
          return callFunc(dot, a.name, [], a.pos, undefined, false);
        }
      }
    };

    const callFunc = (dot: unknown, name: string, argNodes: Arg[], pos: number, final: unknown, hasFinal: boolean): unknown => {
      if (name === 'and' || name === 'or') {
        // Short-circuit: the first argument that decides, as Go 1.18 does.
        const nodes = argNodes;
        if (!nodes.length && !hasFinal) fail(pos, name, `wrong number of args for ${name}: want at least 1 got 0`);
        let v: unknown;
        for (const n of nodes) {
          v = evalArg(dot, n);
          if (truth(v) !== (name === 'and')) return v;
        }
        return hasFinal ? final : v;
      }
      const f = this.funcs[name];
      const args = argNodes.map((n) => evalArg(dot, n));
      if (hasFinal) args.push(final);
      try {
        return f(...args);
      } catch (e) {
        if (e instanceof TemplateError) throw e;
        return fail(pos, name, `error calling ${name}: ${(e as Error).message}`);
      }
    };

    const evalCmd = (dot: unknown, c: Cmd, final: unknown, hasFinal: boolean): unknown => {
      const [first, ...rest] = c.args;
      switch (first.t) {
        case 'ident':
          return callFunc(dot, first.name, rest, first.pos, final, hasFinal);
        case 'field':
          return chain(dot, first.path, first.pos, rest.map((n) => evalArg(dot, n)), final, hasFinal);
        case 'var':
          if (first.path.length) return chain(lookupVar(first.name, first.pos), first.path, first.pos, rest.map((n) => evalArg(dot, n)), final, hasFinal);
          break;
        case 'pipe':
          if (first.path.length) return chain(evalPipe(dot, first.pipe), first.path, first.pos, rest.map((n) => evalArg(dot, n)), final, hasFinal);
          break;
      }
      if (rest.length || hasFinal) fail(first.pos, '', `can't give argument to non-function ${argText(first)}`);
      return evalArg(dot, first);
    };

    const evalPipe = (dot: unknown, p: Pipe): unknown => {
      let v: unknown;
      p.cmds.forEach((c, i) => {
        v = evalCmd(dot, c, v, i > 0);
      });
      if (p.decl.length === 1) setVar(p.decl[0], v, p.assign, p.pos);
      return v;
    };

    const setVar = (name: string, v: unknown, assign: boolean, pos: number) => {
      if (assign) {
        for (let i = vars.length - 1; i >= 0; i--)
          if (vars[i][0] === name) {
            vars[i][1] = v;
            return;
          }
        fail(pos, name, `undefined variable: ${name}`);
      }
      vars.push([name, v]);
    };

    const walk = (dot: unknown, list: Node[]): void => {
      for (const n of list) {
        switch (n.t) {
          case 'text':
            out += n.v;
            break;
          case 'action': {
            const v = evalPipe(dot, n.pipe);
            if (!n.pipe.decl.length) out += formatValue(v);
            break;
          }
          case 'if':
          case 'with': {
            const mark = vars.length;
            const v = evalPipe(dot, n.pipe);
            if (truth(v)) walk(n.t === 'with' ? v : dot, n.list);
            else if (n.else) walk(dot, n.else);
            vars.length = mark;
            break;
          }
          case 'range': {
            const mark = vars.length;
            const decl = n.pipe.decl;
            const v = evalPipe(dot, { ...n.pipe, decl: [] });
            let items: Array<[unknown, unknown]>;
            if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
            else if (typeof v === 'number' && Number.isInteger(v)) items = Array.from({ length: Math.max(0, v) }, (_x, i) => [i, i]);
            else if (v && typeof v === 'object') items = Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
            else if (v === null || v === undefined || v === NO_VALUE) items = [];
            else fail(n.pos, 'range', `range can't iterate over ${formatValue(v)}`);
            if (!items!.length) {
              if (n.else) walk(dot, n.else);
              vars.length = mark;
              break;
            }
            for (const [k, x] of items!) {
              const inner = vars.length;
              if (decl.length === 1) setVar(decl[0], x, n.pipe.assign, n.pos);
              if (decl.length === 2) {
                setVar(decl[0], k, n.pipe.assign, n.pos);
                setVar(decl[1], x, n.pipe.assign, n.pos);
              }
              try {
                walk(x, n.list);
              } catch (e) {
                if (e instanceof Break) {
                  vars.length = inner;
                  break;
                }
                if (!(e instanceof Continue)) throw e;
              }
              vars.length = inner;
            }
            vars.length = mark;
            break;
          }
          case 'break':
            throw new Break();
          case 'continue':
            throw new Continue();
          case 'template': {
            const body = this.defines.get(n.name);
            if (!body) fail(n.pos, `template`, `template "${n.name}" not defined`);
            const d = n.pipe ? evalPipe(dot, n.pipe) : null;
            const saved = vars.splice(0);
            vars.push(['$', d]);
            try {
              walk(d, body!);
            } finally {
              vars.splice(0, vars.length, ...saved);
            }
            break;
          }
        }
      }
    };

    try {
      walk(data, this.root);
    } catch (e) {
      if (e instanceof ExecError) throw new TemplateError(`template: :1: executing "": ${e.message}`);
      throw e;
    }
    return out;
  }
}

function argText(a: Arg): string {
  switch (a.t) {
    case 'const':
      return typeof a.v === 'string' ? JSON.stringify(a.v) : formatValue(a.v);
    case 'dot':
      return '.';
    default:
      return a.t;
  }
}
