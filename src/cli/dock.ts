// dock: the companion engine's command line. One module per command group in src/cli/dock/
// (docker/cli's cli/command/<group>/): argument parsing and output only, the work is done by
// src/engine. Errors print `dock: <what failed>: <why>` on stderr and exit non-zero.

import { addNegations, normalizeBoolArgs } from './bool-flags';
import { registerDocCommands } from './command-docs';
import { serveDockWorker } from './dock-serve';
import { finishCommands, program, reportError, usageExit } from './dock/common';
// Command groups, in the order of `dock --help`; a new group is one line here.
import { register as registry } from './dock/registry';
import { register as images } from './dock/images';
import { register as build } from './dock/build';
import { register as containers } from './dock/containers';
import { register as volumes } from './dock/volumes';
import { register as networks } from './dock/networks';
import { register as compose } from './dock/compose';
import { register as service } from './dock/service';
import { register as system } from './dock/system';
import { register as events } from './dock/events';
import { register as update } from './dock/update';
import { register as commit } from './dock/commit';
import { register as prune } from './dock/prune';

let prepared = false;

/** Registers every command (the warm server does it before a call comes: dock-serve.ts). */
export function prepare(): void {
  if (prepared) return;
  prepared = true;
  // One entry per line, so that groups added at the same time merge cleanly.
  for (const register of [
    registry,
    images,
    build,
    containers,
    volumes,
    networks,
    compose,
    service,
    system,
    events,
    update,
    commit,
    prune,
  ])
    register(program);
  // Completion offers the engine's own names where a command's operand is one (its argument's name).
  registerDocCommands(
    program,
    (m) => {
      throw Object.assign(new Error(m), { domain: 'cli', dockExit: 125 });
    },
    {
      container: `ps -a --format '{{.Names}}'`,
      image: `images --format '{{.Repository}}:{{.Tag}}'`,
      network: `network ls --format '{{.Name}}'`,
      volume: 'volume ls -q',
    },
  );
  finishCommands(program);
  addNegations(program);
}

/** Runs one dock command line (argv without node and the script); resolves to its exit status. */
export async function run(args: string[]): Promise<number> {
  prepare();
  try {
    await program.parseAsync(normalizeBoolArgs(program, ['node', 'dock', ...args]));
    return Number(process.exitCode ?? 0);
  } catch (err) {
    const usage = usageExit(err);
    if (usage !== undefined) return usage; // commander printed it
    reportError(err);
    return typeof (err as { dockExit?: unknown })?.dockExit === 'number' ? (err as { dockExit: number }).dockExit : 1;
  }
}

/** The CLI on Node: run, then exit at once (keep-alive sockets must not hold the process open). */
export function main(args: string[]): void {
  void run(args).then((code) => process.exit(code));
}

/** A worker thread of the warm server that serves dock calls (src/cli/dock-serve.ts). */
export function serveWorker(): void {
  serveDockWorker(prepare, run);
}

// `node dist/dock.js ARGS` runs the CLI itself (bin/dock.js and the server's workers call main).
if (require.main === module) main(process.argv.slice(2));
