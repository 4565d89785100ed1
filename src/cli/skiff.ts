// skiff: runc's command line over the runtime library. Parsing and printing only; each command
// loads the library modules it needs when it runs, so that start-up stays small.
import { Command, CommanderError, Option } from 'commander';
import { existsSync, writeFileSync, writeSync } from 'node:fs';
import { output } from '../runtime/output';
import { join } from 'node:path';
import type { CreateOptions } from '../runtime/create';
import type { Runtime, RuntimeOptions } from '../runtime/runtime';
import { registerDocCommands } from './command-docs';
import { HandoverError } from '../runtime/remote';
import { EXIT, FAILURE_STATUS, reportFailure, scanGlobalArgs, unknownCommandMessage } from './failure';

const VERSION = '0.1.0';
const SPEC_VERSION = '1.3.0';

function print(text: string): void {
  writeSync(output.out, text.endsWith('\n') ? text : text + '\n');
}

function int(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/**
 * One skiff call: parse `argv` (the arguments after the program name), run the verb, return the exit
 * status. Output goes to fds 1 and 2 and the --log file. bin/skiff.js runs it once per process; the
 * warm server (server.ts) runs it once per call, each call on a thread that has the caller's
 * stdio, cwd and environment.
 */
export async function main(argv: string[]): Promise<number> {
// The global options as argv has them, before commander has parsed anything: failures of the
// parsing itself reach the --log file too. preAction replaces them with commander's view.
const early = scanGlobalArgs(argv);
let runtimeOpts: RuntimeOptions = { root: early.root, logFile: early.logFile, logFormat: early.logFormat, debug: !!early.debug };
let rtCache: Runtime | undefined;
let exitCode: number = EXIT.ok;

async function runtime(): Promise<Runtime> {
  if (!rtCache) {
    const { openRuntime } = await import('../runtime/runtime');
    rtCache = openRuntime(runtimeOpts);
  }
  return rtCache;
}

// A failure the native front (addon/front.c) met after a step it could not undo (the init gave up
// once `start` released it): reported here like any other, instead of running the verb again.
const frontFailure = process.env.SKIFF_FRONT_FAILED;
delete process.env.SKIFF_FRONT_FAILED;

/** Wrap an action: errors become `skiff: <message>` (and a log line), exit status runc's. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A) => {
    try {
      if (frontFailure !== undefined) throw new Error(frontFailure);
      const code = await fn(...args);
      exitCode = code ?? 0;
    } catch (e) {
      fail(e);
    }
  };
}

function fail(e: unknown): void {
  if (e instanceof HandoverError) throw e; // the warm server gives this call to the CLI on Node
  const err = e as Error & { exitCode?: number; name?: string };
  const msg = err?.message ?? String(e);
  if (err?.name !== 'SkiffError' && runtimeOpts.debug) writeSync(output.err, `${err?.stack}\n`);
  reportFailure(runtimeOpts, msg);
  const verbStatus = early.command ? FAILURE_STATUS[early.command] : undefined;
  exitCode = verbStatus ?? err?.exitCode ?? EXIT.failure;
}

const program = new Command('skiff')
  .description(`An OCI runtime (runtime-spec ${SPEC_VERSION}) with runc's command line`)
  .version(`skiff version ${VERSION}\nspec: ${SPEC_VERSION}`, '-v, --version')
  .option('--root <dir>', 'root directory for container state (default /run/skiff; $XDG_RUNTIME_DIR/skiff when not root)')
  .option('--log <file>', 'write log messages to this file (default: stderr)')
  .addOption(new Option('--log-format <format>', 'log format').choices(['text', 'json']).default('text'))
  .option('--debug', 'enable debug output')
  .option('--systemd-cgroup', 'use the systemd cgroup driver (cgroupsPath as slice:prefix:name)')
  .option('--rootless <value>', 'accepted for runc compatibility (auto|true|false)')
  .option('--criu <path>', 'accepted for runc compatibility; checkpoint/restore is not supported')
  .enablePositionalOptions()
  .showSuggestionAfterError(false)
  // Usage errors: one `skiff: <why>` line and the --log line; CommanderError ends the parse.
  .exitOverride()
  .configureOutput({ writeOut: (t) => void writeSync(output.out, t), writeErr: (t) => void writeSync(output.err, t), outputError: (s) => reportFailure(runtimeOpts, s.replace(/^error: /, '')) })
  .hook('preAction', (cmd) => {
    const o = cmd.opts();
    runtimeOpts = { root: o.root, logFile: o.log, logFormat: o.logFormat, debug: !!o.debug, systemdCgroup: !!o.systemdCgroup };
  });

/** The options `create` and `run` share, and their translation into CreateOptions. */
function withCreateOptions(cmd: Command): Command {
  return cmd
    .argument('<container-id>')
    .option('-b, --bundle <dir>', 'path to the bundle directory', '.')
    .option('--console-socket <path>', 'unix socket that receives the pty master (process.terminal)')
    .option('--pid-file <file>', 'write the container init pid to this file')
    .option('--no-pivot', 'use chroot instead of pivot_root (for a ramfs root)')
    .option('--no-new-keyring', 'do not create a new session keyring')
    .option('--preserve-fds <n>', 'pass N extra file descriptors (3..3+N-1) to the container', int('--preserve-fds'), 0);
}

function createOptions(id: string, o: Record<string, any>): CreateOptions {
  return {
    id,
    bundle: o.bundle,
    consoleSocket: o.consoleSocket,
    pidFile: o.pidFile,
    noPivot: o.pivot === false,
    noNewKeyring: o.newKeyring === false,
    preserveFds: o.preserveFds,
  };
}

withCreateOptions(program.command('create').description('create a container; its process waits for `start`')).action(
  action(async (id: string, o) => {
    const { create } = await import('../runtime/create');
    await create(await runtime(), createOptions(id, o));
  }),
);

program
  .command('start')
  .description('run the process of a created container')
  .argument('<container-id>')
  .action(
    action(async (id: string) => {
      const { start } = await import('../runtime/start');
      start(await runtime(), id);
    }),
  );

withCreateOptions(program.command('run').description('create and start a container; in the foreground, wait and exit with its status'))
  .option('-d, --detach', 'detach from the container process')
  .option('--keep', 'do not delete the container after it exits')
  .action(
    action(async (id: string, o) => {
      const { run } = await import('../runtime/run');
      return run(await runtime(), { ...createOptions(id, o), detach: !!o.detach, keep: !!o.keep });
    }),
  );

program
  .command('exec')
  .description('run a process in a running container')
  .argument('<container-id>')
  .argument('[command...]', 'the command and its arguments')
  .option('-p, --process <file>', 'process.json with the whole process (instead of a command)')
  .option('-t, --tty', 'allocate a pseudo-terminal')
  .option('--console-socket <path>', 'unix socket that receives the pty master')
  .option('-d, --detach', 'detach from the process')
  .option('--pid-file <file>', 'write the process pid to this file')
  .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
  .option('--cwd <dir>', 'working directory inside the container')
  .option('-u, --user <uid[:gid]>', 'user to run as')
  .option('-g, --additional-gids <gid>', 'additional group (repeatable)', collect, [])
  .option('-c, --cap <cap>', 'add a capability (repeatable)', collect, [])
  .option('--no-new-privs', 'set no_new_privs for the process')
  .option('--apparmor <profile>', 'AppArmor profile of the process')
  .option('--process-label <label>', 'SELinux label of the process')
  .option('--preserve-fds <n>', 'pass N extra file descriptors to the process', int('--preserve-fds'), 0)
  .option('--cgroup <path>', 'run in this sub-cgroup of the container ([controller:]path)')
  .option('--ignore-paused', 'allow exec in a paused container')
  .passThroughOptions() // options after the command belong to it: exec ID sh -c '...'
  .action(
    action(async (id: string, command: string[], o) => {
      const { exec } = await import('../runtime/exec');
      const proc = o.process ? (await import('../oci/validate')).parseProcessFile(o.process) : undefined;
      return exec(await runtime(), {
        id,
        process: proc,
        args: command,
        tty: !!o.tty,
        consoleSocket: o.consoleSocket,
        detach: !!o.detach,
        pidFile: o.pidFile,
        env: o.env,
        cwd: o.cwd,
        user: o.user,
        additionalGids: o.additionalGids.map(Number),
        caps: o.cap,
        noNewPrivs: o.newPrivs === false ? true : undefined,
        apparmor: o.apparmor,
        processLabel: o.processLabel,
        preserveFds: o.preserveFds,
        cgroup: o.cgroup,
        ignorePaused: !!o.ignorePaused,
      });
    }),
  );

program
  .command('state')
  .description('print the OCI state of a container')
  .argument('<container-id>')
  .action(
    action(async (id: string) => {
      const { state } = await import('../runtime/query');
      print(JSON.stringify(state(await runtime(), id), null, 2));
    }),
  );

program
  .command('kill')
  .description('send a signal (default SIGTERM) to the container init')
  .argument('<container-id>')
  .argument('[signal]', 'name (KILL, SIGKILL) or number', 'SIGTERM')
  .option('-a, --all', 'send to every process of the container')
  .action(
    action(async (id: string, sig: string, o) => {
      const { parseSignal } = await import('../runtime/signals');
      const { kill } = await import('../runtime/kill');
      kill(await runtime(), id, parseSignal(sig), !!o.all);
    }),
  );

program
  .command('update')
  .description('update the resource limits of a container')
  .argument('<container-id>')
  .option('-r, --resources <file>', "linux.resources JSON to apply ('-' for stdin); the other flags are then ignored")
  .option('--memory <size>', 'memory limit (bytes, or 64m, 1g; -1 for unlimited)')
  .option('--memory-reservation <size>', 'memory soft limit')
  .option('--memory-swap <size>', 'memory + swap limit; -1 for unlimited swap')
  .addOption(new Option('--kernel-memory <size>', 'kernel memory limit (obsolete)').hideHelp())
  .addOption(new Option('--kernel-memory-tcp <size>', 'kernel TCP buffer limit (obsolete)').hideHelp())
  .option('--cpu-quota <us>', 'CFS quota: CPU time allowed per period, in microseconds')
  .option('--cpu-period <us>', 'CFS period, in microseconds')
  .option('--cpu-burst <us>', 'CFS burst, in microseconds')
  .option('--cpu-share <n>', 'CPU shares (relative weight)')
  .addOption(new Option('--cpu-shares <n>', 'same as --cpu-share').hideHelp())
  .option('--cpu-rt-period <us>', 'realtime period, in microseconds')
  .option('--cpu-rt-runtime <us>', 'realtime runtime per period, in microseconds')
  .option('--cpu-idle <0|1>', 'SCHED_IDLE for the cgroup')
  .option('--cpuset-cpus <list>', 'CPUs to run on (0-3,7)')
  .option('--cpuset-mems <list>', 'memory nodes to use')
  .option('--pids-limit <n>', 'maximum number of processes (-1: unlimited)')
  .option('--blkio-weight <n>', 'block I/O weight (10-1000)')
  .option('--l3-cache-schema <schema>', 'Intel RDT L3 cache schema (not supported)')
  .option('--mem-bw-schema <schema>', 'Intel RDT memory bandwidth schema (not supported)')
  .action(
    action(async (id: string, o) => {
      const u = await import('../runtime/update');
      const rt = await runtime();
      const resources = o.resources
        ? u.resourcesFromDocument(o.resources)
        : u.resourcesFromFlags({ ...o, cpuShare: o.cpuShare ?? o.cpuShares }, (m) => rt.log.warn(m));
      u.update(rt, id, resources);
    }),
  );

program
  .command('ps')
  .description('list the processes of a container')
  .argument('<container-id>')
  .argument('[ps-args...]', 'arguments for ps (default -ef), after --')
  .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
  .passThroughOptions() // ps ID -- -o pid,comm
  .action(
    action(async (id: string, args: string[], o) => {
      const ps = await import('../runtime/ps');
      const psArgs = args[0] === '--' ? args.slice(1) : args;
      if (o.format === 'json') {
        if (psArgs.length) throw new Error('ps arguments cannot be used with --format json');
        return void print(JSON.stringify(ps.containerPids(await runtime(), id)));
      }
      writeSync(output.out, ps.psTable(await runtime(), id, psArgs));
    }),
  );

program
  .command('pause')
  .description('freeze every process of a running container')
  .argument('<container-id>')
  .action(
    action(async (id: string) => {
      const { pause } = await import('../runtime/pause');
      pause(await runtime(), id);
    }),
  );

program
  .command('resume')
  .description('thaw a paused container')
  .argument('<container-id>')
  .action(
    action(async (id: string) => {
      const { resume } = await import('../runtime/pause');
      resume(await runtime(), id);
    }),
  );

program
  .command('events')
  .description('print container events (stats, oom) as JSON lines until it stops')
  .argument('<container-id>')
  .option('--interval <duration>', 'time between stats events (Go duration: 5s, 500ms)', '5s')
  .option('--stats', 'print the stats once and exit')
  .action(
    action(async (id: string, o) => {
      const ev = await import('../runtime/events');
      const rt = await runtime();
      if (o.stats) return void print(JSON.stringify(ev.statsEvent(rt, id)));
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
      try {
        await ev.streamEvents(rt, id, { intervalMs: ev.parseDuration(o.interval), signal: stop.signal, onEvent: (e) => print(JSON.stringify(e)) });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e; // the reader left: not an error
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      }
    }),
  );

program
  .command('delete')
  .description('delete a stopped container (or any, with --force)')
  .argument('<container-id>')
  .option('-f, --force', 'kill the container first if it is running')
  .action(
    action(async (id: string, o) => {
      const { deleteContainer } = await import('../runtime/delete');
      deleteContainer(await runtime(), id, !!o.force);
    }),
  );

program
  .command('list')
  .alias('ls')
  .description('list containers')
  .addOption(new Option('-f, --format <format>', 'output format').choices(['table', 'json']).default('table'))
  .option('-q, --quiet', 'print only the ids')
  .action(
    action(async (o) => {
      const { list } = await import('../runtime/query');
      const rows = list(await runtime());
      if (o.quiet) return void (rows.length && print(rows.map((r) => r.id).join('\n')));
      if (o.format === 'json') return void print(JSON.stringify(rows));
      const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner])];
      const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
      print(table.map((row) => row.map((c, i) => (i < row.length - 1 ? c.padEnd(widths[i] + 2) : c)).join('')).join('\n'));
    }),
  );

program
  .command('spec')
  .description('write a default config.json in the bundle')
  .option('-b, --bundle <dir>', 'bundle directory', '.')
  .option('--rootless', 'a spec for a rootless container')
  .action(
    action(async (o) => {
      const { defaultSpec } = await import('../oci/spec-default');
      const path = join(o.bundle, 'config.json');
      if (existsSync(path)) throw new Error(`file ${path} exists: remove it first`);
      writeFileSync(path, JSON.stringify(defaultSpec({ rootless: !!o.rootless }), null, '\t') + '\n');
    }),
  );

program
  .command('features')
  .description('print the features this runtime supports (JSON)')
  .action(
    action(async () => {
      const { featuresDocument } = await import('../oci/features');
      // What the cgroup library implements (src/runtime/cgroups): v1, v2, the systemd driver
      // (system manager only, no rootless user scopes) and rdma limits on both versions.
      print(JSON.stringify(featuresDocument({ cgroup: { systemd: true, systemdUser: false, rdma: true } }), null, '    '));
    }),
  );

// `skiff completion bash|zsh|fish` and the build's man pages, from the definitions above.
registerDocCommands(
  program,
  (m) => {
    throw new Error(m);
  },
  { container: 'list -q' },
);

/** runc's behaviour for a verb it does not have (checkpoint and restore included: no CRIU here). */
function knownCommand(name: string): boolean {
  return name === 'help' || name === 'h' || program.commands.some((c) => c.name() === name || c.aliases().includes(name));
}

if (early.command === undefined && !argv.some((a) => /^(-h|--help|-v|--version)$/.test(a))) {
  // runc with no verb prints its help on stdout and succeeds.
  writeSync(output.out, program.helpInformation());
  return EXIT.ok;
}
if (early.command !== undefined && !knownCommand(early.command)) {
  reportFailure(runtimeOpts, unknownCommandMessage(early.command));
  return EXIT.unknownCommand;
}
try {
  await program.parseAsync(argv, { from: 'user' });
} catch (e) {
  // Help and version end with status 0; usage errors were already reported by outputError.
  if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.failure;
  fail(e);
}
return exitCode;
}

/** The CLI as a process (bin/skiff.js): one call, then exit with its status. */
export function runCli(): void {
  const argv = process.argv.slice(2);
  const early = scanGlobalArgs(argv);
  // Whatever escapes an action (a stream error, a bug) still ends as one reported failure.
  process.on('uncaughtException', (e) => {
    if (early.debug) writeSync(output.err, `${e?.stack}\n`);
    reportFailure(early, e?.message ?? String(e));
    process.exit((early.command && FAILURE_STATUS[early.command]) || EXIT.failure);
  });
  main(argv).then((code) => {
    process.exitCode = code;
  });
}
