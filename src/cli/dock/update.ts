// dock update / container update (docker/cli cli/command/container/update.go): new limits and
// restart policy through src/engine/containers/update.ts, live for running containers.

import type { Command } from 'commander';
import { group, reportError, withEngine } from './common';

interface UpdateOpts {
  cpus?: string;
  memory?: string;
  memorySwap?: string;
  pidsLimit?: string;
  cpuShares?: string;
  cpusetCpus?: string;
  restart?: string;
  memoryReservation?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  blkioWeight?: string;
}

const updateCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('--cpus <number>', 'number of CPUs, e.g. 1.5')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 256m')
    .option('--memory-swap <bytes>', 'memory plus swap limit; -1 for unlimited swap')
    .option('--pids-limit <n>', 'process limit (-1 for unlimited)')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs allowed, e.g. 0-1')
    .option('--restart <policy>', 'no, on-failure[:N], always, unless-stopped')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--cpu-period <us>', 'CPU CFS period in microseconds')
    .option('--cpu-quota <us>', 'CPU CFS quota in microseconds')
    .option('--blkio-weight <n>', 'block IO weight, 10 to 1000')
    .action(async (names: string[], o: UpdateOpts) => {
      const { updateContainer, updateFromFlags } = await import('../../engine/containers/update');
      const { ContainerError } = await import('../../engine/containers/errors');
      const u = updateFromFlags(o);
      if (!Object.keys(u).length) throw new ContainerError('EUSAGE', 'you must provide one or more flags when using this command');
      await withEngine(async (engine) => {
        for (const n of names) {
          try {
            await updateContainer(engine, engine.containers.find(n), u);
            process.stdout.write(`${n}\n`);
          } catch (err) {
            reportError(err);
            process.exitCode = 1;
          }
        }
      });
    });

export function register(program: Command): void {
  updateCmd(program.command('update').description('Update the resource limits and restart policy of containers'));
  updateCmd(group(program, 'container', 'Manage containers').command('update').description('Update the resource limits and restart policy of containers'));
}
