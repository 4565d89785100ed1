import { describe, expect, it } from 'vitest';
import { processWord, processWords } from '../../src/engine/build/shell-lex';

const env = new Map<string, string>([
  ['A', 'alpha'],
  ['EMPTY', ''],
  ['SP', 'x  y'],
  ['PATHV', '/usr/local/bin/tool.tar.gz'],
]);
const w = (s: string) => processWord(s, env);

describe('variable substitution (BuildKit rules)', () => {
  it('expands $NAME and ${NAME}; unset is empty', () => {
    expect(w('$A-${A}_$UNSET.')).toBe('alpha-alpha_.');
    expect(w('$')).toBe('$');
    expect(w('a$ b')).toBe('a$ b');
  });

  it('handles :- - :+ + with set, empty and unset variables', () => {
    expect(w('${A:-d}|${EMPTY:-d}|${UNSET:-d}')).toBe('alpha|d|d');
    expect(w('${A-d}|${EMPTY-d}|${UNSET-d}')).toBe('alpha||d');
    expect(w('${A:+x}|${EMPTY:+x}|${UNSET:+x}')).toBe('x||');
    expect(w('${A+x}|${EMPTY+x}|${UNSET+x}')).toBe('x|x|');
    expect(w('${UNSET:-$A/sub}')).toBe('alpha/sub');
    expect(w('${UNSET:-"quoted word"}')).toBe('quoted word');
  });

  it('fails with ? modifiers and bad substitutions', () => {
    expect(() => w('${UNSET:?must be set}')).toThrow(/UNSET: must be set/);
    expect(() => w('${EMPTY:?}')).toThrow(/not allowed to be empty/);
    expect(w('${EMPTY?}')).toBe('');
    expect(() => w('${A')).toThrow(/missing '}'/);
    expect(() => w('${}')).toThrow(/bad substitution/);
    expect(() => w('${A:x}')).toThrow(/unsupported modifier/);
  });

  it('trims prefixes and suffixes with shell patterns, shortest and longest', () => {
    expect(w('${PATHV#*/}')).toBe('usr/local/bin/tool.tar.gz');
    expect(w('${PATHV##*/}')).toBe('tool.tar.gz');
    expect(w('${PATHV%.*}')).toBe('/usr/local/bin/tool.tar');
    expect(w('${PATHV%%.*}')).toBe('/usr/local/bin/tool');
    expect(w('${PATHV/local/opt}')).toBe('/usr/opt/bin/tool.tar.gz');
    expect(w('${PATHV//o/0}')).toBe('/usr/l0cal/bin/t00l.tar.gz');
  });

  it('applies quoting: single quotes literal, double quotes expand, escapes', () => {
    expect(w(`'$A' "$A" \\$A "a\\"b" "\\x" 'it''s'`)).toBe('$A alpha $A a"b \\x its');
    expect(w('a\\ b')).toBe('a b');
    expect(() => w('"open')).toThrow(/double-quote/);
    expect(() => w("'open")).toThrow(/single-quote/);
  });

  it('honours a backtick escape token', () => {
    expect(processWord('a`$A `"b', env, { escape: '`' })).toBe('a$A "b');
    expect(processWord('c:\\dir', env, { escape: '`' })).toBe('c:\\dir');
  });

  it('splits words on unquoted blanks, including those an unquoted expansion brings', () => {
    expect(processWords('a "b c" $SP "$SP" d\\ e', env)).toEqual(['a', 'b c', 'x', 'y', 'x  y', 'd e']);
    expect(processWords('  ', env)).toEqual([]);
  });

  it('keeps unset references with skipUnsetEnv, and quotes with rawQuotes', () => {
    expect(processWord('$X ${Y:-z} $A', env, { skipUnsetEnv: true })).toBe('$X ${Y:-z} alpha');
    expect(processWords(`<<"EOF" 'x'`, env, { rawQuotes: true })).toEqual(['<<"EOF"', "'x'"]);
  });

  it('leaves quotes alone in heredoc mode', () => {
    expect(processWord(`echo "$A" '$A'\n`, env, { skipProcessQuotes: true })).toBe(`echo "alpha" 'alpha'\n`);
  });
});
