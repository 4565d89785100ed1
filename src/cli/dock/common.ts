// What every dock command group shares: the program and its global options, the stores the
// commands open, and the one error printer.

import { Command, CommanderError } from 'commander';

type Store = import('../../engine/store/store').ImageStore;
export type Engine = import('../../engine/containers/engine').Engine;

export const program = new Command();
program
  .name('dock')
  .description('A container engine: images from OCI registries, containers run by the skiff runtime')
  .option('--root <dir>', 'engine state directory (env DOCK_ROOT)', undefined)
  .option('--config <dir>', 'directory of the Docker client config.json with registry credentials (env DOCKER_CONFIG)')
  .option('--insecure-registry <host>', 'allow plain HTTP and unverified TLS for this registry (repeatable; env DOCK_INSECURE_REGISTRIES)', collect, [])
  .option('--debug', 'print stack traces of errors')
  .enablePositionalOptions()
  // docker's words for a bad flag, then one line naming the help (finishCommands), not all of it.
  .configureOutput({ outputError: (str, write) => write(str.replace(/^error: unknown option '(.*?)'/, 'unknown flag: $1').replace(/^error: /, '').replace(/^/, 'dock: ')) });

/** The group command `name` of `parent` (made on first use), so that several modules can add to one group. */
export function group(parent: Command, name: string, description: string): Command {
  return parent.commands.find((c) => c.name() === name) ?? parent.command(name).description(description);
}

/**
 * After every group registered: a usage error of any command prints docker's short form (the error,
 * then "See 'dock run --help'.") and ends with status 125, as docker's flag errors do.
 */
export function finishCommands(root: Command): void {
  const walk = (c: Command, path: string) => {
    c.exitOverride();
    c.showHelpAfterError(`See '${path} --help'.`);
    for (const s of c.commands) walk(s, `${path} ${s.name()}`);
  };
  walk(root, root.name());
}

/** The exit status of a commander error: 0 for help and version, 125 for a usage error. */
export function usageExit(err: unknown): number | undefined {
  if (!(err instanceof CommanderError)) return undefined;
  if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return err.exitCode;
  return 125;
}

export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface Globals {
  root?: string;
  config?: string;
  insecureRegistry: string[];
  debug?: boolean;
}

export function globals(): Globals {
  const g = program.opts<Globals>();
  if (g.config) process.env.DOCKER_CONFIG = g.config;
  return g;
}

async function openStore(): Promise<Store> {
  const { ImageStore, engineRoot } = await import('../../engine/store/store');
  return ImageStore.open(engineRoot(globals().root));
}

export async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore();
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

export function clientOpts() {
  return { insecureRegistries: globals().insecureRegistry };
}

export async function progressFor(quiet?: boolean) {
  const { defaultProgress } = await import('../../engine/images/progress');
  return defaultProgress(quiet);
}

export async function withEngine<T>(fn: (e: Engine) => Promise<T>): Promise<T> {
  const { openEngine } = await import('../../engine/containers/engine');
  const engine = await openEngine(globals().root, { debug: globals().debug });
  try {
    return await fn(engine);
  } finally {
    engine.close();
  }
}

/**
 * docker's prune prompt: the warning, then "Are you sure you want to continue? [y/N] " on standard
 * output, and one line read from standard input (a terminal or not, as docker reads it). Only y or
 * yes says yes; end of input says no.
 */
export async function confirm(warning: string): Promise<boolean> {
  process.stdout.write(`WARNING! ${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.off('end', done);
      process.stdin.off('error', done);
      process.stdin.pause();
      resolve(buf.split('\n')[0]);
    };
    const onData = (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', done);
    process.stdin.on('error', done);
  });
  if (!process.stdin.isTTY) process.stdout.write('\n');
  return /^\s*y(es)?\s*$/i.test(answer);
}

/** A prune that was not confirmed: docker's line, nothing removed, status 0. */
export function pruneCancelled(what: string): void {
  process.stderr.write(`${what} prune has been cancelled\n`);
}

export function reportError(err: unknown): void {
  const e = err as Error & { domain?: string; code?: string };
  if (program.opts<Globals>().debug && e?.stack) process.stderr.write(e.stack + '\n');
  const known = e && typeof e.domain === 'string';
  const msg = known ? e.message : `unexpected error: ${e?.message ?? String(err)}`;
  process.stderr.write(`dock: ${msg}\n`);
}
