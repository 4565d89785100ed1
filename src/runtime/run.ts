// `run`: create + start; in the foreground, wait for the container, forward signals, give it
// skiff's terminal when it asks for one, and exit with its status.
import { resolve } from 'node:path';
import { parseConfigFile } from '../oci/validate';
import { type CreateOptions, create } from './create';
import { deleteContainer } from './delete';
import { OwnConsole, waitForeground } from './foreground';
import { checkContainerId } from './ids';
import { native } from './native';
import type { Runtime } from './runtime';
import { start } from './start';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
}

export async function run(rt: Runtime, opts: RunOptions): Promise<number> {
  if (!opts.detach) native().setSubreaper(); // the container's init becomes our child once stage 1 exits

  // A terminal with nobody to hand the pty to: skiff holds the master itself.
  checkContainerId(opts.id); // before the config, as create orders its checks
  const spec = parseConfigFile(resolve(opts.bundle ?? '.', 'config.json'), { requireProcess: true });
  const wantsTty = !opts.consoleSocket && !opts.detach && !!spec.process?.terminal;
  const console = wantsTty ? new OwnConsole() : undefined;
  let master = -1;
  let rec;
  try {
    rec = await create(rt, { ...opts, spec, consoleSocket: console?.path ?? opts.consoleSocket });
    if (console) master = console.take();
  } finally {
    console?.dispose();
  }

  try {
    start(rt, rec.id);
  } catch (e) {
    if (master >= 0) native().close(master);
    deleteContainer(rt, rec.id, true, rec.bundle);
    throw e;
  }
  if (opts.detach) return 0;

  const code = await waitForeground(rec.pid, master);
  if (!opts.keep) deleteContainer(rt, rec.id, true, rec.bundle);
  return code;
}
