// Shell completion (bash, zsh, fish) and man pages, generated from the commander definitions of a
// CLI (dock or skiff), never from lists kept by hand: a command or flag added to the CLI is in the
// next `dock completion bash` and the next build's man pages. `completion SHELL` prints a script;
// the hidden `_man DIR` writes one page per command (scripts/build.mjs runs it into dist/man/man1).
//
// The scripts are static tables of the command tree plus a small walker: a TAB press runs no node.

import { Argument, type Command, Help, type Option } from 'commander';
import { mkdirSync, readdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pkg from '../../package.json';

export interface OptionDoc {
  long?: string;
  short?: string;
  /** The value it takes (<value> or [value]), if any. */
  value?: string;
  description: string;
  choices?: string[];
}

export interface CommandDoc {
  /** Words after the program's name ([] for the program itself). */
  path: string[];
  name: string;
  aliases: string[];
  description: string;
  usage: string;
  options: OptionDoc[];
  args: Array<{ name: string; description: string; choices?: string[] }>;
  /** What the first operand names, for completion from the engine (a key of DocOptions.names). */
  operandKind?: string;
  /** The first operand is variadic: every operand is of that kind. */
  operandsVariadic?: boolean;
  commands: CommandDoc[];
}

const help = new Help();

function optionDoc(o: Option): OptionDoc {
  const value = /(<[^>]*>|\[[^\]]*\])/.exec(o.flags)?.[1];
  return { long: o.long, short: o.short, value, description: o.description, ...(o.argChoices ? { choices: o.argChoices } : {}) };
}

/** The visible tree under `cmd` (hidden commands and options, and commander's help command, left out). */
export function describeCommands(cmd: Command, path: string[] = []): CommandDoc {
  return {
    path,
    name: cmd.name(),
    aliases: cmd.aliases(),
    description: cmd.description(),
    usage: cmd.usage(),
    options: help.visibleOptions(cmd).map(optionDoc),
    args: help.visibleArguments(cmd).map((a) => ({ name: help.argumentTerm(a), description: a.description, ...(a.argChoices ? { choices: a.argChoices } : {}) })),
    ...operandKind(cmd, path),
    commands: help
      .visibleCommands(cmd)
      .filter((c) => c.name() !== 'help')
      .map((c) => describeCommands(c, [...path, c.name()])),
  };
}

/** `<container...>` names containers; `<name>` under `volume` names volumes (the group's noun). */
function operandKind(cmd: Command, path: string[]): Pick<CommandDoc, 'operandKind' | 'operandsVariadic'> {
  const a = cmd.registeredArguments[0];
  if (!a) return {};
  const noun = a.name() === 'name' || a.name() === 'source' ? path[path.length - 2] ?? a.name() : a.name();
  return { operandKind: noun.replace(/-id$/, ''), operandsVariadic: a.variadic };
}

/** Shell commands that list the names of a kind ("container": the engine's containers). */
export type NameListers = Record<string, string>;

function all(doc: CommandDoc): CommandDoc[] {
  return [doc, ...doc.commands.flatMap(all)];
}

const optNames = (o: OptionDoc) => [o.short, o.long].filter((x): x is string => !!x);
/** A command's key in the scripts' tables: "/" for the program, "/network/create" below it. */
const key = (d: CommandDoc) => `/${d.path.join('/')}`;
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---- bash ------------------------------------------------------------------------------------------

export function bashCompletion(prog: CommandDoc, names: NameListers = {}): string {
  const fn = `_${prog.name}_complete`;
  const lines: string[] = [
    `# bash completion for ${prog.name}, generated from its command definitions (${prog.name} completion bash).`,
    `# Load it with: source <(${prog.name} completion bash)`,
    `declare -gA _${prog.name}_cmds _${prog.name}_opts _${prog.name}_vopts _${prog.name}_choices _${prog.name}_args _${prog.name}_kind`,
  ];
  for (const d of all(prog)) {
    const k = key(d);
    const cmds = d.commands.flatMap((c) => [c.name, ...c.aliases]);
    lines.push(`_${prog.name}_cmds[${sq(k)}]=${sq(cmds.join(' '))}`);
    for (const c of d.commands) for (const a of c.aliases) lines.push(`_${prog.name}_cmds[${sq(`${k === '/' ? '' : k}/${a}`)}]=${sq(`=${key(c)}`)}`);
    lines.push(`_${prog.name}_opts[${sq(k)}]=${sq(d.options.flatMap(optNames).join(' '))}`);
    lines.push(`_${prog.name}_vopts[${sq(k)}]=${sq(d.options.filter((o) => o.value?.startsWith('<')).flatMap(optNames).join(' '))}`);
    for (const o of d.options) if (o.choices) for (const n of optNames(o)) lines.push(`_${prog.name}_choices[${sq(`${k} ${n}`)}]=${sq(o.choices.join(' '))}`);
    if (d.args[0]?.choices) lines.push(`_${prog.name}_args[${sq(k)}]=${sq(d.args[0].choices.join(' '))}`);
    if (d.operandKind && names[d.operandKind]) lines.push(`_${prog.name}_kind[${sq(k)}]=${sq(`${d.operandsVariadic ? '*' : ''}${d.operandKind}`)}`);
  }
  lines.push(`_${prog.name}_names() {`, `  case $2 in`);
  for (const [kind, cmd] of Object.entries(names)) lines.push(`    ${kind}) "$1" ${cmd} 2>/dev/null ;;`);
  lines.push(`  esac`, `}`);
  const v = (t: string) => `_${prog.name}_${t}`;
  lines.push(`
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local path=/ i w operand=0 sub
  # Walk the words before the cursor: options (and the value of those that take one), then
  # subcommands; the first other word is an operand, after which no subcommand is offered.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == -* ]]; then
      [[ $w != *=* && " \${${v('vopts')}[$path]} " == *" $w "* ]] && ((i++))
      continue
    fi
    if ((operand == 0)) && [[ " \${${v('cmds')}[$path]} " == *" $w "* ]]; then
      sub=\${path%/}/$w
      [[ \${${v('cmds')}[$sub]} == '='* ]] && sub=\${${v('cmds')}[$sub]#=}
      path=$sub
    else
      ((operand++))
    fi
  done
  COMPREPLY=()
  if [[ " \${${v('vopts')}[$path]} " == *" $prev "* ]]; then
    local choices=\${${v('choices')}["$path $prev"]}
    if [[ -n $choices ]]; then
      COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "\${${v('opts')}[$path]}" -- "$cur"))
  elif ((operand == 0)) && [[ -n \${${v('cmds')}[$path]} ]]; then
    COMPREPLY=($(compgen -W "\${${v('cmds')}[$path]}" -- "$cur"))
  elif ((operand == 0)) && [[ -n \${${v('args')}[$path]} ]]; then
    COMPREPLY=($(compgen -W "\${${v('args')}[$path]}" -- "$cur"))
  elif local kind=\${${v('kind')}[$path]}; [[ -n $kind ]] && { ((operand == 0)) || [[ $kind == '*'* ]]; }; then
    # Names from the engine itself (dock ps, dock images, ...), run with the same program.
    COMPREPLY=($(compgen -W "$(_${prog.name}_names "\${COMP_WORDS[0]}" "\${kind#'*'}")" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -o default -F ${fn} ${prog.name}
`);
  return lines.join('\n');
}

// ---- zsh -------------------------------------------------------------------------------------------

export function zshCompletion(prog: CommandDoc, names: NameListers = {}): string {
  const p = prog.name;
  const lines: string[] = [
    `#compdef ${p}`,
    `# zsh completion for ${p}, generated from its command definitions (${p} completion zsh).`,
    `# Load it with: source <(${p} completion zsh), or save it as _${p} in a directory of $fpath.`,
    `typeset -gA _${p}_cmds _${p}_cmddesc _${p}_optdesc _${p}_vopts _${p}_args _${p}_kind`,
  ];
  for (const d of all(prog)) {
    const k = key(d);
    lines.push(`_${p}_cmds+=(${sq(k)} ${sq(d.commands.flatMap((c) => [c.name, ...c.aliases]).join(' '))})`);
    for (const c of d.commands) for (const a of c.aliases) lines.push(`_${p}_cmds+=(${sq(`${k === '/' ? '' : k}/${a}`)} ${sq(`=${key(c)}`)})`);
    // "name:description" entries, newline-separated, for _describe.
    lines.push(`_${p}_cmddesc+=(${sq(k)} ${sq(d.commands.map((c) => `${c.name.replace(/:/g, '\\:')}:${c.description.replace(/\n/g, ' ')}`).join('\n'))})`);
    lines.push(`_${p}_optdesc+=(${sq(k)} ${sq(d.options.flatMap((o) => optNames(o).map((n) => `${n.replace(/:/g, '\\:')}:${o.description.replace(/\n/g, ' ')}`)).join('\n'))})`);
    lines.push(`_${p}_vopts+=(${sq(k)} ${sq(d.options.filter((o) => o.value?.startsWith('<')).flatMap(optNames).join(' '))})`);
    if (d.args[0]?.choices) lines.push(`_${p}_args+=(${sq(k)} ${sq(d.args[0].choices.join(' '))})`);
    if (d.operandKind && names[d.operandKind]) lines.push(`_${p}_kind+=(${sq(k)} ${sq(`${d.operandsVariadic ? '*' : ''}${d.operandKind}`)})`);
  }
  lines.push(`_${p}_names() {`, `  case $2 in`);
  for (const [kind, cmd] of Object.entries(names)) lines.push(`    ${kind}) "$1" ${cmd} 2>/dev/null ;;`);
  lines.push(`  esac`, `}`);
  lines.push(`
_${p}() {
  # cpath, not path: zsh ties $path to $PATH.
  local cpath=/ i w operand=0 sub cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    if [[ $w == -* ]]; then
      [[ $w != *=* && " \${_${p}_vopts[$cpath]} " == *" $w "* ]] && ((i++))
      continue
    fi
    if ((operand == 0)) && [[ " \${_${p}_cmds[$cpath]} " == *" $w "* ]]; then
      sub=\${cpath%/}/$w
      [[ \${_${p}_cmds[$sub]} == '='* ]] && sub=\${_${p}_cmds[$sub]#=}
      cpath=$sub
    else
      ((operand++))
    fi
  done
  if [[ " \${_${p}_vopts[$cpath]} " == *" $prev "* ]]; then
    _files
    return
  fi
  local -a entries
  if [[ $cur == -* ]]; then
    entries=(\${(f)_${p}_optdesc[$cpath]})
    _describe -t options 'option' entries
  elif ((operand == 0)) && [[ -n \${_${p}_cmds[$cpath]} ]]; then
    entries=(\${(f)_${p}_cmddesc[$cpath]})
    _describe -t commands 'command' entries
  elif ((operand == 0)) && [[ -n \${_${p}_args[$cpath]} ]]; then
    entries=(\${=_${p}_args[$cpath]})
    _describe -t values 'value' entries
  elif [[ -n \${_${p}_kind[$cpath]} ]] && { ((operand == 0)) || [[ \${_${p}_kind[$cpath]} == '*'* ]]; }; then
    entries=(\${(f)"$(_${p}_names \${words[1]} \${_${p}_kind[$cpath]#'*'})"})
    _describe -t names 'name' entries
  else
    _files
  fi
}
if [[ $funcstack[1] == _${p} ]]; then _${p} "$@"; else compdef _${p} ${p}; fi
`);
  return lines.join('\n');
}

// ---- fish ------------------------------------------------------------------------------------------

const fq = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, ' ')}'`;

export function fishCompletion(prog: CommandDoc, names: NameListers = {}): string {
  const p = prog.name;
  const docs = all(prog);
  const lines: string[] = [
    `# fish completion for ${p}, generated from its command definitions (${p} completion fish).`,
    `# Load it with: ${p} completion fish | source, or save it as ~/.config/fish/completions/${p}.fish`,
    `function __${p}_table --argument-names kind path`,
    `    switch "$kind:$path"`,
  ];
  for (const d of docs) {
    const k = key(d);
    const cmds = d.commands.flatMap((c) => [c.name, ...c.aliases]);
    if (cmds.length) lines.push(`        case ${fq(`cmds:${k}`)}`, `            printf '%s\\n' ${cmds.map(fq).join(' ')}`);
    for (const c of d.commands) for (const a of c.aliases) lines.push(`        case ${fq(`alias:${k}/${a}`)}`, `            echo ${fq(key(c))}`);
    const vopts = d.options.filter((o) => o.value?.startsWith('<')).flatMap(optNames);
    if (vopts.length) lines.push(`        case ${fq(`vopts:${k}`)}`, `            printf '%s\\n' ${vopts.map(fq).join(' ')}`);
  }
  lines.push(
    `    end`,
    `end`,
    ``,
    `# The command path of the words typed so far ("network/create"), or "!" after an operand.`,
    `function __${p}_path`,
    `    set -l path /`,
    `    set -l skip 0`,
    `    set -l tokens (commandline -opc)`,
    `    for t in $tokens[2..-1]`,
    `        if test $skip -eq 1`,
    `            set skip 0`,
    `            continue`,
    `        end`,
    `        if string match -q -- '-*' $t`,
    `            if not string match -q -- '*=*' $t; and contains -- $t (__${p}_table vopts $path)`,
    `                set skip 1`,
    `            end`,
    `            continue`,
    `        end`,
    `        if contains -- $t (__${p}_table cmds $path)`,
    `            set -l sub (string replace -r '/$' '' -- $path)/$t`,
    `            set -l canon (__${p}_table alias $sub)`,
    `            test -n "$canon"; and set sub $canon`,
    `            set path $sub`,
    `        else`,
    `            echo "$path!"`,
    `            return`,
    `        end`,
    `    end`,
    `    echo $path`,
    `end`,
    ``,
    `complete -c ${p} -e`,
    ``,
    `function __${p}_names --argument-names kind`,
    `    set -l prog (commandline -opc)[1]`,
    `    switch $kind`,
    ...Object.entries(names).flatMap(([kind, cmd]) => [`        case ${fq(kind)}`, `            $prog ${cmd} 2>/dev/null`]),
    `    end`,
    `end`,
  );
  for (const d of docs) {
    const k = key(d);
    const at = `test (__${p}_path) = ${fq(k)}`;
    const atOrAfter = `string match -q -- ${fq(k)} (__${p}_path | string trim -r -c '!')`;
    for (const c of d.commands) lines.push(`complete -c ${p} -f -n ${fq(at)} -a ${fq(c.name)} -d ${fq(c.description)}`);
    if (d.args[0]?.choices) lines.push(`complete -c ${p} -f -n ${fq(at)} -a ${fq(d.args[0].choices.join(' '))} -d ${fq(d.args[0].description)}`);
    if (d.operandKind && names[d.operandKind]) {
      const when = d.operandsVariadic ? `string match -q -- ${fq(k)} (__${p}_path | string trim -r -c '!')` : at;
      lines.push(`complete -c ${p} -f -n ${fq(when)} -a ${fq(`(__${p}_names ${d.operandKind})`)} -d ${fq(d.operandKind)}`);
    }
    for (const o of d.options) {
      const parts = [`complete -c ${p} -n ${fq(atOrAfter)}`];
      if (o.long) parts.push(`-l ${fq(o.long.slice(2))}`);
      if (o.short) parts.push(`-s ${fq(o.short.slice(1))}`);
      if (o.value?.startsWith('<')) parts.push('-r');
      if (o.choices) parts.push(`-f -a ${fq(o.choices.join(' '))}`);
      parts.push(`-d ${fq(o.description)}`);
      lines.push(parts.join(' '));
    }
  }
  return lines.join('\n') + '\n';
}

// ---- man pages -------------------------------------------------------------------------------------

/** roff text: backslashes escaped, no line starting with a control character. */
function roff(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

const dash = (s: string) => roff(s).replace(/-/g, '\\-');

export function manPage(prog: CommandDoc, d: CommandDoc, version: string): { name: string; text: string } {
  const name = [prog.name, ...d.path].join('-');
  const full = [prog.name, ...d.path].join(' ');
  const out: string[] = [
    `.TH ${name.toUpperCase()} 1 "" "${prog.name} ${version}" "${prog.name} manual"`,
    `.SH NAME`,
    `${dash(name)} \\- ${roff(d.description.split('\n')[0] || full)}`,
    `.SH SYNOPSIS`,
    `.B ${dash(full)}`,
    roff(d.usage),
    `.SH DESCRIPTION`,
    roff(d.description || full),
  ];
  if (d.aliases.length) out.push('.PP', `Aliases: ${d.aliases.map((a) => `\\fB${dash([prog.name, ...d.path.slice(0, -1), a].join(' '))}\\fR`).join(', ')}`);
  if (d.args.length) {
    out.push('.SH ARGUMENTS');
    for (const a of d.args) out.push('.TP', `\\fI${dash(a.name)}\\fR`, roff(a.description || ''));
  }
  if (d.options.length) {
    out.push('.SH OPTIONS');
    for (const o of d.options) {
      const term = optNames(o).map((n) => `\\fB${dash(n)}\\fR`).join(', ') + (o.value ? ` \\fI${dash(o.value)}\\fR` : '');
      out.push('.TP', term, roff(o.description || ''));
      if (o.choices) out.push(`One of: ${roff(o.choices.join(', '))}.`);
    }
  }
  if (d.path.length === 0) {
    out.push('.SH GLOBAL OPTIONS', `The options above come before the command: \\fB${dash(prog.name)} \\fR[\\fIOPTIONS\\fR] \\fICOMMAND\\fR.`);
  }
  if (d.commands.length) {
    out.push('.SH COMMANDS');
    for (const c of d.commands) out.push('.TP', `\\fB${dash([prog.name, ...c.path].join('-'))}\\fR(1)`, roff(c.description.split('\n')[0] ?? ''));
  }
  const parent = d.path.length ? [prog.name, ...d.path.slice(0, -1)].join('-') : undefined;
  out.push('.SH SEE ALSO', parent ? `\\fB${dash(parent)}\\fR(1)` : `\\fB${dash(prog.name)} help\\fR`);
  return { name: `${name}.1`, text: out.join('\n') + '\n' };
}

/** Writes one page per visible command into `dir` (its old pages of this program removed first). */
export function writeManPages(prog: CommandDoc, dir: string, version: string): string[] {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f === `${prog.name}.1` || (f.startsWith(`${prog.name}-`) && f.endsWith('.1'))) unlinkSync(join(dir, f));
  const names: string[] = [];
  for (const d of all(prog)) {
    const page = manPage(prog, d, version);
    writeFileSync(join(dir, page.name), page.text);
    names.push(page.name);
  }
  return names;
}

/**
 * `PROG completion bash|zsh|fish` and the hidden `PROG _man DIR`, on `program`; both describe the
 * program as it is when they run, so every command registered before parsing is in them.
 */
export function registerDocCommands(program: Command, onError: (message: string) => never, names: NameListers = {}): void {
  program
    .command('completion')
    .description('Print the shell completion script for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText('after', `\nLoad it in the current shell:\n  bash: source <(${program.name()} completion bash)\n  zsh:  source <(${program.name()} completion zsh)\n  fish: ${program.name()} completion fish | source`)
    .action((shell: string) => {
      const tree = describeCommands(program);
      const gen = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion }[shell];
      if (!gen) onError(`unsupported shell "${shell}": bash, zsh or fish`);
      process.stdout.write(gen!(tree, names));
    });
  program
    .command('_man', { hidden: true })
    .argument('<dir>', 'directory for the section 1 pages')
    .action((dir: string) => {
      writeManPages(describeCommands(program), dir, pkg.version);
    });
}
