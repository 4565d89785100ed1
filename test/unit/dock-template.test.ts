// dock's --format: Go text/template semantics, one test per construct (expected outputs are what
// Go's text/template and docker's formatter print for the same template and data).

import { describe, expect, it } from 'vitest';
import { columns, renderFormat, renderFormatDeep } from '../../src/cli/dock/format';
import { sprintf, Template, TemplateError } from '../../src/cli/dock/template';
import { dockerFuncs } from '../../src/cli/dock/format';

const run = (tpl: string, data: unknown = {}, strict = false) => Template.parse(tpl, dockerFuncs).execute(data, { strict });
const parseError = (tpl: string) => {
  try {
    Template.parse(tpl, dockerFuncs);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error(`no parse error for ${tpl}`);
};
const execError = (tpl: string, data: unknown = {}, strict = false) => {
  try {
    run(tpl, data, strict);
  } catch (e) {
    expect(e).toBeInstanceOf(TemplateError);
    return (e as Error).message;
  }
  throw new Error(`no execution error for ${tpl}`);
};

const doc = {
  Id: 'abc',
  Config: { User: '', Env: ['A=1', 'B=2'], Labels: { 'com.x': 'y', a: 'b' }, Tty: false },
  State: { Status: 'running', ExitCode: 0, Pid: 42 },
  Mounts: [{ Source: '/s', Destination: '/d' }],
  NetworkSettings: { Networks: { bridge: { IPAddress: '172.17.0.2' } } },
};

describe('text and actions', () => {
  it('plain text passes through; {{.}} prints dot', () => {
    expect(run('hello')).toBe('hello');
    expect(run('{{.}}', 'x')).toBe('x');
  });
  it('fields, nested fields, missing keys print <no value>', () => {
    expect(run('{{.State.Status}} {{.State.Pid}}', doc)).toBe('running 42');
    expect(run('[{{.Config.User}}]', doc)).toBe('[]');
    expect(run('{{.Nope}}', doc)).toBe('<no value>');
  });
  it('a field of a missing key is a nil pointer error', () => {
    expect(execError('{{.Nope.Deeper}}', doc)).toMatch(/nil pointer evaluating interface \{\}\.Deeper/);
  });
  it('strict rows: a missing field is an error', () => {
    expect(execError('{{.Nope}}', { ID: 'x' }, true)).toMatch(/can't evaluate field Nope/);
  });
  it('values print as fmt %v: slices, maps, bools, nil', () => {
    expect(run('{{.Config.Env}}', doc)).toBe('[A=1 B=2]');
    expect(run('{{.Config.Labels}}', doc)).toBe('map[a:b com.x:y]');
    expect(run('{{.Config.Tty}}', doc)).toBe('false');
    expect(run('{{.X}}', { X: null })).toBe('<nil>');
    expect(run('{{1.5}} {{3}} {{0x10}} {{010}} {{1e3}}')).toBe('1.5 3 16 8 1000');
  });
  it('trim markers and comments', () => {
    expect(run('a  {{- "b" -}}  c')).toBe('abc');
    expect(run('a {{/* note */}}b')).toBe('a b');
    expect(run('a {{- /* note */ -}} b')).toBe('ab');
    expect(run('{{-3}}')).toBe('-3');
  });
  it('string, raw string and char constants', () => {
    expect(run('{{"a\\tb"}}|{{`x\\ty`}}|{{\'a\'}}')).toBe('a\tb|x\\ty|97');
  });
});

describe('pipelines and variables', () => {
  it('the previous value is the last argument', () => {
    expect(run('{{.State.Status | upper}}', doc)).toBe('RUNNING');
    expect(run('{{"," | split "x,y,z" | len}}')).toBe('3');
    expect(run('{{join .Config.Env ", "}}', doc)).toBe('A=1, B=2');
    // As in Go: the piped value is join's last argument (the separator), a type error.
    expect(execError('{{.Config.Env | join ", "}}', doc)).toMatch(/error calling join: wrong type/);
  });
  it('parenthesised pipelines and fields on them', () => {
    expect(run('{{(index .Mounts 0).Destination}}', doc)).toBe('/d');
    expect(run('{{len (split "a b c" " ")}}')).toBe('3');
  });
  it('declare, assign and $', () => {
    expect(run('{{$x := .State.Status}}{{$x}}', doc)).toBe('running');
    expect(run('{{$x := 1}}{{$x = 2}}{{$x}}')).toBe('2');
    expect(run('{{with .State}}{{$.Id}}:{{.Status}}{{end}}', doc)).toBe('abc:running');
    expect(execError('{{$nope}}')).toMatch(/undefined variable: \$nope/);
  });
  it('variables end with their block', () => {
    expect(() => Template.parse('{{if 1}}{{$x := 1}}{{end}}{{$x}}').execute({})).toThrow(/undefined variable/);
  });
  it('methods take arguments (docker .Label "key")', () => {
    expect(run('{{.Label "com.x"}}', { Label: (k: string) => (k === 'com.x' ? 'y' : '') }, true)).toBe('y');
  });
});

describe('control structures', () => {
  it('if / else if / else', () => {
    const t = '{{if eq .State.Status "exited"}}E{{else if eq .State.Status "running"}}R{{else}}?{{end}}';
    expect(run(t, doc)).toBe('R');
    expect(run(t, { State: { Status: 'exited' } })).toBe('E');
    expect(run(t, { State: { Status: 'x' } })).toBe('?');
  });
  it('truth: empty values are false', () => {
    expect(run('{{if .A}}y{{else}}n{{end}}{{if .B}}y{{else}}n{{end}}{{if .C}}y{{else}}n{{end}}{{if .D}}y{{else}}n{{end}}', { A: '', B: [], C: {}, D: 0 })).toBe('nnnn');
  });
  it('with / else with', () => {
    expect(run('{{with .State}}{{.Pid}}{{end}}', doc)).toBe('42');
    expect(run('{{with .Nope}}x{{else with .Id}}{{.}}{{end}}', doc)).toBe('abc');
    expect(run('{{with .Nope}}x{{else}}none{{end}}', doc)).toBe('none');
  });
  it('range over slices, maps (sorted keys), integers; else; break and continue', () => {
    expect(run('{{range .Config.Env}}[{{.}}]{{end}}', doc)).toBe('[A=1][B=2]');
    expect(run('{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}', doc)).toBe('0=A=1 1=B=2 ');
    expect(run('{{range $k, $v := .Config.Labels}}{{$k}}:{{$v}};{{end}}', doc)).toBe('a:b;com.x:y;');
    expect(run('{{range $n, $v := .NetworkSettings.Networks}}{{$n}} {{$v.IPAddress}}{{end}}', doc)).toBe('bridge 172.17.0.2');
    expect(run('{{range .None}}x{{else}}empty{{end}}', { None: [] })).toBe('empty');
    expect(run('{{range 3}}{{.}}{{end}}')).toBe('012');
    expect(run('{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4, 5])).toBe('13');
  });
  it('define, template and block', () => {
    expect(run('{{define "T"}}<{{.}}>{{end}}{{template "T" .Id}}', doc)).toBe('<abc>');
    expect(run('{{block "B" .State.Status}}[{{.}}]{{end}}', doc)).toBe('[running]');
  });
});

describe('functions', () => {
  it('and / or return the deciding value and short-circuit', () => {
    expect(run('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "x"}} {{or 0 ""}}')).toBe('0 2 x ');
    expect(run('{{or .A (index .B 5)}}', { A: 'set', B: [] })).toBe('set');
  });
  it('not, len, index, slice', () => {
    expect(run('{{not .A}} {{len .Config.Env}} {{len "héllo"}}', { ...doc, A: '' })).toBe('true 2 6');
    expect(run('{{index .Config.Labels "com.x"}} {{index .Config.Env 1}} {{index .Config.Labels "no"}}', doc)).toBe('y B=2 <no value>');
    expect(run('{{slice .Config.Env 1}} {{slice "hello" 1 3}}', doc)).toBe('[B=2] el');
    expect(execError('{{index .Config.Env 5}}', doc)).toMatch(/error calling index: index out of range: 5/);
  });
  it('comparisons: eq with several arguments, ne, lt, le, gt, ge; incompatible types are errors', () => {
    expect(run('{{eq 1 2 3 1}} {{ne "a" "b"}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}')).toBe('true true true true true false');
    expect(execError('{{eq 1 "1"}}')).toMatch(/incompatible types for comparison/);
    expect(execError('{{lt .Config.Env 1}}', doc)).toMatch(/error calling lt/);
  });
  it('print, println, printf', () => {
    expect(run('{{print "a" 1 2 "b"}}')).toBe('a1 2b');
    expect(run('{{println "a" 1}}')).toBe('a 1\n');
    expect(run('{{printf "%s=%d %5.2f|%-4s|%04d %q %v %x %t %%" "k" 7 3.14159 "ab" 42 "q" .Config.Env 255 true}}', doc)).toBe('k=7  3.14|ab  |0042 "q" [A=1 B=2] ff true %');
    expect(sprintf('%d', ['x'])).toBe('%!d(string=x)');
    expect(sprintf('%s %s', ['a'])).toBe('a %!s(MISSING)');
    expect(sprintf('%s', ['a', 'b'])).toBe('a%!(EXTRA string=b)');
  });
  it('html, js, urlquery', () => {
    expect(run('{{html "<a href=\'x\'>"}}')).toBe('&lt;a href=&#39;x&#39;&gt;');
    expect(run('{{js "it\'s <b>"}}')).toBe("it\\'s \\u003Cb\\u003E");
    expect(run('{{urlquery "a b&c"}}')).toBe('a+b%26c');
  });
  it("docker's json, join, split, upper, lower, title, pad, truncate", () => {
    expect(run('{{json .Config.Labels}}', doc)).toBe('{"com.x":"y","a":"b"}');
    expect(run('{{json .Nope}}', doc)).toBe('null');
    expect(run('{{json "<&>"}}')).toBe('"<&>"');
    expect(run('{{split "a:b" ":"}} {{join (split "a:b" ":") "-"}}')).toBe('[a b] a-b');
    expect(run('{{upper "ab"}} {{lower "AB"}} {{title "hello wide world"}}')).toBe('AB ab Hello Wide World');
    expect(run('[{{pad "x" 1 2}}] {{truncate "abcdef" 3}} {{truncate "ab" 3}}')).toBe('[ x  ] abc ab');
  });
});

describe('errors', () => {
  it('parse errors name the line and the problem', () => {
    expect(parseError('{{.Foo')).toMatch(/^template: :1: unclosed action/);
    expect(parseError('{{nosuch .}}')).toMatch(/function "nosuch" not defined/);
    expect(parseError('{{if .A}}x')).toMatch(/unexpected EOF/);
    expect(parseError('{{end}}')).toMatch(/unexpected \{\{end\}\}/);
    expect(parseError('a\n{{"x}}')).toMatch(/^template: :2: unterminated quoted string/);
    expect(parseError('{{break}}')).toMatch(/outside \{\{range\}\}/);
    expect(parseError('{{.A | 3}}')).toMatch(/non executable command/);
  });
  it('arguments to a non-function are an error', () => {
    expect(execError('{{.State.Status "x"}}', doc)).toMatch(/has arguments but cannot be invoked/);
  });
});

describe("docker's formatter", () => {
  const rows = [
    { ID: 'aaa', Names: 'web', Status: 'Up' },
    { ID: 'bbbbbbbbbbbbbb', Names: 'db', Status: 'Exited (0)' },
  ];
  const headers = { ID: 'CONTAINER ID', Names: 'NAMES', Status: 'STATUS' };
  it('a plain template prints one line per row', () => {
    expect(renderFormat('{{.Names}}', rows, headers)).toBe('web\ndb\n');
  });
  it('table: a header row and tabwriter columns (min width 10, padding 3); \\t written literally is a tab', () => {
    expect(renderFormat('table {{.ID}}\\t{{.Names}}\\t{{.Status}}', rows, headers)).toBe(
      ['CONTAINER ID     NAMES     STATUS', 'aaa              web       Up', 'bbbbbbbbbbbbbb   db        Exited (0)', ''].join('\n'),
    );
    expect(renderFormat('table {{.Names | upper}}', [], headers)).toBe('NAMES\n');
  });
  it('json is {{json .}} per row', () => {
    expect(renderFormat('json', rows.slice(0, 1), headers)).toBe('{"ID":"aaa","Names":"web","Status":"Up"}\n');
  });
  it('an unknown field of a row is an error with exit status 125', () => {
    try {
      renderFormat('{{.Nope}}', rows, headers);
      throw new Error('no error');
    } catch (e) {
      expect((e as { dockExit?: number }).dockExit).toBe(125);
      expect((e as Error).message).toMatch(/can't evaluate field Nope/);
    }
  });
  it('an invalid template is a parsing error with exit status 125, never the template printed back', () => {
    try {
      renderFormatDeep('{{.Config.User', [doc]);
      throw new Error('no error');
    } catch (e) {
      expect((e as { dockExit?: number }).dockExit).toBe(125);
      expect((e as Error).message).toMatch(/^template parsing error: template: :1: unclosed action/);
    }
  });
  it('inspect: each document, missing keys print <no value>', () => {
    expect(renderFormatDeep('{{.Config.User}}|{{.State.Status}}|{{.Nope}}', [doc, doc])).toBe('|running|<no value>\n|running|<no value>\n');
  });
  it('columns: the last cell is not padded', () => {
    expect(columns([['a', 'b'], ['ccc']])).toBe('a         b\nccc');
  });
});
