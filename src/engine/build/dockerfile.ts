// The Dockerfile parser, following BuildKit's (frontend/dockerfile/parser and instructions):
//
//   - parser directives (`# syntax=`, `# escape=`, `# check=`) only at the very top, before any
//     comment, blank line or instruction; `escape` is `\` or a backtick; `syntax` is accepted and
//     ignored (there is one frontend here);
//   - comment lines (`#` after leading whitespace) are dropped, also in the middle of a continued
//     instruction, and so are empty continuation lines;
//   - a line ending in the escape character (trailing blanks allowed) continues on the next;
//   - RUN, COPY and ADD take heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`, several per line): their bodies
//     follow the instruction line verbatim, up to a line that is the terminator;
//   - the instruction's own arguments are then typed: flags (`--name=value`) first, then JSON form
//     (an array of strings) or shell form, `name=value` lists with quotes (ENV, LABEL, ARG).
//
// Variable substitution is not done here: it depends on the build arguments and the ENV of the
// stage at that point, so the builder expands each instruction when it reaches it (expand.ts).

import { BuildError, parseError } from './errors';
import { LexError, processWords } from './shell-lex';

export interface Heredoc {
  /** The terminator word (quotes removed). */
  name: string;
  /** The body: every line with its newline, tabs not yet stripped. */
  content: string;
  /** False when the terminator was quoted: no variable expansion in the body. */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body. */
  chomp: boolean;
}

export interface Flag {
  name: string;
  /** null for a flag given without `=value`. */
  value: string | null;
}

/** One instruction as written, continuation lines joined, before it is typed. */
export interface RawInstruction {
  keyword: string;
  /** Everything after the keyword (flags included), continuations joined. */
  args: string;
  heredocs: Heredoc[];
  /** 1-based line numbers. */
  line: number;
  endLine: number;
}

export interface ParsedFile {
  directives: Record<string, string>;
  escape: string;
  instructions: RawInstruction[];
  warnings: string[];
}

const DIRECTIVE_RE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const HEREDOC_KEYWORDS = new Set(['RUN', 'COPY', 'ADD']);

export function parseDockerfileText(text: string): ParsedFile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  // A final newline does not make one more (empty) line.
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const directives: Record<string, string> = {};
  const warnings: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i]);
    if (!m) break;
    const name = m[1].toLowerCase();
    if (!KNOWN_DIRECTIVES.has(name)) break; // unknown: a comment, and the end of directives
    if (name in directives) throw parseError(i + 1, `only one ${name} parser directive can be used`);
    directives[name] = m[2];
  }
  const escape = directives.escape ?? '\\';
  if (escape !== '\\' && escape !== '`') throw parseError(1, `invalid escape token '${escape}' does not match ` + '` or \\');
  const contRe = new RegExp(`${escape === '\\' ? '\\\\' : '`'}[ \\t]*$`);

  const isComment = (l: string) => l.trimStart().startsWith('#');
  const instructions: RawInstruction[] = [];
  while (i < lines.length) {
    const first = lines[i].trimStart();
    if (first === '' || first.startsWith('#')) {
      i++;
      continue;
    }
    const start = i;
    let line = first;
    let continued = contRe.test(line);
    if (continued) line = line.replace(contRe, '');
    i++;
    while (continued && i < lines.length) {
      const l = lines[i];
      if (isComment(l)) {
        i++;
        continue;
      }
      if (l.trim() === '') {
        warnings.push(`Dockerfile:${i + 1}: empty continuation line`);
        i++;
        continue;
      }
      continued = contRe.test(l);
      line += continued ? l.replace(contRe, '') : l;
      i++;
    }
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const keyword = m[1].toUpperCase();
    const args = m[2].replace(/\s+$/, '');
    const heredocs: Heredoc[] = [];
    if (HEREDOC_KEYWORDS.has(keyword) || (keyword === 'ONBUILD' && /^\s*(RUN|COPY|ADD)\s/i.test(args))) {
      for (const h of heredocMarkers(args, escape, start + 1)) {
        let content = '';
        let done = false;
        while (i < lines.length) {
          const l = lines[i++];
          const term = h.chomp ? l.replace(/^\t+/, '') : l;
          if (term === h.name) {
            done = true;
            break;
          }
          content += l + '\n';
        }
        if (!done) throw parseError(start + 1, `unterminated heredoc ${h.name}`);
        heredocs.push({ ...h, content });
      }
    }
    instructions.push({ keyword, args, heredocs, line: start + 1, endLine: i });
  }
  return { directives, escape, instructions, warnings };
}

/** The heredoc markers of an instruction line: words of the form `<<[-]WORD`. */
export function heredocMarkers(line: string, _escape: string, lineNo: number): Array<Omit<Heredoc, 'content'>> {
  let words: string[];
  try {
    words = processWords(line, new Map(), { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    return []; // unbalanced quotes: the shell will say so; no heredoc here
  }
  const out: Array<Omit<Heredoc, 'content'>> = [];
  for (const w of words) {
    const h = parseHeredocWord(w, lineNo);
    if (h) out.push(h);
  }
  return out;
}

/** `<<EOF`, `<<-EOF`, `<<"EOF"`, `2<<EOF` (BuildKit's ParseHeredoc); null when not a heredoc. */
export function parseHeredocWord(word: string, lineNo = 0): Omit<Heredoc, 'content'> | null {
  const m = /^(\d*)<<(-?)([^<]*)$/.exec(word);
  if (!m || m[3].length === 0) return null;
  const rest = m[3];
  let plain: string[];
  let raw: string[];
  try {
    plain = processWords(rest, new Map(), { skipUnsetEnv: true });
    raw = processWords(rest, new Map(), { skipUnsetEnv: true, rawQuotes: true });
  } catch (e) {
    throw parseError(lineNo, `bad heredoc marker ${word}: ${(e as Error).message}`);
  }
  if (plain.length !== 1 || raw.length !== 1) return null;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return { name: plain[0], expand: quotes(plain[0]) === quotes(raw[0]), chomp: m[2] === '-' };
}

/** Heredoc body with `<<-`'s leading tabs removed. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? h.content.replace(/^\t+/gm, '') : h.content;
}

// ---- typed instructions ------------------------------------------------------------------------

export type CommandForm = { json: true; args: string[] } | { json: false; text: string };

interface Base {
  /** The instruction as shown in progress lines (`RUN echo hi`). */
  display: string;
  line: number;
  flags: Flag[];
}

export type Instruction =
  | (Base & { kind: 'FROM'; image: string; as?: string })
  | (Base & { kind: 'RUN'; cmd: CommandForm; heredocs: Heredoc[] })
  | (Base & { kind: 'COPY' | 'ADD'; json: boolean; sources: string[]; dest: string; heredocs: Heredoc[] })
  | (Base & { kind: 'ENV' | 'LABEL'; pairs: Array<{ key: string; value: string }> })
  | (Base & { kind: 'ARG'; args: Array<{ name: string; value?: string }> })
  | (Base & { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER'; value: string })
  | (Base & { kind: 'EXPOSE'; ports: string[] })
  | (Base & { kind: 'VOLUME'; json: boolean; paths: string[] })
  | (Base & { kind: 'CMD' | 'ENTRYPOINT'; cmd: CommandForm })
  | (Base & { kind: 'SHELL'; args: string[] })
  | (Base & { kind: 'HEALTHCHECK'; none: boolean; cmd?: CommandForm })
  | (Base & { kind: 'ONBUILD'; trigger: string; inner: Instruction });

export type InstructionKind = Instruction['kind'];

const ALLOWED_FLAGS: Record<string, string[]> = {
  FROM: ['platform'],
  RUN: ['mount', 'network', 'security'],
  // --link changes only how BuildKit reuses a layer, not its content: accepted. --parents,
  // --exclude (labs) and ADD's git/URL flags are not implemented and fail as unknown flags.
  COPY: ['from', 'chown', 'chmod', 'link'],
  ADD: ['chown', 'chmod', 'link', 'checksum'],
  HEALTHCHECK: ['interval', 'timeout', 'start-period', 'start-interval', 'retries'],
};
const REPEATABLE = new Set(['mount']);

/**
 * Leading `--name=value` words (BuildKit's extractBuilderFlags): quotes in values are honoured
 * and removed. Returns the flags and the rest of the arguments.
 */
export function splitFlags(args: string, line: number): { flags: Flag[]; rest: string } {
  const flags: Flag[] = [];
  let s = args;
  for (;;) {
    s = s.replace(/^\s+/, '');
    if (!s.startsWith('--')) break;
    let i = 2;
    let word = '';
    let quote = '';
    for (; i < s.length; i++) {
      const c = s[i];
      if (quote) {
        if (c === quote) quote = '';
        else word += c;
      } else if (c === '"' || c === "'") quote = c;
      else if (/\s/.test(c)) break;
      else word += c;
    }
    if (quote) throw parseError(line, `unterminated quote in flag --${word}`);
    if (word === '') break; // "--" alone: not a flag
    const eq = word.indexOf('=');
    flags.push(eq < 0 ? { name: word, value: null } : { name: word.slice(0, eq), value: word.slice(eq + 1) });
    s = s.slice(i);
  }
  return { flags, rest: s };
}

/** `["a", "b"]` → array; anything else (or invalid JSON) → null. */
export function parseJsonArray(text: string): string[] | null {
  const t = text.trim();
  if (!t.startsWith('[')) return null;
  try {
    const v = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    /* shell form */
  }
  return null;
}

function commandForm(rest: string): CommandForm {
  const j = parseJsonArray(rest);
  return j ? { json: true, args: j } : { json: false, text: rest };
}

/**
 * Splits on whitespace, keeping quoted parts (and their quotes) and escapes in the words:
 * BuildKit's parseWords, used for `name=value` lists.
 */
export function splitQuotedWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  let word = '';
  let blankOK = false;
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = '';
  const chars = [...rest];
  for (let pos = 0; pos <= chars.length; pos++) {
    const ch = chars[pos];
    if (phase === 'spaces') {
      if (pos === chars.length) break;
      if (/\s/.test(ch)) continue;
      phase = 'word';
    }
    if (pos === chars.length) {
      if (blankOK || word.length) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (/\s/.test(ch)) {
        phase = 'spaces';
        if (blankOK || word.length) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue;
        word += ch;
        pos++;
        word += chars[pos];
        continue;
      }
      word += ch;
      continue;
    }
    // in quote
    if (ch === quote) phase = 'word';
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word';
        continue;
      }
      word += ch;
      pos++;
      word += chars[pos];
      continue;
    }
    word += ch;
  }
  return words;
}

/** ENV and LABEL: `key=value ...` (quotes kept for expansion), or the old `key value`. */
function parseNameVal(rest: string, kind: string, line: number, escape: string): Array<{ key: string; value: string }> {
  const words = splitQuotedWords(rest, escape);
  if (words.length === 0) throw parseError(line, `${kind} must have two arguments`);
  if (!words[0].includes('=')) {
    const m = /^(\S+)\s+([\s\S]*)$/.exec(rest.trim());
    if (!m || m[2].trim() === '') throw parseError(line, `${kind} must have two arguments`);
    return [{ key: m[1], value: m[2] }];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw parseError(line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return { key: w.slice(0, eq), value: w.slice(eq + 1) };
  });
}

/** Types one raw instruction. `inOnbuild` refuses what ONBUILD may not carry. */
export function typeInstruction(raw: RawInstruction, escape = '\\', inOnbuild = false): Instruction {
  const { keyword, line } = raw;
  const display = `${keyword} ${raw.args}`.trim();
  const split = splitFlags(raw.args, line);
  const allowed = ALLOWED_FLAGS[keyword] ?? [];
  // Only instructions that take flags have them split off; elsewhere `--x` is an argument.
  const flags = allowed.length ? split.flags : [];
  const rest = allowed.length ? split.rest : raw.args;
  for (const f of flags) {
    if (!allowed.includes(f.name)) throw parseError(line, `unknown flag: --${f.name} for ${keyword}`);
    if (!REPEATABLE.has(f.name) && flags.filter((g) => g.name === f.name).length > 1) throw parseError(line, `duplicate flag specified: --${f.name}`);
  }
  const base = { display, line, flags };
  const need = (n: boolean, what: string) => {
    if (!n) throw parseError(line, what);
  };

  switch (keyword) {
    case 'FROM': {
      const words = rest.trim().split(/\s+/).filter(Boolean);
      need(words.length === 1 || (words.length === 3 && words[1].toUpperCase() === 'AS'), 'FROM requires either one or three arguments');
      if (words.length === 3) need(/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(words[2]), `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      return { ...base, kind: 'FROM', image: words[0], ...(words.length === 3 ? { as: words[2].toLowerCase() } : {}) };
    }
    case 'RUN':
      need(rest.trim() !== '', 'RUN requires at least one argument');
      return { ...base, kind: 'RUN', cmd: commandForm(rest), heredocs: raw.heredocs };
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, kind: keyword, cmd: commandForm(rest) };
    case 'COPY':
    case 'ADD': {
      const j = parseJsonArray(rest);
      const parts = j ?? rest.trim().split(/\s+/).filter(Boolean);
      need(parts.length >= 2, `${keyword} requires at least two arguments, but only ${parts.length} provided`);
      return { ...base, kind: keyword, json: !!j, sources: parts.slice(0, -1), dest: parts[parts.length - 1], heredocs: raw.heredocs };
    }
    case 'ENV':
    case 'LABEL':
      return { ...base, kind: keyword, pairs: parseNameVal(rest, keyword, line, escape) };
    case 'ARG': {
      const words = splitQuotedWords(rest, escape);
      need(words.length > 0, 'ARG requires at least one argument');
      return {
        ...base,
        kind: 'ARG',
        args: words.map((w) => {
          const eq = w.indexOf('=');
          return eq < 0 ? { name: w } : { name: w.slice(0, eq), value: w.slice(eq + 1) };
        }),
      };
    }
    case 'WORKDIR':
    case 'USER':
    case 'STOPSIGNAL':
    case 'MAINTAINER':
      need(rest.trim() !== '', `${keyword} requires exactly one argument`);
      if (keyword === 'USER' || keyword === 'STOPSIGNAL') need(rest.trim().split(/\s+/).length === 1, `${keyword} requires exactly one argument`);
      return { ...base, kind: keyword, value: rest.trim() };
    case 'EXPOSE': {
      const ports = rest.trim().split(/\s+/).filter(Boolean);
      need(ports.length > 0, 'EXPOSE requires at least one argument');
      return { ...base, kind: 'EXPOSE', ports };
    }
    case 'VOLUME': {
      const j = parseJsonArray(rest);
      const paths = j ?? rest.trim().split(/\s+/).filter(Boolean);
      need(paths.length > 0, 'VOLUME requires at least one argument');
      return { ...base, kind: 'VOLUME', json: !!j, paths };
    }
    case 'SHELL': {
      const j = parseJsonArray(rest);
      need(!!j && j.length > 0, 'SHELL requires the arguments to be in JSON form');
      return { ...base, kind: 'SHELL', args: j! };
    }
    case 'HEALTHCHECK': {
      const words = rest.trim().split(/\s+/);
      const type = (words[0] ?? '').toUpperCase();
      if (type === 'NONE') {
        need(words.length === 1, 'HEALTHCHECK NONE takes no arguments');
        need(flags.length === 0, 'HEALTHCHECK NONE takes no flags');
        return { ...base, kind: 'HEALTHCHECK', none: true };
      }
      need(type === 'CMD', `Unknown type "${words[0] ?? ''}" in HEALTHCHECK (try CMD)`);
      const cmdText = rest.trim().slice(3).trim();
      need(cmdText !== '', 'Missing command after HEALTHCHECK CMD');
      return { ...base, kind: 'HEALTHCHECK', none: false, cmd: commandForm(cmdText) };
    }
    case 'ONBUILD': {
      need(!inOnbuild, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      const m = /^(\S+)\s*([\s\S]*)$/.exec(rest.trim());
      need(!!m, 'ONBUILD requires at least one argument');
      const kw = m![1].toUpperCase();
      need(kw !== 'ONBUILD', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      need(kw !== 'FROM' && kw !== 'MAINTAINER', `${kw} isn't allowed as an ONBUILD trigger`);
      const inner = typeInstruction({ keyword: kw, args: m![2], heredocs: raw.heredocs, line, endLine: raw.endLine }, escape, true);
      return { ...base, kind: 'ONBUILD', trigger: `${kw} ${m![2]}`.trim(), inner };
    }
    default:
      throw parseError(line, `unknown instruction: ${raw.keyword}`);
  }
}

export interface Stage {
  index: number;
  /** `AS name`, lower-cased. */
  name?: string;
  from: Extract<Instruction, { kind: 'FROM' }>;
  instructions: Instruction[];
}

export interface Dockerfile {
  directives: Record<string, string>;
  escape: string;
  /** ARGs before the first FROM. */
  globalArgs: Array<Extract<Instruction, { kind: 'ARG' }>>;
  stages: Stage[];
  warnings: string[];
}

/** Parses a whole Dockerfile into global ARGs and stages. */
export function parseDockerfile(text: string): Dockerfile {
  const parsed = parseDockerfileText(text);
  const globalArgs: Array<Extract<Instruction, { kind: 'ARG' }>> = [];
  const stages: Stage[] = [];
  for (const raw of parsed.instructions) {
    const ins = typeInstruction(raw, parsed.escape);
    if (ins.kind === 'FROM') {
      if (ins.as && stages.some((s) => s.name === ins.as)) throw parseError(ins.line, `duplicate stage name "${ins.as}"`);
      stages.push({ index: stages.length, name: ins.as, from: ins, instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (ins.kind !== 'ARG') throw parseError(ins.line, `${ins.kind} before the first FROM: only ARG may come before FROM`);
      globalArgs.push(ins);
      continue;
    }
    stages[stages.length - 1].instructions.push(ins);
  }
  if (stages.length === 0) throw new BuildError('EPARSE', 'the Dockerfile has no FROM instruction');
  return { directives: parsed.directives, escape: parsed.escape, globalArgs, stages, warnings: parsed.warnings };
}

export { LexError };
