// dock container commands (docker/cli cli/command/container): run, create, start, stop, ps, logs,
// exec, cp... The work is in src/engine/containers and src/engine/volumes; here: flags, output, exit codes.

import type { Command } from 'commander';
import { clientOpts, collect, type Engine, group, reportError, withEngine } from './common';
import { columns, renderFormat, renderFormatDeep } from './format';
import { native } from '../../runtime/native';
import { selfCommand } from '../../engine/containers/engine';
import { output } from '../../runtime/output';
import { ContainerError, startFailure } from '../../engine/containers/errors';

const runFlags = (cmd: Command) =>
  cmd
    .option('--name <name>', 'name of the container')
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-v, --volume <spec>', 'bind mount or volume: SRC:DST[:ro,rw,shared,...], NAME:DST, or DST (repeatable)', collect, [])
    .option('--mount <spec>', 'type=bind|volume|tmpfs,source=...,target=...[,readonly] (repeatable)', collect, [])
    .option('--tmpfs <spec>', 'tmpfs mount: DST[:OPTIONS] (repeatable)', collect, [])
    .option('--volumes-from <container[:ro|rw]>', 'mount the volumes of another container (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user name or uid (and group) to run as')
    .option('--entrypoint <cmd>', "override the image's entrypoint")
    .option('-h, --hostname <name>', 'container host name')
    .option('-m, --memory <bytes>', 'memory limit, e.g. 512m')
    .option('--memory-swap <bytes>', 'memory plus swap limit; -1 for unlimited swap')
    .option('--cpus <number>', 'number of CPUs, e.g. 0.5')
    .option('-c, --cpu-shares <n>', 'CPU shares (relative weight)')
    .option('--cpuset-cpus <list>', 'CPUs allowed, e.g. 0-1')
    .option('--pids-limit <n>', 'process limit (-1 for unlimited)')
    .option('--device <host[:ctr[:rwm]]>', 'add a host device (repeatable)', collect, [])
    .option('--cap-add <cap>', 'add a capability (repeatable; ALL)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability (repeatable; ALL)', collect, [])
    .option('--privileged', 'all capabilities, all devices, no seccomp, writable /sys')
    .option('--read-only', 'mount the root filesystem read-only')
    .option('--security-opt <opt>', 'seccomp=FILE|unconfined, no-new-privileges (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'resource limit (repeatable)', collect, [])
    .option('--init', "run an init inside the container that forwards signals and reaps processes")
    .option('--restart <policy>', 'no, on-failure[:N], always, unless-stopped', 'no')
    .option('--health-cmd <cmd>', 'command to check health (run with /bin/sh -c)')
    .option('--health-interval <duration>', 'time between checks (default 30s)')
    .option('--health-timeout <duration>', 'maximum time for one check (default 30s)')
    .option('--health-retries <n>', 'consecutive failures before unhealthy (default 3)')
    .option('--health-start-period <duration>', 'start-up time during which failures do not count')
    .option('--no-healthcheck', "disable the image's health check")
    .option('-l, --label <key=value>', 'set a label (repeatable)', collect, [])
    .option('--stop-signal <signal>', 'signal to stop the container (default SIGTERM)')
    .option('--stop-timeout <seconds>', 'seconds to wait before SIGKILL on stop (default 10)')
    .option('--network <mode>', 'bridge, a network name, none, host or container:NAME (default: bridge)')
    .option('-p, --publish <spec>', 'publish a port: [hostIP:][hostPort:]containerPort[/tcp|udp] (repeatable; ranges too)', collect, [])
    .option('-P, --publish-all', "publish every port the image EXPOSEs on a free host port")
    .option('--network-alias <name>', 'another DNS name of the container on its user-defined network (repeatable)', collect, [])
    .option('--add-host <name:ip>', 'an /etc/hosts line; ip may be host-gateway (repeatable)', collect, [])
    .option('--dns <ip>', 'DNS server for the container (repeatable)', collect, [])
    .option('--dns-search <domain>', 'DNS search domain for the container (repeatable)', collect, [])
    .option('--dns-option <option>', 'resolver option for the container, e.g. ndots:2 (repeatable)', collect, [])
    .option('--log-opt <key=value>', 'json-file log options: max-size, max-file (repeatable)', collect, [])
    .option('--platform <os/arch[/variant]>', 'platform of the image to pull when it is pulled')
    .option('--pull <policy>', 'pull the image before: missing (when not in the store), always, never', 'missing')
    .option('-q, --quiet', 'pull without printing anything')
    .option('--cidfile <file>', 'write the container id to this file (which must not exist)')
    .option('--log-driver <driver>', 'logging driver: json-file (default), local (rotated at 20m, 5 files) or none')
    .option('--group-add <group>', 'an additional group of the process: a name from the image or a gid (repeatable)', collect, [])
    .option('--shm-size <bytes>', 'size of /dev/shm, e.g. 128m (default 64m)')
    .option('--sysctl <key=value>', 'a namespaced kernel parameter: net.*, kernel.msg*/sem/shm*, fs.mqueue.* (repeatable)', collect, [])
    .option('--expose <port>', 'expose a port or a range (PORT[-PORT][/tcp|udp]) without publishing it (repeatable)', collect, [])
    .option('--ip <address>', 'IPv4 address on the user-defined --network')
    .option('--mac-address <mac>', "MAC address of the container's interface")
    .option('--pid <mode>', 'PID namespace: host or container:NAME (default: its own)')
    .option('--ipc <mode>', 'IPC namespace: private (default), shareable, none, host or container:NAME')
    .option('--uts <mode>', 'UTS namespace: host (default: its own)')
    .option('--userns <mode>', 'user namespace: host (dock never remaps users)')
    .option('--cgroupns <mode>', 'cgroup namespace: host or private (default: private on cgroup v2, host on v1)')
    .option('--annotation <key=value>', 'an annotation of the OCI config (repeatable)', collect, [])
    .option('--device-read-bps <device:rate>', 'limit reads from a block device, e.g. /dev/sda:1mb (repeatable)', collect, [])
    .option('--device-write-bps <device:rate>', 'limit writes to a block device (repeatable)', collect, [])
    .option('--device-read-iops <device:iops>', 'limit read operations per second of a block device (repeatable)', collect, [])
    .option('--device-write-iops <device:iops>', 'limit write operations per second of a block device (repeatable)', collect, [])
    .option('--blkio-weight <n>', 'relative block I/O weight, 10 to 1000')
    .option('--oom-kill-disable', 'disable the OOM killer for the container')
    .option('--oom-score-adj <n>', "the OOM score adjustment of the container's processes (-1000 to 1000)")
    .option('--memory-reservation <bytes>', 'memory soft limit, e.g. 256m')
    .option('--cpu-period <microseconds>', 'CFS scheduler period')
    .option('--cpu-quota <microseconds>', 'CFS scheduler quota per period')
    .argument('<image>', 'image name or id')
    .argument('[command...]', 'command and arguments')
    .passThroughOptions();

type RunOpts = import('../../engine/containers/config').RunFlags & { healthcheck?: boolean; d?: boolean; detach?: boolean; pull?: string; quiet?: boolean; ip?: string; sigProxy?: boolean; detachKeys?: string };

/**
 * docker run/create's --pull: "missing" pulls an image that is not in the store (saying so on
 * stderr, with the pull's progress there), "always" pulls first, "never" only looks locally.
 */
async function pullForRun(engine: Engine, image: string, policy = 'missing', platform?: string, quiet = false): Promise<void> {
  const { ContainerError } = await import('../../engine/containers/errors');
  if (policy !== 'missing' && policy !== 'always' && policy !== 'never') throw new ContainerError('EUSAGE', `invalid pull option: '${policy}': must be one of "always", "missing" or "never"`);
  if (policy === 'never') return;
  if (policy === 'missing') {
    const { findImage } = await import('../../engine/images/lookup');
    try {
      findImage(engine.images, image);
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOIMAGE') throw e;
    }
    if (!quiet) process.stderr.write(`Unable to find image '${image}' locally\n`);
  }
  const { pullImage } = await import('../../engine/images/pull');
  const { parsePlatform } = await import('../../engine/registry/manifest');
  const { defaultProgress } = await import('../../engine/images/progress');
  const progress = defaultProgress(quiet, process.stderr);
  try {
    await pullImage(engine.images, image, { ...clientOpts(), platform: platform ? parsePlatform(platform) : undefined, progress });
  } finally {
    progress.close();
  }
}

function toFlags(o: RunOpts & Record<string, unknown>): import('../../engine/containers/config').RunFlags {
  if (o.oomKillDisable && !o.memory) process.stderr.write("WARNING: Disabling the OOM killer on containers without setting a '-m/--memory' limit may be dangerous.\n");
  return { ...o, noHealthcheck: o.healthcheck === false, ...(o.ip ? { ipv4Address: o.ip } : {}) };
}

/**
 * docker's client-side create: --pull, then the engine's create, with --cidfile refused when it
 * exists, written with the id, and removed again when create fails (cidfile.ts).
 */
async function createForRun(engine: Engine, image: string, command: string[], o: RunOpts & Record<string, unknown>, extra: Partial<import('../../engine/containers/config').RunFlags> = {}) {
  const { createContainer } = await import('../../engine/containers/create');
  const { CidFile } = await import('../../engine/containers/cidfile');
  const cid = o.cidfile ? CidFile.open(o.cidfile) : undefined;
  try {
    await pullForRun(engine, image, o.pull, o.platform as string | undefined, !!o.quiet);
    const doc = await createContainer(engine, image, { ...toFlags(o), ...extra }, command);
    cid?.write(doc.Id);
    return doc;
  } catch (e) {
    cid?.discard();
    throw e;
  }
}

/** Foreground: attach (claiming the exit), start, wait, then handle the exit here (also compose run). */
export async function runForeground(engine: Engine, doc: import('../../engine/containers/types').ContainerDoc, opts: { stdin: boolean; sigProxy?: boolean; detachKeys?: string }): Promise<number> {
  const { startContainer } = await import('../../engine/containers/start');
  const { attach } = await import('../../engine/containers/attach');
  const { handleExit } = await import('../../engine/containers/exit');
  const { containerDir } = await import('../../engine/containers/paths');
  const { kill: runtimeKill } = await import('../../runtime/kill');
  const { parseSignal } = await import('../../runtime/signals');
  const dir = containerDir(engine.paths, doc.Id);
  let session: Promise<import('../../engine/containers/attach').AttachResult> | undefined;
  const started = await startContainer(engine, doc, {
    beforeStart: () =>
      new Promise<void>((ready, fail) => {
        session = attach(dir, { stdin: opts.stdin, stdout: true, stderr: true, claim: true, stdinOnce: doc.Config.StdinOnce, tty: doc.Config.Tty, detachKeys: opts.detachKeys, onReady: ready });
        session.catch(fail);
      }),
  });
  // --sig-proxy (default true): our signals go to the container (with a tty, ^C reaches it through
  // the terminal, and docker turns the proxy off). Without it a signal ends dock, not the container.
  const proxy = (s: NodeJS.Signals) => {
    try {
      runtimeKill(engine.rt, doc.Id, parseSignal(s));
    } catch {
      /* not running */
    }
  };
  const sigs: NodeJS.Signals[] = opts.sigProxy === false ? [] : ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  for (const s of sigs) process.on(s, proxy);
  const r = await session!;
  for (const s of sigs) process.off(s, proxy);
  if (r.exitCode === null) return 0; // detached (ctrl-p ctrl-q): the container runs on
  const { crashPoint } = await import('../../engine/containers/start');
  crashPoint('exit-claimed'); // tests: dock killed between the exit and its handling
  try {
    await handleExit(engine, doc.Id, started.State.Pid);
  } finally {
    r.handled?.();
  }
  return r.exitCode;
}

const runCmd = (cmd: Command) =>
  runFlags(cmd)
    .option('-d, --detach', 'run in the background and print the container id')
    .option('--rm', 'remove the container when it exits')
    .option('--sig-proxy', 'forward the signals dock receives to the container (default true; --sig-proxy=false to turn off)')
    .option('--detach-keys <keys>', 'keys that detach from a -it container, e.g. ctrl-a,x (default ctrl-p,ctrl-q)')
    .action(async (image: string, command: string[], o: RunOpts & Record<string, unknown>) => {
      const { startContainer } = await import('../../engine/containers/start');
      await withEngine(async (engine) => {
        let doc;
        try {
          // docker's check: -it needs a terminal on stdin (else the session would wait forever).
          if (o.tty && o.interactive && !o.detach && !process.stdin.isTTY) throw new ContainerError('EUSAGE', 'the input device is not a TTY');
          if (o.detachKeys) (await import('../../engine/containers/attach')).parseDetachKeys(o.detachKeys);
          doc = await createForRun(engine, image, command, o);
        } catch (e) {
          throw withRunExitCode(e);
        }
        try {
          if (o.detach) {
            await startContainer(engine, doc);
            process.stdout.write(`${doc.Id}\n`);
            return;
          }
          process.exitCode = await runForeground(engine, doc, { stdin: !!o.interactive, sigProxy: o.sigProxy !== false && !o.tty, detachKeys: o.detachKeys });
        } catch (e) {
          // A container that could not start is not kept with --rm (Docker does the same).
          if (o.rm) await (await import('../../engine/containers/remove')).removeContainer(engine, doc, { force: true, volumes: true }).catch(() => undefined);
          throw withRunExitCode(e);
        }
      });
    });

/**
 * docker run's exit statuses for its own failures: 127 when the command is not found, 126 when it
 * cannot be executed, 125 for any other error of the engine (the container's own status otherwise).
 */
function withRunExitCode(e: unknown): unknown {
  if (!e || typeof e !== 'object') return e;
  const f = startFailure(e);
  return Object.assign(e, { message: f.message, dockExit: (e as { exitStatus?: number }).exitStatus ?? f.status });
}

const createCmd = (cmd: Command) =>
  runFlags(cmd).action(async (image: string, command: string[], o: RunOpts & Record<string, unknown>) => {
    await withEngine(async (engine) => {
      let doc;
      try {
        doc = await createForRun(engine, image, command, o, { detach: true });
      } catch (e) {
        throw withRunExitCode(e);
      }
      process.stdout.write(`${doc.Id}\n`);
    });
  });

/** Runs `fn` for each named container, reporting errors one by one (Docker's multi-target verbs). */
async function eachContainer(names: string[], fn: (e: Engine, d: import('../../engine/containers/types').ContainerDoc, name: string) => Promise<void>): Promise<void> {
  await withEngine(async (engine) => {
    for (const n of names) {
      try {
        await fn(engine, engine.containers.find(n), n);
      } catch (err) {
        reportError(err);
        process.exitCode = 1;
      }
    }
  });
}

const startCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers to start')
    .option('-a, --attach', 'attach standard output and error and wait for the exit')
    .option('-i, --interactive', "attach the container's standard input")
    .option('--detach-keys <keys>', 'keys that detach from a -it container (default ctrl-p,ctrl-q)')
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean; detachKeys?: string }) => {
      const { startContainer } = await import('../../engine/containers/start');
      if (o.attach || o.interactive) {
        await withEngine(async (engine) => {
          const doc = engine.containers.find(names[0]);
          process.exitCode = await runForeground(engine, doc, { stdin: !!o.interactive && doc.Config.OpenStdin, sigProxy: !doc.Config.Tty, detachKeys: o.detachKeys });
        });
        return;
      }
      await eachContainer(names, async (engine, doc, name) => {
        await startContainer(engine, doc);
        process.stdout.write(`${name}\n`);
      });
    });

const stopCmd = (cmd: Command, restart = false) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-t, --time <seconds>', 'seconds to wait before killing the container')
    .option('-s, --signal <signal>', 'signal to send (default: the stop signal of the container)')
    .action(async (names: string[], o: { time?: string; signal?: string }) => {
      const { stopContainer, restartContainer } = await import('../../engine/containers/stop');
      const t = o.time === undefined ? undefined : Number(o.time);
      if (t !== undefined && !Number.isInteger(t)) throw new (await import('../../engine/containers/errors')).ContainerError('EUSAGE', `invalid value "${o.time}" for --time: an integer`);
      await eachContainer(names, async (engine, doc, name) => {
        const d = o.signal ? { ...doc, Config: { ...doc.Config, StopSignal: o.signal } } : doc;
        if (restart) await restartContainer(engine, d, t);
        else await stopContainer(engine, d, t);
        process.stdout.write(`${name}\n`);
      });
    });

const killCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-s, --signal <signal>', 'signal to send', 'KILL')
    .action(async (names: string[], o: { signal: string }) => {
      const { killContainer } = await import('../../engine/containers/stop');
      await eachContainer(names, async (engine, doc, name) => {
        await killContainer(engine, doc, o.signal);
        process.stdout.write(`${name}\n`);
      });
    });

const rmCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('-f, --force', 'kill and remove a running container')
    .option('-v, --volumes', 'remove the anonymous volumes of the container')
    .action(async (names: string[], o: { force?: boolean; volumes?: boolean }) => {
      const { removeContainer } = await import('../../engine/containers/remove');
      await eachContainer(names, async (engine, doc, name) => {
        await removeContainer(engine, doc, { force: o.force, volumes: o.volumes });
        process.stdout.write(`${name}\n`);
      });
    });

const psCmd = (cmd: Command) =>
  cmd
    .option('-a, --all', 'show all containers (default: running ones)')
    .option('-q, --quiet', 'only ids')
    .option('-f, --filter <key=value>', 'filter: status, name, id, label, exited, ancestor, volume, health, network (repeatable)', collect, [])
    .option('--format <template>', 'Go-template-like format, e.g. "{{.Names}} {{.Status}}" or "table {{.ID}}\\t{{.Names}}"')
    .option('--no-trunc', 'do not truncate output')
    .option('-n, --last <n>', 'show the n last created containers (all states)')
    .option('-l, --latest', 'show the latest created container (all states)')
    .action(async (o: { all?: boolean; quiet?: boolean; filter: string[]; format?: string; trunc: boolean; last?: string; latest?: boolean }) => {
      const { psRows } = await import('../../engine/containers/inspect');
      await withEngine(async (engine) => {
        const n = o.latest ? 1 : o.last !== undefined ? Number(o.last) : undefined;
        let rows = psRows(engine, { all: o.all || n !== undefined, filters: o.filter, noTrunc: !o.trunc });
        if (n !== undefined && n >= 0) rows = rows.slice(0, n);
        if (o.quiet) {
          process.stdout.write(rows.map((r) => r.ID + '\n').join(''));
          return;
        }
        const format = o.format ?? 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
        // docker's ContainerContext.Label "key".
        const docs = new Map(engine.containers.list().map((d) => [o.trunc ? d.Id.slice(0, 12) : d.Id, d.Config.Labels]));
        const withLabel = rows.map((r) => ({ ...r, Label: (k: unknown) => docs.get(r.ID)?.[String(k)] ?? '' }));
        const out = renderFormat(format, withLabel, { ID: 'CONTAINER ID', Image: 'IMAGE', Command: 'COMMAND', RunningFor: 'CREATED', CreatedAt: 'CREATED AT', Status: 'STATUS', State: 'STATE', Ports: 'PORTS', Names: 'NAMES', Labels: 'LABELS', Mounts: 'MOUNTS', Networks: 'NETWORKS' });
        process.stdout.write(out || (format.startsWith('table') ? renderFormat(format, [], {}) : ''));
      });
    });

const logsCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('-f, --follow', 'follow the log output')
    .option('-n, --tail <n>', 'number of lines from the end ("all")', 'all')
    .option('--since <time>', 'from this time (timestamp, unix time, or duration ago like 10m)')
    .option('--until <time>', 'up to this time')
    .option('-t, --timestamps', 'show timestamps')
    .action(async (name: string, o: { follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
      const { streamLogs } = await import('../../engine/containers/logs');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        await streamLogs(engine, doc, o);
      });
    });

const execCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('<command...>', 'command and arguments')
    .option('-i, --interactive', 'keep standard input open')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-d, --detach', 'run in the background')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'user name or uid (and group)')
    .option('-w, --workdir <dir>', 'working directory')
    .option('--privileged', 'all capabilities for this process')
    .passThroughOptions()
    .action(async (name: string, command: string[], o: { interactive?: boolean; tty?: boolean; detach?: boolean; env: string[]; user?: string; workdir?: string; privileged?: boolean }) => {
      const { execInContainer } = await import('../../engine/containers/exec');
      if (o.detach && !process.env.DOCK_EXEC_STDIO_DETACHED) {
        // The process must not keep our stdio (a caller reading our output would wait for it):
        // the exec is made by a copy of dock whose stdio is /dev/null, which returns once it ran.
        // Its errors come back through an unlinked temporary file (the process's own stderr goes
        // there too, and the space is freed when it exits).
        const { spawnSync } = await import('node:child_process');
        const fs = await import('node:fs');
        const { tmpdir } = await import('node:os');
        const errPath = `${tmpdir()}/dock-exec-${process.pid}.err`;
        const errFd = fs.openSync(errPath, 'w+', 0o600);
        fs.unlinkSync(errPath);
        try {
          const r = spawnSync(...dockAgain(), { stdio: ['ignore', 'ignore', errFd], env: { ...process.env, DOCK_EXEC_STDIO_DETACHED: '1' } });
          const size = fs.fstatSync(errFd).size;
          if (size) {
            const buf = Buffer.alloc(size);
            fs.readSync(errFd, buf, 0, size, 0);
            process.stderr.write(buf);
          }
          process.exitCode = r.status ?? 1;
        } finally {
          fs.closeSync(errFd);
        }
        return;
      }
      const nullStdin = native().nullStdin;
      if (!o.interactive && !o.detach && !process.env.DOCK_EXEC_STDIO_DETACHED && !stdinIsDevNull()) {
        // Without -i the process must not read our standard input (a `while read` loop calling
        // dock exec would lose its lines): served by the warm server, the caller's front takes
        // /dev/null as its stdin; on Node, a copy of dock runs it with /dev/null as stdin.
        if (nullStdin) nullStdin();
        else {
          const { spawn } = await import('node:child_process');
          const child = spawn(...dockAgain(), { stdio: ['ignore', output.out, output.err], env: { ...process.env, DOCK_EXEC_STDIO_DETACHED: '1' } });
          const forward = (sig: NodeJS.Signals) => child.kill(sig);
          for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, forward);
          process.exitCode = await new Promise<number>((res) => child.on('close', (c, sig) => res(c ?? 128 + ((sig && (require('node:os').constants.signals as Record<string, number>)[sig]) || 0))));
          return;
        }
      }
      // The API's exec runs this command on pipes for a client that made its own terminal check.
      if (o.tty && o.interactive && !process.stdin.isTTY && !process.env.DOCK_EXEC_FOR_API) throw Object.assign(new ContainerError('EUSAGE', 'the input device is not a TTY'), { dockExit: 125 });
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        try {
          process.exitCode = await execInContainer(engine, doc, command, o);
        } catch (e) {
          throw withRunExitCode(e);
        }
      });
    });

/** This command line again (engine.ts's selfCommand: through the warm server when it runs). */
function dockAgain(): [string, string[]] {
  const [cmd, ...pre] = selfCommand();
  return [cmd, [...pre, ...process.argv.slice(2)]];
}

function stdinIsDevNull(): boolean {
  try {
    const { fstatSync, statSync } = require('node:fs') as typeof import('node:fs');
    const a = fstatSync(output.in);
    const b = statSync('/dev/null');
    return a.isCharacterDevice() && a.rdev === b.rdev;
  } catch {
    return true; // no stdin at all
  }
}

const attachCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('--no-stdin', 'do not attach standard input')
    .option('--detach-keys <keys>', 'keys that detach (default ctrl-p,ctrl-q)')
    .action(async (name: string, o: { stdin: boolean; detachKeys?: string }) => {
      const { attach } = await import('../../engine/containers/attach');
      const { containerDir } = await import('../../engine/containers/paths');
      const { liveState } = await import('../../engine/containers/status');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        const s = liveState(engine, doc).status;
        if (s !== 'running' && s !== 'paused') throw new (await import('../../engine/containers/errors')).ContainerError('ESTATE', `you cannot attach to a stopped container, start it first`);
        const r = await attach(containerDir(engine.paths, doc.Id), { stdin: o.stdin && doc.Config.OpenStdin, stdout: true, stderr: true, tty: doc.Config.Tty, detachKeys: o.detachKeys });
        if (r.exitCode !== null) process.exitCode = r.exitCode;
      });
    });

const inspectContainersCmd = (cmd: Command, withImages: boolean) =>
  cmd
    .argument('<name...>', withImages ? 'containers or images' : 'containers')
    .option('-f, --format <template>', 'format each result with a Go-template-like string')
    .option('--type <type>', 'container or image (default: container, then image)')
    .action(async (names: string[], o: { format?: string; type?: string }) => {
      const { inspectContainer } = await import('../../engine/containers/inspect');
      const { inspectImage } = await import('../../engine/images/inspect');
      await withEngine(async (engine) => {
        const docs: unknown[] = [];
        for (const n of names) {
          try {
            if (o.type !== 'image') {
              try {
                docs.push(inspectContainer(engine, engine.containers.find(n)));
                continue;
              } catch (e) {
                if (!withImages || o.type === 'container' || (e as { code?: string }).code !== 'ENOTFOUND') throw e;
              }
            }
            docs.push(await inspectImage(engine.images, n));
          } catch (err) {
            reportError(withImages && (err as { code?: string }).code === 'ENOIMAGE' ? Object.assign(new Error(`no such object: ${n}`), { domain: 'container' }) : err);
            process.exitCode = 1;
          }
        }
        if (o.format) process.stdout.write(renderFormatDeep(o.format, docs as Array<Record<string, unknown>>));
        else process.stdout.write(JSON.stringify(docs, null, 4) + '\n');
      });
    });

const topCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('[ps-options...]', 'options for ps (default -ef)')
    .passThroughOptions()
    .action(async (name: string, psArgs: string[]) => {
      const { topContainer } = await import('../../engine/containers/top');
      await withEngine(async (engine) => {
        const rows = topContainer(engine, engine.containers.find(name), psArgs);
        process.stdout.write(columns(rows) + '\n');
      });
    });

const statsCmd = (cmd: Command) =>
  cmd
    .argument('[container...]', 'containers (default: all running)')
    .option('--no-stream', 'print one sample and exit')
    .option('--format <template>', 'Go-template-like format')
    .option('-a, --all', 'all containers (default: running ones)')
    .action(async (names: string[], o: { stream: boolean; format?: string; all?: boolean }) => {
      const { sampleStats } = await import('../../engine/containers/top');
      const { humanSize } = await import('../../engine/images/inspect');
      await withEngine(async (engine) => {
        const docs = names.length ? names.map((n) => engine.containers.find(n)) : engine.containers.list();
        const ncpu = (await import('node:os')).cpus().length;
        let prev = new Map(docs.map((d) => [d.Id, sampleStats(engine, d)]));
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const rows: Array<Record<string, unknown>> = [];
          const next = new Map<string, ReturnType<typeof sampleStats>>();
          for (const d of docs) {
            const s = sampleStats(engine, d);
            next.set(d.Id, s);
            const p = prev.get(d.Id);
            if (!s && !o.all && !names.length) continue;
            const cpu = s && p ? ((s.cpuNs - p.cpuNs) / (s.at - p.at)) * 100 : 0;
            rows.push({
              ID: d.Id.slice(0, 12),
              Container: d.Id.slice(0, 12),
              Name: d.Name,
              CPUPerc: `${(s ? Math.max(0, cpu) : 0).toFixed(2)}%`,
              MemUsage: s ? `${humanSize(s.memUsage)} / ${humanSize(s.memLimit)}` : '0B / 0B',
              MemPerc: s && s.memLimit ? `${((s.memUsage / s.memLimit) * 100).toFixed(2)}%` : '0.00%',
              NetIO: '0B / 0B',
              BlockIO: s ? `${humanSize(s.blkRead)} / ${humanSize(s.blkWrite)}` : '0B / 0B',
              PIDs: String(s?.pids ?? 0),
              CPUs: ncpu,
            });
          }
          const format = o.format ?? 'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
          const text = renderFormat(format, rows, { ID: 'CONTAINER ID', Container: 'CONTAINER', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET I/O', BlockIO: 'BLOCK I/O', PIDs: 'PIDS' });
          if (o.stream && process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          process.stdout.write(text);
          if (!o.stream) return;
          prev = next;
        }
      });
    });

const waitCmd = (cmd: Command) =>
  cmd
    .argument('<container...>', 'containers')
    .option('--condition <condition>', 'not-running (default), next-exit or removed')
    .action(async (names: string[], o: { condition?: string }) => {
      const { parseWaitCondition, waitCondition } = await import('../../engine/containers/wait');
      const condition = parseWaitCondition(o.condition);
      await eachContainer(names, async (engine, doc) => {
        process.stdout.write(`${await waitCondition(engine, doc, condition)}\n`);
      });
    });

const pauseCmd = (cmd: Command, pause: boolean) =>
  cmd.argument('<container...>', 'containers').action(async (names: string[]) => {
    const { pauseContainer } = await import('../../engine/containers/stop');
    await eachContainer(names, async (engine, doc, name) => {
      await pauseContainer(engine, doc, pause);
      process.stdout.write(`${name}\n`);
    });
  });

const renameCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('<new-name>', 'new name')
    .action(async (name: string, newName: string) => {
      const { ContainerError } = await import('../../engine/containers/errors');
      if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(newName)) throw new ContainerError('EUSAGE', `invalid container name "${newName}"`);
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        engine.containers.rename(doc.Id, newName.replace(/^\//, ''));
      });
    });

const cpCmd = (cmd: Command) =>
  cmd
    .argument('<src>', 'CONTAINER:PATH, a host path, or - (a tar stream on standard input)')
    .argument('<dest>', 'CONTAINER:PATH, a host path, or - (a tar stream on standard output)')
    .option('-a, --archive', 'archive mode: keep the uid/gid of the source')
    .option('-L, --follow-link', 'always follow a symbolic link in SRC')
    .option('-q, --quiet', 'no progress output (dock prints none)')
    .action(async (src: string, dest: string, o: { archive?: boolean; followLink?: boolean }) => {
      const cp = await import('../../engine/containers/copy');
      // docker's rule: CONTAINER:PATH, unless the argument starts like a local path (/ or .).
      const split = (s: string) => {
        const m = /^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(.*)$/.exec(s);
        return m && !s.startsWith('/') && !s.startsWith('.') ? { ctr: m[1], path: m[2] || '/' } : null;
      };
      const from = split(src);
      const to = split(dest);
      if (!!from === !!to) throw new ContainerError('EUSAGE', 'copying between containers or between host paths is not supported: one side must be CONTAINER:PATH');
      const opts = { archive: o.archive, followLink: o.followLink };
      await withEngine(async (engine) => {
        if (from) {
          const doc = engine.containers.find(from.ctr);
          if (dest === '-') return cp.copyFromContainer(engine, doc, from.path, process.stdout, opts);
          return cp.copyContainerToHost(engine, doc, from.path, dest, opts);
        }
        const doc = engine.containers.find(to!.ctr);
        if (src === '-') return cp.copyToContainer(engine, doc, to!.path, process.stdin, opts);
        return cp.copyHostToContainer(engine, doc, src, to!.path, opts);
      });
    });

const portCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .argument('[port]', 'a private port, PORT[/PROTO]: print only its host addresses')
    .action(async (name: string, port: string | undefined) => {
      const { networkRecords } = await import('../../engine/containers/network');
      const { formatBinding } = await import('../../engine/network/ports');
      const { ContainerError } = await import('../../engine/containers/errors');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        let rows = networkRecords(engine).portsOf(doc.Id);
        if (port !== undefined) {
          const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(port);
          if (!m) throw new ContainerError('EUSAGE', `invalid port "${port}": want PORT[/tcp|udp]`);
          rows = rows.filter((b) => b.containerPort === Number(m[1]) && b.proto === (m[2] ?? 'tcp'));
          if (!rows.length) throw new ContainerError('ENOTFOUND', `no public port '${port}' published for ${doc.Name}`);
          process.stdout.write(rows.map((b) => `${b.hostIp}:${b.hostPort}\n`).join(''));
          return;
        }
        process.stdout.write(rows.map((b) => formatBinding(b) + '\n').join(''));
      });
    });

const exportCmd = (cmd: Command) =>
  cmd
    .argument('<container>', 'container')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(async (name: string, o: { output?: string }) => {
      const { exportContainer } = await import('../../engine/containers/copy');
      const { createWriteStream } = await import('node:fs');
      await withEngine(async (engine) => {
        const doc = engine.containers.find(name);
        const out = o.output ? createWriteStream(o.output) : process.stdout;
        await exportContainer(engine, doc, out);
        if (o.output) await new Promise((r) => (out as import('node:fs').WriteStream).end(r));
      });
    });


export function register(program: Command): void {
  runCmd(program.command('run').description('Create and start a container from an image'));
  createCmd(program.command('create').description('Create a container (start it with dock start)'));
  startCmd(program.command('start').description('Start containers'));
  stopCmd(program.command('stop').description('Stop containers: the stop signal, then SIGKILL after the timeout'));
  stopCmd(program.command('restart').description('Restart containers'), true);
  killCmd(program.command('kill').description('Send a signal to containers'));
  rmCmd(program.command('rm').description('Remove containers'));
  psCmd(program.command('ps').description('List containers'));
  logsCmd(program.command('logs').description("Show a container's logs"));
  execCmd(program.command('exec').description('Run a command in a running container'));
  attachCmd(program.command('attach').description("Attach to a running container's input and output"));
  inspectContainersCmd(program.command('inspect').description('Show the details of containers or images'), true);
  topCmd(program.command('top').description('Show the processes of a container'));
  statsCmd(program.command('stats').description('Show resource usage of containers'));
  waitCmd(program.command('wait').description('Wait for containers to stop and print their exit codes'));
  pauseCmd(program.command('pause').description('Freeze every process of containers'), true);
  pauseCmd(program.command('unpause').description('Thaw paused containers'), false);
  renameCmd(program.command('rename').description('Rename a container'));
  cpCmd(program.command('cp').description('Copy files between a container and the host (tar streams)'));
  exportCmd(program.command('export').description("Write a container's filesystem as a tar archive"));
  portCmd(program.command('port').description("List a container's published ports"));

  const container = group(program, 'container', 'Manage containers');
  runCmd(container.command('run').description('Create and start a container from an image'));
  createCmd(container.command('create').description('Create a container'));
  startCmd(container.command('start').description('Start containers'));
  stopCmd(container.command('stop').description('Stop containers'));
  stopCmd(container.command('restart').description('Restart containers'), true);
  killCmd(container.command('kill').description('Send a signal to containers'));
  rmCmd(container.command('rm').alias('remove').description('Remove containers'));
  psCmd(container.command('ls').alias('ps').alias('list').description('List containers'));
  logsCmd(container.command('logs').description("Show a container's logs"));
  execCmd(container.command('exec').description('Run a command in a running container'));
  attachCmd(container.command('attach').description("Attach to a running container's input and output"));
  inspectContainersCmd(container.command('inspect').description('Show the details of containers'), false);
  topCmd(container.command('top').description('Show the processes of a container'));
  statsCmd(container.command('stats').description('Show resource usage of containers'));
  waitCmd(container.command('wait').description('Wait for containers to stop'));
  pauseCmd(container.command('pause').description('Freeze containers'), true);
  pauseCmd(container.command('unpause').description('Thaw containers'), false);
  renameCmd(container.command('rename').description('Rename a container'));
  cpCmd(container.command('cp').description('Copy files between a container and the host'));
  exportCmd(container.command('export').description("Write a container's filesystem as a tar archive"));
  portCmd(container.command('port').description("List a container's published ports"));
  container
    .command('prune')
    .description('Remove all stopped containers')
    .option('-f, --force', 'do not prompt for confirmation')
    .action(async (o: { force?: boolean }) => {
      const { pruneContainers } = await import('../../engine/containers/remove');
      const { humanSize } = await import('../../engine/images/inspect');
      const { confirm, pruneCancelled } = await import('./common');
      if (!o.force && !(await confirm('This will remove all stopped containers.'))) return pruneCancelled('container');
      await withEngine(async (engine) => {
        const r = await pruneContainers(engine);
        if (r.ids.length) process.stdout.write('Deleted Containers:\n' + r.ids.map((i) => i + '\n').join('') + '\n');
        process.stdout.write(`Total reclaimed space: ${humanSize(r.bytes, 4)}\n`);
      });
    });
  // Run by the supervisor (not by hand): the exit command and the health check.
  container
    .command('_exited', { hidden: true })
    .argument('<id>')
    .action(async (id: string) => {
      const { handleExit } = await import('../../engine/containers/exit');
      await withEngine((engine) => handleExit(engine, id, Number(process.env.DOCK_EXITED_PID ?? 0)));
    });
  container
    .command('_health', { hidden: true })
    .argument('<id>')
    .action(async (id: string) => {
      const { runHealthCheck } = await import('../../engine/containers/health');
      await withEngine(async (engine) => {
        const doc = engine.containers.get(id);
        if (doc) await runHealthCheck(engine, doc);
      });
    });

}
