// Word processing of Dockerfile arguments, with the rules of BuildKit's shell lexer
// (frontend/dockerfile/shell/lex.go): single quotes are literal, double quotes allow `$` and
// escape only `"`, `$` and the escape character, the escape character outside quotes takes the
// next character literally, and `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME-word}`,
// `${NAME:+word}`, `${NAME+word}`, `${NAME:?msg}`, `${NAME?msg}`, `${NAME#pat}`, `${NAME##pat}`,
// `${NAME%pat}`, `${NAME%%pat}`, `${NAME/pat/repl}` and `${NAME//pat/repl}` are expanded.
//
// processWord gives one string (quotes removed); processWords splits on unquoted whitespace, and
// the value of an unquoted variable is split too, as a shell would.

export type Env = ReadonlyMap<string, string>;

export interface LexOptions {
  /** The escape character (`\` or, with `# escape=`, a backtick). */
  escape?: string;
  /** Keep quote characters in the result (used to find heredoc markers). */
  rawQuotes?: boolean;
  /** Keep escape characters in the result. */
  rawEscapes?: boolean;
  /** Leave references to unset variables as they are. */
  skipUnsetEnv?: boolean;
  /** Quotes are ordinary characters (heredoc content). */
  skipProcessQuotes?: boolean;
}

export class LexError extends Error {}

const EOF = '';

class Words {
  word = '';
  words: string[] = [];
  inWord = false;
  addChar(ch: string): void {
    if (/\s/.test(ch)) {
      if (this.inWord && this.word.length) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else this.addRaw(ch);
  }
  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  get(): string[] {
    if (this.word.length) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Scanner {
  private readonly chars: string[];
  private i = 0;
  constructor(s: string) {
    this.chars = [...s];
  }
  peek(): string {
    return this.i < this.chars.length ? this.chars[this.i] : EOF;
  }
  next(): string {
    return this.i < this.chars.length ? this.chars[this.i++] : EOF;
  }
}

class ShellWord {
  private readonly sc: Scanner;
  private readonly escape: string;
  private rawEscapes: boolean;
  constructor(
    src: string,
    private readonly env: Env,
    private readonly o: LexOptions,
  ) {
    this.sc = new Scanner(src);
    this.escape = o.escape ?? '\\';
    this.rawEscapes = !!o.rawEscapes;
  }

  process(): { word: string; words: string[] } {
    return this.processStopOn(EOF, this.rawEscapes);
  }

  private processStopOn(stop: string, rawEscapes: boolean): { word: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = stop === EOF ? saved : rawEscapes;
    try {
      let result = '';
      const words = new Words();
      for (;;) {
        const ch = this.sc.peek();
        if (ch === EOF) break;
        if (stop !== EOF && ch === stop) {
          this.sc.next();
          return { word: result, words: words.get() };
        }
        if (ch === '$') {
          const v = this.processDollar();
          result += v;
          words.addString(v);
          continue;
        }
        if (!this.o.skipProcessQuotes && (ch === "'" || ch === '"')) {
          const v = ch === "'" ? this.processSingleQuote() : this.processDoubleQuote();
          result += v;
          words.addRaw(v);
          continue;
        }
        let c = this.sc.next();
        if (c === this.escape) {
          if (this.rawEscapes) {
            words.addRaw(c);
            result += c;
          }
          c = this.sc.next();
          if (c === EOF) break;
          words.addRaw(c);
        } else {
          words.addChar(c);
        }
        result += c;
      }
      if (stop !== EOF) throw new LexError(`unexpected end of statement while looking for matching ${stop}`);
      return { word: result, words: words.get() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    let result = '';
    const open = this.sc.next();
    if (this.o.rawQuotes) result += open;
    for (;;) {
      const ch = this.sc.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") {
        if (this.o.rawQuotes) result += ch;
        return result;
      }
      result += ch;
    }
  }

  private processDoubleQuote(): string {
    let result = '';
    const open = this.sc.next();
    if (this.o.rawQuotes) result += open;
    for (;;) {
      const p = this.sc.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        const ch = this.sc.next();
        if (this.o.rawQuotes) result += ch;
        return result;
      }
      if (p === '$') {
        result += this.processDollar();
        continue;
      }
      let ch = this.sc.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const n = this.sc.peek();
        if (n === EOF) continue;
        if (n === '"' || n === '$' || n === this.escape) {
          ch = this.sc.next();
        } else {
          if (!this.rawEscapes) result += ch;
          ch = this.sc.next();
        }
      }
      result += ch;
    }
  }

  private getEnv(name: string): { value: string; set: boolean } {
    const v = this.env.get(name);
    return v === undefined ? { value: '', set: false } : { value: v, set: true };
  }

  private processName(): string {
    let name = '';
    for (;;) {
      const ch = this.sc.peek();
      if (ch === EOF) break;
      if (name === '' && /[0-9]/.test(ch)) {
        while (/^[0-9]$/.test(this.sc.peek())) name += this.sc.next();
        return name;
      }
      if (name === '' && '@*#?-$!0'.includes(ch)) return this.sc.next();
      if (!/[\p{L}\p{N}_]/u.test(ch)) break;
      name += this.sc.next();
    }
    return name;
  }

  private processDollar(): string {
    this.sc.next(); // $
    if (this.sc.peek() !== '{') {
      const name = this.processName();
      if (name === '') return '$';
      const { value, set } = this.getEnv(name);
      if (!set && this.o.skipUnsetEnv) return '$' + name;
      return value;
    }
    this.sc.next(); // {
    const first = this.sc.peek();
    if (first === EOF) throw new LexError("syntax error: missing '}'");
    if (first === '{' || first === '}' || first === ':') throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.sc.next();
    let chs = ch;
    if (ch === '}') {
      const { value, set } = this.getEnv(name);
      if (!set && this.o.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === EOF) throw new LexError("syntax error: missing '}'");
    let nullIsUnset = false;
    if (ch === ':') {
      nullIsUnset = true;
      ch = this.sc.next();
      chs += ch;
    }
    if ('+-?#%'.includes(ch) && ch !== EOF) {
      const raw = ch === '#' || ch === '%';
      if (nullIsUnset && raw) throw new LexError(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try {
        word = this.processStopOn('}', raw).word;
      } catch (e) {
        if (this.sc.peek() === EOF) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const { value, set } = this.getEnv(name);
      if (this.o.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
      switch (ch) {
        case '-':
          return !set || (nullIsUnset && value === '') ? word : value;
        case '+':
          return !set || (nullIsUnset && value === '') ? '' : word;
        case '?':
          if (!set) throw new LexError(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new LexError(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        default: {
          let greedy = false;
          if (word.startsWith(ch)) {
            greedy = true;
            word = word.slice(1);
          }
          return ch === '%' ? trimSuffix(word, value, greedy) : trimPrefix(word, value, greedy);
        }
      }
    }
    if (ch === '/' && !nullIsUnset) {
      const all = this.sc.peek() === '/';
      if (all) this.sc.next();
      const pattern = this.processStopOn('/', true).word;
      const replacement = this.processStopOn('}', true).word;
      const { value, set } = this.getEnv(name);
      if (this.o.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
      const re = new RegExp(globToRegex(pattern, true), all ? 'gs' : 's');
      return value.replace(re, () => replacement);
    }
    throw new LexError(`unsupported modifier (${chs}) in substitution`);
  }
}

/** A shell pattern (`*`, `?`, `[...]`, `\x`) as a regular expression source. */
export function globToRegex(pattern: string, greedy: boolean): string {
  let re = '';
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') re += greedy ? '.*' : '.*?';
    else if (c === '?') re += '.';
    else if (c === '\\' && i + 1 < chars.length) re += escapeRe(chars[++i]);
    else if (c === '[') {
      const end = chars.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let cls = chars.slice(i + 1, end).join('');
        if (cls.startsWith('!') || cls.startsWith('^')) cls = '^' + cls.slice(1);
        re += '[' + cls.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else re += escapeRe(c);
  }
  return re;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const whole = new RegExp('^(?:' + globToRegex(pattern, true) + ')$', 's');
  if (greedy) {
    for (let n = value.length; n >= 0; n--) if (whole.test(value.slice(0, n))) return value.slice(n);
    return value;
  }
  for (let n = 0; n <= value.length; n++) if (whole.test(value.slice(0, n))) return value.slice(n);
  return value;
}

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  const whole = new RegExp('^(?:' + globToRegex(pattern, true) + ')$', 's');
  if (greedy) {
    for (let n = 0; n <= value.length; n++) if (whole.test(value.slice(n))) return value.slice(0, n);
    return value;
  }
  for (let n = value.length; n >= 0; n--) if (whole.test(value.slice(n))) return value.slice(0, n);
  return value;
}

/** One string: quotes removed, escapes applied, variables expanded. */
export function processWord(word: string, env: Env, opts: LexOptions = {}): string {
  return new ShellWord(word, env, opts).process().word;
}

/** Words split on unquoted whitespace (including whitespace that unquoted expansions bring). */
export function processWords(text: string, env: Env, opts: LexOptions = {}): string[] {
  return new ShellWord(text, env, opts).process().words;
}

/** The names of the variables `text` refers to (for build-arg usage checks). */
export function referencedNames(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))/g)) out.add(m[1] ?? m[2]);
  return [...out];
}
