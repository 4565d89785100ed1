import { describe, expect, it } from 'vitest';
import {
  heredocBody,
  parseDockerfile,
  parseDockerfileText,
  parseHeredocWord,
  splitFlags,
  splitQuotedWords,
  typeInstruction,
  type Instruction,
} from '../../src/engine/build/dockerfile';
import { BuildError } from '../../src/engine/build/errors';

const raw = (text: string) => parseDockerfileText(text).instructions;
const one = (text: string): Instruction => {
  const p = parseDockerfileText(text);
  return typeInstruction(p.instructions[0], p.escape);
};

describe('Dockerfile lines: directives, comments, continuations', () => {
  it('reads parser directives only at the top', () => {
    const p = parseDockerfileText('# syntax=docker/dockerfile:1\n#escape=`\nFROM a\n# escape=\\\nRUN x `\n  y\n');
    expect(p.directives).toEqual({ syntax: 'docker/dockerfile:1', escape: '`' });
    expect(p.escape).toBe('`');
    expect(p.instructions.map((i) => [i.keyword, i.args])).toEqual([
      ['FROM', 'a'],
      ['RUN', 'x   y'],
    ]);
  });

  it('stops reading directives after a comment, a blank line or an unknown directive', () => {
    expect(parseDockerfileText('# hello\n# escape=`\nFROM a').escape).toBe('\\');
    expect(parseDockerfileText('\n# escape=`\nFROM a').escape).toBe('\\');
    expect(parseDockerfileText('# foo=bar\n# escape=`\nFROM a').escape).toBe('\\');
    expect(parseDockerfileText('# ESCAPE = `\nFROM a').escape).toBe('`');
  });

  it('refuses a repeated directive and a bad escape token', () => {
    expect(() => parseDockerfileText('# escape=`\n# escape=`\nFROM a')).toThrow(/only one escape/);
    expect(() => parseDockerfileText('# escape=x\nFROM a')).toThrow(/invalid escape token/);
  });

  it('joins continuation lines, skipping comments and empty lines inside, keeping leading blanks', () => {
    const r = raw('FROM a\nRUN echo a \\\n# a comment\n\n    b \\  \n  c\n  # after\nENV x=1');
    expect(r.map((i) => [i.keyword, i.args, i.line, i.endLine])).toEqual([
      ['FROM', 'a', 1, 1],
      ['RUN', 'echo a     b   c', 2, 6],
      ['ENV', 'x=1', 8, 8],
    ]);
  });

  it('uses the backtick as escape with # escape=`', () => {
    const r = raw('# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo \\');
    expect(r[1].args).toBe('dir c:\\   && echo \\');
  });

  it('handles CRLF line ends, a BOM and lower-case keywords', () => {
    const r = raw('\uFEFFfrom a\r\nrun echo x \\\r\n y\r\n');
    expect(r.map((i) => [i.keyword, i.args])).toEqual([
      ['FROM', 'a'],
      ['RUN', 'echo x  y'],
    ]);
  });
});

describe('heredocs', () => {
  it('reads a RUN heredoc verbatim, including lines that look like instructions or continuations', () => {
    const r = raw('FROM a\nRUN <<EOF\necho hi \\\nFROM nothing\n  # not a comment\nEOF\nCMD x');
    expect(r.map((i) => i.keyword)).toEqual(['FROM', 'RUN', 'CMD']);
    expect(r[1].heredocs).toEqual([{ name: 'EOF', content: 'echo hi \\\nFROM nothing\n  # not a comment\n', expand: true, chomp: false }]);
  });

  it('reads several heredocs of one line in order, with <<- and quoted terminators', () => {
    const r = raw('FROM a\nRUN <<-"ONE" cat > /x && <<TWO sh\n\tone $X\n\tONE\ntwo\nTWO\n');
    const [h1, h2] = r[1].heredocs;
    expect(h1).toEqual({ name: 'ONE', content: '\tone $X\n', expand: false, chomp: true });
    expect(heredocBody(h1)).toBe('one $X\n');
    expect(h2).toEqual({ name: 'TWO', content: 'two\n', expand: true, chomp: false });
  });

  it('takes heredocs in COPY and ADD, not in other instructions', () => {
    expect(raw('COPY <<EOF /f\nx\nEOF\n')[0].heredocs).toHaveLength(1);
    const env = raw('ENV a=<<EOF\nLABEL b=c\n');
    expect(env.map((i) => i.keyword)).toEqual(['ENV', 'LABEL']);
    expect(env[0].heredocs).toEqual([]);
  });

  it('fails on an unterminated heredoc', () => {
    expect(() => raw('RUN <<EOF\necho\n')).toThrow(/unterminated heredoc EOF/);
  });

  it('recognises heredoc words as BuildKit does', () => {
    expect(parseHeredocWord('<<EOF')).toEqual({ name: 'EOF', expand: true, chomp: false });
    expect(parseHeredocWord("<<'EOF'")).toEqual({ name: 'EOF', expand: false, chomp: false });
    expect(parseHeredocWord('<<-E"O"F')).toEqual({ name: 'EOF', expand: false, chomp: true });
    expect(parseHeredocWord('2<<EOF')?.name).toBe('EOF');
    expect(parseHeredocWord('<<')).toBeNull();
    expect(parseHeredocWord('cat<<EOF')).toBeNull();
    expect(parseHeredocWord('<<<EOF')).toBeNull();
  });

  it('does not take quoted << as a heredoc', () => {
    expect(raw("RUN echo '<<EOF'\nCMD x")[0].heredocs).toEqual([]);
  });
});

describe('typed instructions', () => {
  it('splits flags with quotes and stops at the first argument', () => {
    expect(splitFlags('--mount=type=cache,target=/c --network=none echo --x', 1)).toEqual({
      flags: [
        { name: 'mount', value: 'type=cache,target=/c' },
        { name: 'network', value: 'none' },
      ],
      rest: 'echo --x',
    });
    expect(splitFlags('--chown="a b":c --link src dst', 1).flags).toEqual([
      { name: 'chown', value: 'a b:c' },
      { name: 'link', value: null },
    ]);
  });

  it('types FROM with AS, --platform, and checks stage names', () => {
    expect(one('FROM --platform=linux/amd64 busybox:1 AS Builder')).toMatchObject({ kind: 'FROM', image: 'busybox:1', as: 'builder', flags: [{ name: 'platform', value: 'linux/amd64' }] });
    expect(() => one('FROM a AS 1x')).toThrow(/invalid name for build stage/);
    expect(() => one('FROM a b')).toThrow(/either one or three/);
  });

  it('tells JSON form from shell form', () => {
    expect(one('RUN ["echo", "a b"]')).toMatchObject({ cmd: { json: true, args: ['echo', 'a b'] } });
    expect(one('CMD [ "x" ]')).toMatchObject({ cmd: { json: true, args: ['x'] } });
    expect(one('CMD [x, y]')).toMatchObject({ cmd: { json: false, text: '[x, y]' } });
    expect(one('ENTRYPOINT ["a", 1]')).toMatchObject({ cmd: { json: false } });
    expect(one('COPY ["a b", "c d", "/dst/"]')).toMatchObject({ json: true, sources: ['a b', 'c d'], dest: '/dst/' });
  });

  it('parses ENV and LABEL pairs with quotes kept for expansion, and the old "key value" form', () => {
    expect(one('ENV A=1 B="two words" C=a\\ b')).toMatchObject({ pairs: [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }, { key: 'C', value: 'a\\ b' }] });
    expect(one('ENV NAME some value here')).toMatchObject({ pairs: [{ key: 'NAME', value: 'some value here' }] });
    expect(one('LABEL "com.x"="y z"')).toMatchObject({ pairs: [{ key: '"com.x"', value: '"y z"' }] });
    expect(() => one('ENV A=1 B')).toThrow(/can't find =/);
    expect(() => one('ENV A')).toThrow(/two arguments/);
  });

  it('parses ARG lists with and without defaults', () => {
    expect(one('ARG A B=2 C="x y"')).toMatchObject({ args: [{ name: 'A' }, { name: 'B', value: '2' }, { name: 'C', value: '"x y"' }] });
  });

  it('parses HEALTHCHECK forms and its flags', () => {
    expect(one('HEALTHCHECK NONE')).toMatchObject({ kind: 'HEALTHCHECK', none: true });
    expect(one('HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/')).toMatchObject({
      none: false,
      cmd: { json: false, text: 'curl -f http://x/' },
      flags: [{ name: 'interval', value: '5s' }, { name: 'retries', value: '3' }],
    });
    expect(one('HEALTHCHECK CMD ["true"]')).toMatchObject({ cmd: { json: true, args: ['true'] } });
    expect(() => one('HEALTHCHECK --bogus=1 CMD x')).toThrow(/unknown flag: --bogus/);
    expect(() => one('HEALTHCHECK ECHO x')).toThrow(/Unknown type/);
  });

  it('parses ONBUILD with its inner instruction and refuses chaining', () => {
    const o = one('ONBUILD RUN echo triggered');
    expect(o).toMatchObject({ kind: 'ONBUILD', trigger: 'RUN echo triggered', inner: { kind: 'RUN' } });
    expect(() => one('ONBUILD ONBUILD RUN x')).toThrow(/Chaining ONBUILD/);
    expect(() => one('ONBUILD FROM x')).toThrow(/isn't allowed as an ONBUILD trigger/);
  });

  it('refuses unknown instructions and flags, and SHELL not in JSON form', () => {
    expect(() => one('FOO bar')).toThrow(/unknown instruction: FOO/);
    expect(() => one('COPY --bogus=1 a b')).toThrow(/unknown flag: --bogus/);
    expect(() => one('COPY --from=a --from=b a b')).toThrow(/duplicate flag/);
    expect(() => one('SHELL /bin/bash -c')).toThrow(/JSON form/);
    expect(() => one('COPY onlyone')).toThrow(/at least two arguments/);
  });

  it('keeps `--` words as arguments where an instruction takes no flags', () => {
    expect(one('CMD --help')).toMatchObject({ cmd: { json: false, text: '--help' } });
  });

  it('accepts RUN --mount (repeatable) and COPY --link/--chmod/--chown', () => {
    const r = one('RUN --mount=type=cache,target=/a --mount=type=bind,source=x,target=/b make');
    expect(r.flags.filter((f) => f.name === 'mount')).toHaveLength(2);
    expect(one('COPY --link --chmod=755 --chown=1:2 a /b').flags.map((f) => f.name)).toEqual(['link', 'chmod', 'chown']);
  });
});

describe('stages', () => {
  it('collects global ARGs and stages, with names', () => {
    const df = parseDockerfile('ARG V=1\nFROM a:${V} AS one\nRUN x\nFROM one\nCOPY --from=one /a /b\n');
    expect(df.globalArgs).toHaveLength(1);
    expect(df.stages.map((s) => [s.index, s.name, s.from.image, s.instructions.length])).toEqual([
      [0, 'one', 'a:${V}', 1],
      [1, undefined, 'one', 1],
    ]);
  });

  it('refuses instructions before FROM (except ARG), duplicate stage names and an empty file', () => {
    expect(() => parseDockerfile('RUN x\nFROM a')).toThrow(/before the first FROM/);
    expect(() => parseDockerfile('FROM a AS x\nFROM b AS x')).toThrow(/duplicate stage name/);
    expect(() => parseDockerfile('# nothing\n')).toThrow(BuildError);
  });
});

describe('quoted word splitting (ENV/LABEL lists)', () => {
  it('keeps quotes and escapes, splits on unquoted blanks', () => {
    expect(splitQuotedWords(`a="b c" d='e "f"' g=h\\ i`, '\\')).toEqual([`a="b c"`, `d='e "f"'`, 'g=h\\ i']);
    expect(splitQuotedWords('x=""', '\\')).toEqual(['x=""']);
  });
});
