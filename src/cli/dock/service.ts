// dock system service: the Docker Engine API (src/engine/api) in the foreground, logs on stderr.

import type { Command } from 'commander';
import { globals, group } from './common';

export function register(program: Command): void {
  group(program, 'system', 'Manage the engine')
    .command('service')
    .description('Serve the Docker Engine API (default unix:///run/dock/dock.sock; a socket from LISTEN_FDS wins)')
    .argument('[uri]', 'unix:///PATH, or tcp://127.0.0.1:PORT (loopback only: the API has no authentication)')
    .option('-t, --time <seconds>', 'exit after this many seconds without a request or connection (0: never)', '0')
    .option('--group <group>', 'group that owns the unix socket (mode 0660)')
    .action(async (uri: string | undefined, o: { time: string; group?: string }) => {
      const { startService } = await import('../../engine/api/service');
      const { ApiError } = await import('../../engine/api/errors');
      if (!/^\d+$/.test(o.time)) throw new ApiError(400, `invalid --time "${o.time}": a number of seconds`);
      const g = globals();
      const svc = await startService({ uri, idleSeconds: Number(o.time), root: g.root, group: o.group, debug: g.debug });
      process.stderr.write(`dock: API listening on ${svc.address}\n`);
      const stop = () => void svc.close();
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await svc.closed;
    });
}
