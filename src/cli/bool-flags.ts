// Docker's boolean flags take an explicit value: `--tty=false`, `--sig-proxy=false`, `-t=true`.
// Commander's booleans take none, so every boolean option gets a hidden `--no-NAME` twin and the
// command line is rewritten before commander sees it: `--NAME=true` becomes `--NAME`, `--NAME=false`
// becomes `--no-NAME` (the later one wins, as with docker). Only the options of the command being
// run are rewritten, up to its first operand when it passes the rest through (run's command).

import { type Command, Option } from 'commander';

const isBool = (o: Option) => !o.required && !o.optional && !o.negate;

/** Adds the hidden `--no-NAME` of every boolean option of every command under `root`. */
export function addNegations(root: Command): void {
  const walk = (c: Command) => {
    const longs = new Set(c.options.map((o) => o.long));
    for (const o of [...c.options]) {
      if (!isBool(o) || !o.long || o.long === '--help' || o.long === '--version') continue;
      const neg = `--no-${o.long.slice(2)}`;
      if (longs.has(neg)) continue;
      c.addOption(new Option(neg).hideHelp());
      longs.add(neg);
    }
    for (const s of c.commands) walk(s);
  };
  walk(root);
}

function findOption(cmds: Command[], name: string): Option | undefined {
  for (const c of cmds) {
    const o = c.options.find((x) => x.long === name || x.short === name);
    if (o) return o;
  }
  return undefined;
}

const TRUE = new Set(['true', '1', 't', 'yes']);
const FALSE = new Set(['false', '0', 'f', 'no']);

/** process.argv with `--flag=BOOL` turned into what commander understands. */
export function normalizeBoolArgs(root: Command, argv: string[]): string[] {
  const out = argv.slice(0, 2);
  const args = argv.slice(2);
  let cmd = root;
  const scope = [root];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === '--') break;
    if (a.startsWith('-') && a !== '-') {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const opt = findOption([...scope].reverse(), name);
      if (opt && isBool(opt) && eq > 0) {
        const v = a.slice(eq + 1).toLowerCase();
        if (TRUE.has(v)) out.push(opt.long ?? name);
        else if (FALSE.has(v) && opt.long) out.push(`--no-${opt.long.slice(2)}`);
        else out.push(a); // commander reports the bad value
        continue;
      }
      out.push(a);
      if (opt && opt.required && eq < 0 && !(name.startsWith('-') && !name.startsWith('--') && a.length > 2)) {
        if (i + 1 < args.length) out.push(args[++i]);
      } else if (!opt && /^-[a-zA-Z]{2,}$/.test(a)) {
        // -it, -dp 80:80: the last letter of a cluster may take the next argument.
        const last = findOption([...scope].reverse(), `-${a[a.length - 1]}`);
        if (last?.required && i + 1 < args.length) out.push(args[++i]);
      }
      continue;
    }
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    out.push(a);
    if (sub) {
      cmd = sub;
      scope.push(sub);
      continue;
    }
    // An operand: a command that passes the rest through (run IMAGE CMD...) ends here.
    if ((cmd as unknown as { _passThroughOptions?: boolean })._passThroughOptions) {
      i++;
      break;
    }
  }
  return [...out, ...args.slice(i)];
}
