// `dock completion bash|zsh|fish`, `skiff completion ...` and the man pages, checked against the
// CLIs themselves: the command tree is read from their --help (commander's own rendering, not the
// generator's), every command must have a page naming its flags, and the scripts, loaded in the
// real shells, must complete what a user types.

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { needTools, skipWhen } from '../host';
import { SKIFF } from '../helpers';
import { dockScript } from './dock-helpers';

const repo = join(__dirname, '..', '..');
let js: string;
let scratch: string;

/** Runs dock (the fresh bundle); stdout. */
async function dock(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [js, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DOCK_ROOT: join(scratch, 'root') } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  if (code !== 0) throw new Error(`dock ${args.join(' ')} exited ${code}`);
  return out;
}

interface HelpNode {
  path: string[];
  flags: string[];
}

/** The section of a commander help text, as its term lines (two spaces, then the term). */
function section(text: string, title: string): string[] {
  const m = new RegExp(`^${title}:\\n((?:  .*\\n?)*)`, 'm').exec(text);
  if (!m) return [];
  return m[1].split('\n').filter((l) => /^ {2}\S/.test(l)).map((l) => l.slice(2).split(/ {2,}/)[0]);
}

/**
 * Every command of dock, from `dock [PATH] --help`: the help of the program and of each command
 * that takes no operands (the groups are among them) lists the commands; `withFlags` names the
 * commands whose own help is read too, for the flags it lists (a help run per command would take
 * minutes on a loaded machine).
 */
async function helpTree(run: (args: string[]) => Promise<string>, withFlags: string[]): Promise<HelpNode[]> {
  const out: HelpNode[] = [];
  const queue: Array<{ path: string[]; read: boolean }> = [{ path: [], read: true }];
  while (queue.length) {
    const batch = queue.splice(0, 4);
    const texts = await Promise.all(batch.map((n) => (n.read ? run([...n.path, '--help']) : Promise.resolve(undefined))));
    batch.forEach(({ path }, i) => {
      const text = texts[i];
      const flags = text ? section(text, 'Options').flatMap((t) => t.match(/(?<![\w-])--?[a-zA-Z][\w-]*/g) ?? []) : undefined;
      out.push({ path, flags: flags ?? [] });
      for (const term of text ? section(text, 'Commands') : []) {
        const name = term.split(/[ |]/)[0];
        const sub = [...path, name];
        if (name !== 'help') queue.push({ path: sub, read: !/[<[]/.test(term.replace('[options]', '')) || withFlags.includes(sub.join(' ')) });
      }
    });
  }
  return out;
}

/** A `dock` on PATH for the scripts to run (they list names with the program being completed). */
let bin: string;

beforeAll(async () => {
  js = await dockScript();
  scratch = mkdtempSync(join(tmpdir(), 'cli-docs-'));
  bin = join(scratch, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'dock'), `#!/bin/sh\nDOCK_ROOT=${join(scratch, 'root')} exec ${process.execPath} ${js} "$@"\n`, { mode: 0o755 });
});
const withBin = () => ({ ...process.env, PATH: `${bin}:${process.env.PATH}` });
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('man pages', { timeout: 240_000 }, () => {
  it('has a page for every dock command, naming each of its flags; man finds them', async () => {
    const man = join(scratch, 'man');
    await dock(['_man', join(man, 'man1')]);
    const tree = await helpTree(dock, ['run', 'create', 'exec', 'logs', 'attach', 'start', 'container run', 'network create', 'compose up', 'image pull']);
    expect(tree.length).toBeGreaterThan(60);
    const pages = readdirSync(join(man, 'man1')).filter((f) => f.startsWith('dock'));
    expect(pages.sort()).toEqual(tree.map((n) => `${['dock', ...n.path].join('-')}.1`).sort());
    for (const n of tree) {
      const page = readFileSync(join(man, 'man1', `${['dock', ...n.path].join('-')}.1`), 'utf8');
      expect(page).toMatch(new RegExp(`^\\.TH ${['DOCK', ...n.path.map((p) => p.toUpperCase())].join('-')} 1`));
      for (const f of n.flags) expect(page, `${n.path.join(' ')} ${f}`).toContain(`\\fB${f.replace(/-/g, '\\-')}\\fR`);
    }
    const run = tree.find((n) => n.path.join(' ') === 'run')!;
    for (const f of ['--cidfile', '--sig-proxy', '--log-driver', '--shm-size', '--sysctl', '--pid', '--oom-score-adj']) expect(run.flags).toContain(f);
    skipWhen(needTools('man'));
    if (needTools('man')) return;
    const text = execFileSync('man', ['-P', 'cat', 'dock-run'], { env: { ...process.env, MANPATH: man, MANWIDTH: '200' }, encoding: 'utf8' });
    expect(text).toMatch(/dock-run - Create and start a container from an image/);
    expect(text).toMatch(/--cidfile <file>/);
  });

  it('the build writes the pages of dock and skiff into dist/man/man1 (directories.man of package.json)', () => {
    const dir = join(repo, 'dist', 'man', 'man1');
    expect(existsSync(join(dir, 'dock-run.1'))).toBe(true);
    expect(existsSync(join(dir, 'skiff-run.1'))).toBe(true);
    expect(JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).directories.man).toBe('dist/man');
  });
});

describe('bash completion', { timeout: 240_000 }, () => {
  /** What the completion function answers for the words typed so far (the last one is being completed). */
  function complete(script: string, fn: string, words: string[], cwd = scratch): string[] {
    const file = join(scratch, `${fn}.bash`);
    writeFileSync(file, script);
    const arr = words.map((w) => `'${w}'`).join(' ');
    const out = execFileSync('bash', ['-c', `source ${file}; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd, encoding: 'utf8', env: withBin() });
    return out.split('\n').filter(Boolean);
  }

  it('completes dock commands, subcommands, flags and values from the command definitions', async () => {
    const script = await dock(['completion', 'bash']);
    const c = (...w: string[]) => complete(script, '_dock_complete', w);
    expect(c('dock', 'ru')).toEqual(['run']);
    expect(c('dock', '--root', '/x', 'ru')).toEqual(['run']);
    expect(c('dock', 'network', 'cr')).toEqual(['create']);
    expect(c('dock', 'container', 'ls', '--a')).toEqual(['--all']);
    expect(c('dock', 'container', 'remove', '--v')).toEqual(['--volumes']); // an alias completes as its command
    expect(c('dock', 'run', '--netw')).toEqual(['--network', '--network-alias']);
    expect(c('dock', 'run', '--sig')).toEqual(['--sig-proxy']);
    expect(c('dock', 'completion', '')).toEqual(['bash', 'zsh', 'fish']);
    // After an operand (the image) no subcommand is offered: the words are the container's command.
    writeFileSync(join(scratch, 'runfile'), '');
    expect(c('dock', 'run', '-e', 'A=1', '--name', 'x', 'img', 'runf')).toEqual(['runfile']);
    // A flag that takes a value completes the value, not flags or commands.
    expect(c('dock', 'run', '--env-file', 'runf')).toEqual(['runfile']);
    // Operands that name things of the engine complete from it (here: volumes, through `dock volume ls`).
    await dock(['volume', 'create', 'vol-alpha']);
    await dock(['volume', 'create', 'vol-beta']);
    expect(c('dock', 'volume', 'rm', 'vol-')).toEqual(['vol-alpha', 'vol-beta']);
    expect(c('dock', 'volume', 'rm', 'vol-alpha', 'vol-b')).toEqual(['vol-beta']);
    expect(c('dock', 'volume', 'inspect', '-f', '{{.Name}}', 'vol-a')).toEqual(['vol-alpha']);
    // Every top-level command of `dock --help` is offered.
    const top = section(await dock(['--help']), 'Commands').map((t) => t.split(/[ |]/)[0]).filter((n) => n !== 'help');
    expect(c('dock', '').sort()).toEqual(expect.arrayContaining(top.sort()));
  });

  it('completes skiff (runc) verbs and flags', () => {
    const script = execFileSync(SKIFF, ['completion', 'bash'], { encoding: 'utf8' });
    const c = (...w: string[]) => complete(script, '_skiff_complete', w);
    expect(c('skiff', 'sta')).toEqual(['start', 'state']);
    expect(c('skiff', 'run', '--bu')).toEqual(['--bundle']);
    expect(c('skiff', '--root', '/r', 'del')).toEqual(['delete']);
  });
});

describe.skipIf(skipWhen(needTools('zsh')))('zsh completion', { timeout: 240_000 }, () => {
  it('loads in zsh and offers the commands and flags of the path typed', async () => {
    const file = join(scratch, '_dock');
    writeFileSync(file, await dock(['completion', 'zsh']));
    // zsh's completion widgets only run inside the line editor: _describe and _files stand in for
    // them here, printing what they were given; the walk and the tables are the script's.
    const probe = `
      compdef() { :; }
      _describe() { local n=\${@[-1]}; print -l -- \${(P)n}; }
      _files() { print -- '<files>'; }
      source ${file}
      t() { words=("$@"); CURRENT=$#words; print -- "== $*"; _dock; }
      t dock ''
      t dock network ''
      t dock container rm --v
      t dock run --name ''
      t dock completion ''
      t dock volume rm ''
    `;
    await dock(['volume', 'create', 'vol-zsh']);
    const out = execFileSync('zsh', ['-f', '-c', probe], { encoding: 'utf8', env: withBin() });
    const part = (what: string) => out.split(`== ${what}\n`)[1].split('\n== ')[0].split('\n').filter(Boolean);
    expect(part('dock ')).toEqual(expect.arrayContaining(['run:Create and start a container from an image', 'network:Manage networks']));
    expect(part('dock network ')).toEqual(expect.arrayContaining(['create:Create a bridge network']));
    expect(part('dock container rm --v')).toEqual(expect.arrayContaining(['--volumes:remove the anonymous volumes of the container']));
    expect(part('dock run --name ')).toEqual(['<files>']);
    expect(part('dock completion ')).toEqual(['bash', 'zsh', 'fish']);
    expect(part('dock volume rm ')).toContain('vol-zsh');
  });
});

describe.skipIf(skipWhen(needTools('fish')))('fish completion', { timeout: 240_000 }, () => {
  it("loads in fish and completes through fish's own complete -C", async () => {
    const file = join(scratch, 'dock.fish');
    writeFileSync(file, await dock(['completion', 'fish']));
    const c = (line: string) =>
      execFileSync('fish', ['--no-config', '-c', `source ${file}; complete -C${JSON.stringify(line)}`], { encoding: 'utf8', env: withBin() })
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t')[0]);
    expect(c('dock ru')).toEqual(['run']);
    expect(c('dock network cr')).toEqual(['create']);
    expect(c('dock run --netw')).toEqual(['--network', '--network-alias']);
    expect(c('dock container remove --vol')).toEqual(['--volumes']);
    expect(c('dock completion ').sort()).toEqual(['bash', 'fish', 'zsh']);
    await dock(['volume', 'create', 'vol-fish']);
    expect(c('dock volume rm vol-f')).toEqual(['vol-fish']);
  });
});
