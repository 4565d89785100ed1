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

/** Runs one dock command line (argv without node and the script) and exits with its status. */
export function main(args: string[]): void {
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

  program
    .parseAsync(normalizeBoolArgs(program, ['node', 'dock', ...args]))
    .then(() => {
      // Keep-alive sockets must not hold the process open.
      process.exit(process.exitCode ?? 0);
    })
    .catch((err) => {
      const usage = usageExit(err);
      if (usage !== undefined) process.exit(usage); // commander printed it
      reportError(err);
      process.exit(typeof (err as { dockExit?: unknown })?.dockExit === 'number' ? (err as { dockExit: number }).dockExit : 1);
    });
}

/** A worker thread of the warm server that serves one dock call (src/cli/dock-serve.ts). */
export function serveWorker(): void {
  serveDockWorker(main);
}

// `node dist/dock.js ARGS` runs the CLI itself (bin/dock.js and the server's workers call main).
if (require.main === module) main(process.argv.slice(2));
