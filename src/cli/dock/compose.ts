// dock compose (docker compose v2's command line): options and output only; the work is in
// src/engine/compose (loader, planner, runner) over the engine functions the other commands use.

import type { Command } from 'commander';
import { ComposeError, type ComposeErrorCode } from '../../engine/compose/errors';
import { clientOpts, collect, withEngine, type Engine } from './common';
import { columns } from './format';

type Loaded = import('../../engine/compose/loader').LoadedProject;
type Run = import('../../engine/compose/runner').ComposeRun;

interface ProjectOpts {
  file: string[];
  projectName?: string;
  projectDirectory?: string;
  envFile: string[];
  profile: string[];
}

function projectOpts(cmd: Command): ProjectOpts {
  let c: Command | null = cmd;
  while (c && c.name() !== 'compose') c = c.parent;
  return (c ?? cmd).opts<ProjectOpts>();
}

async function load(cmd: Command, services: string[] = []): Promise<Loaded> {
  const { loadProject } = await import('../../engine/compose/loader');
  const o = projectOpts(cmd);
  return loadProject({
    files: o.file,
    projectName: o.projectName,
    projectDirectory: o.projectDirectory,
    envFiles: o.envFile,
    profiles: o.profile,
    services,
    onWarning: (m) => process.stderr.write(`dock: warning: ${m}\n`),
  });
}

/**
 * Progress as docker compose shows it: on a terminal, one line per resource rewritten in place as
 * its state changes (Creating, Created, Starting, Started, Healthy); otherwise plain lines.
 */
function reporter(quiet = false): import('../../engine/compose/runner').Reporter {
  const err = process.stderr;
  const tty = !!err.isTTY && !process.env.NO_COLOR;
  const block = new Map<string, string>();
  let drawn = 0;
  const draw = () => {
    let text = drawn ? `\x1b[${drawn}A` : '';
    for (const [what, status] of block) text += `\x1b[2K ${what}  ${/ed$|Healthy|Running/.test(status) ? `\x1b[32m${status}\x1b[0m` : status}\n`;
    drawn = block.size;
    err.write(text);
  };
  // Anything else printed ends the block: the next event starts a new one below it.
  const other = (text: string) => {
    block.clear();
    drawn = 0;
    err.write(text);
  };
  return {
    event: (kind, name, status) => {
      if (quiet) return;
      if (!tty) return void err.write(` ${kind} ${name}  ${status}\n`);
      block.set(`${kind} ${name}`, status);
      draw();
    },
    warn: (m) => other(`dock: warning: ${m}\n`),
    line: (t) => {
      if (!quiet) other(`${t}\n`);
    },
  };
}

/** Loads the project and opens the engine for `fn`. */
async function withProject<T>(cmd: Command, services: string[], fn: (r: Run) => Promise<T>, quiet = false): Promise<T> {
  const loaded = await load(cmd, services);
  return withEngine((engine: Engine) => fn({ engine, loaded, out: reporter(quiet), registry: clientOpts() }));
}

function intOpt(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw composeError('EUSAGE', `invalid value "${v}" for ${flag}: an integer`);
  return Number(v);
}

function composeError(code: ComposeErrorCode, msg: string): Error {
  return new ComposeError(code, msg);
}

function parseScale(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) {
    const m = /^([a-zA-Z0-9._-]+)=(\d+)$/.exec(s);
    if (!m) throw composeError('EUSAGE', `invalid --scale "${s}": want SERVICE=NUMBER`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

export function register(program: Command): void {
  const compose = program
    .command('compose')
    .description('Run multi-container applications from Compose files')
    .option('-f, --file <file>', 'compose file (repeatable; later files override earlier ones)', collect, [])
    .option('-p, --project-name <name>', 'project name (default: name: in the file, or the directory name)')
    .option('--project-directory <dir>', 'project directory (default: the directory of the first file)')
    .option('--env-file <file>', 'environment file instead of the project directory\'s .env (repeatable)', collect, [])
    .option('--profile <name>', 'enable services of this profile (repeatable; env COMPOSE_PROFILES)', collect, []);

  compose
    .command('config')
    .description('Check the files and print the normalized model')
    .option('-q, --quiet', 'only check, print nothing')
    .option('--services', 'print the service names')
    .option('--volumes', 'print the volume names')
    .option('--networks', 'print the network names')
    .option('--profiles', 'print the profile names')
    .option('--format <format>', 'yaml or json', 'yaml')
    .action(async (o: { quiet?: boolean; services?: boolean; volumes?: boolean; networks?: boolean; profiles?: boolean; format: string }, cmd: Command) => {
      const { configText } = await import('../../engine/compose/config');
      const { project, source } = await load(cmd);
      if (o.quiet) return;
      if (o.services) return void process.stdout.write(Object.keys(project.services).map((s) => s + '\n').join(''));
      if (o.volumes) return void process.stdout.write(Object.keys(project.volumes).map((s) => s + '\n').join(''));
      if (o.networks) return void process.stdout.write(Object.keys(project.networks).map((s) => s + '\n').join(''));
      if (o.profiles) {
        const all = new Set([...Object.values(project.services), ...Object.values(source.disabled)].flatMap((s) => s.profiles ?? []));
        return void process.stdout.write([...all].sort().map((s) => s + '\n').join(''));
      }
      if (o.format !== 'yaml' && o.format !== 'json') throw composeError('EUSAGE', `invalid --format "${o.format}": yaml or json`);
      process.stdout.write(configText(project, o.format));
    });

  compose
    .command('up')
    .description('Create and start the services (recreating those whose configuration changed)')
    .argument('[service...]', 'services (default: all)')
    .option('-d, --detach', 'run in the background')
    .option('--build', 'build images before starting')
    .option('--no-build', 'do not build images, even missing ones')
    .option('--force-recreate', 'recreate containers even if nothing changed')
    .option('--no-recreate', 'keep existing containers even if their configuration changed')
    .option('--no-deps', 'do not start the services the named ones depend on')
    .option('--no-start', 'create, do not start')
    .option('--scale <service=n>', 'number of containers of a service (repeatable)', collect, [])
    .option('--wait', 'wait until the services are running and healthy (implies -d)')
    .option('--wait-timeout <seconds>', 'how long --wait waits', '300')
    .option('--remove-orphans', 'remove containers of services no longer in the files')
    .option('--abort-on-container-exit', 'stop every container when one exits (attached)')
    .option('--exit-code-from <service>', "exit with this service's exit code (implies --abort-on-container-exit)")
    .option('-t, --timeout <seconds>', 'stop timeout for containers that are recreated or removed')
    .option('--no-color', 'plain log prefixes')
    .option('--no-log-prefix', 'no log prefixes')
    .action(async (services: string[], o: { detach?: boolean; build?: boolean; forceRecreate?: boolean; recreate: boolean; deps: boolean; start: boolean; scale: string[]; wait?: boolean; waitTimeout: string; removeOrphans?: boolean; abortOnContainerExit?: boolean; exitCodeFrom?: string; timeout?: string; color: boolean; logPrefix: boolean }, cmd: Command) => {
      const runner = await import('../../engine/compose/runner');
      const explicitBuild = process.argv.includes('--build');
      if (o.forceRecreate && !o.recreate) throw composeError('EUSAGE', '--force-recreate and --no-recreate cannot be combined');
      if (o.detach && (o.abortOnContainerExit || o.exitCodeFrom)) throw composeError('EUSAGE', '--abort-on-container-exit and --exit-code-from cannot be combined with -d');
      const timeout = intOpt(o.timeout, '--timeout');
      await withProject(cmd, services, async (r) => {
        if (o.exitCodeFrom) runner.checkServices(r.loaded.project, [o.exitCodeFrom]);
        const started = await runner.up(r, {
          services,
          build: explicitBuild,
          noBuild: o.build === false, // commander leaves build undefined when neither --build nor --no-build is given
          forceRecreate: o.forceRecreate,
          noRecreate: !o.recreate,
          noDeps: !o.deps,
          noStart: !o.start,
          scale: parseScale(o.scale),
          removeOrphans: o.removeOrphans,
          timeout,
        });
        if (o.wait) await runner.waitRunning(r, started, (intOpt(o.waitTimeout, '--wait-timeout') ?? 300) * 1000);
        if (o.detach || o.wait || !o.start) return;
        await attached(r, started, { abort: !!(o.abortOnContainerExit || o.exitCodeFrom), exitCodeFrom: o.exitCodeFrom, colour: o.color && !!process.stdout.isTTY, noPrefix: !o.logPrefix, timeout });
      });
    });

  compose
    .command('down')
    .description('Stop and remove the containers and networks of the project (and its volumes with -v)')
    .option('-v, --volumes', 'also remove the named volumes of the project and anonymous ones')
    .option('--rmi <which>', 'remove images: local (those built without an image name) or all')
    .option('--remove-orphans', 'remove containers of services no longer in the files')
    .option('-t, --timeout <seconds>', 'stop timeout')
    .action(async (o: { volumes?: boolean; rmi?: string; removeOrphans?: boolean; timeout?: string }, cmd: Command) => {
      const { down } = await import('../../engine/compose/runner');
      if (o.rmi !== undefined && o.rmi !== 'local' && o.rmi !== 'all') throw composeError('EUSAGE', `invalid --rmi "${o.rmi}": local or all`);
      await withProject(cmd, [], (r) => down(r, { volumes: o.volumes, rmi: o.rmi as 'local' | 'all' | undefined, removeOrphans: o.removeOrphans, timeout: intOpt(o.timeout, '--timeout') }));
    });

  compose
    .command('ps')
    .description('List the containers of the project')
    .argument('[service...]', 'services')
    .option('-a, --all', 'also stopped containers')
    .option('-q, --quiet', 'only ids')
    .option('--services', 'only service names')
    .option('--format <format>', 'table, json, or a template such as {{.Name}} {{.Health}}')
    .option('--status <status>', 'only containers in this state (running, exited, ...)')
    .action(async (services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; format?: string; status?: string }, cmd: Command) => {
      const { containersOf } = await import('../../engine/compose/runner');
      const { composePsRows } = await import('../../engine/compose/status');
      const { renderFormat } = await import('./format');
      await withProject(cmd, services, async (r) => {
        let rows = composePsRows(r.engine, containersOf(r, services));
        if (!o.all) rows = rows.filter((x) => x.State === 'running' || x.State === 'paused' || x.State === 'restarting');
        if (o.status) rows = rows.filter((x) => x.State === o.status);
        if (o.quiet) return void process.stdout.write(rows.map((x) => x.ID + '\n').join(''));
        if (o.services) return void process.stdout.write([...new Set(rows.map((x) => x.Service))].map((s) => s + '\n').join(''));
        if (o.format === 'json') return void process.stdout.write(rows.map((x) => JSON.stringify(x) + '\n').join(''));
        const format = !o.format || o.format === 'table' ? 'table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}' : o.format;
        process.stdout.write(renderFormat(format, rows, { Name: 'NAME', Image: 'IMAGE', Command: 'COMMAND', Service: 'SERVICE', RunningFor: 'CREATED', Status: 'STATUS', Ports: 'PORTS', Health: 'HEALTH', State: 'STATE' }) || (format.startsWith('table') ? renderFormat(format, [{}], {}).split('\n')[0] + '\n' : ''));
      });
    });

  compose
    .command('logs')
    .description('Show the logs of the services, each line prefixed with its container')
    .argument('[service...]', 'services')
    .option('-f, --follow', 'follow the output')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'lines from the end of each log ("all")', 'all')
    .option('--since <time>', 'from this time')
    .option('--until <time>', 'up to this time')
    .option('--no-color', 'no colours')
    .option('--no-log-prefix', 'no prefixes')
    .action(async (services: string[], o: { follow?: boolean; timestamps?: boolean; tail: string; since?: string; until?: string; color: boolean; logPrefix: boolean }, cmd: Command) => {
      const { containersOf } = await import('../../engine/compose/runner');
      const { streamProjectLogs } = await import('../../engine/compose/logs');
      await withProject(cmd, services, async (r) => {
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await streamProjectLogs(r.engine, containersOf(r, services, { oneoff: 'any' }), { follow: o.follow, timestamps: o.timestamps, tail: o.tail, since: o.since, until: o.until, colour: o.color && !!process.stdout.isTTY, noPrefix: !o.logPrefix, signal: ac.signal });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      });
    });

  compose
    .command('exec')
    .description('Run a command in a running container of a service')
    .argument('<service>', 'service')
    .argument('<command...>', 'command and arguments')
    .option('-T, --no-tty', 'no pseudo-terminal (the default when standard input is not a terminal)')
    .option('-d, --detach', 'run in the background')
    .option('-u, --user <user>', 'user name or uid')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--index <n>', 'which container of the service', '1')
    .option('--privileged', 'all capabilities for this process')
    .passThroughOptions()
    .action(async (service: string, command: string[], o: { tty: boolean; detach?: boolean; user?: string; workdir?: string; env: string[]; index: string; privileged?: boolean }, cmd: Command) => {
      const { serviceContainer } = await import('../../engine/compose/runner');
      const { execInContainer } = await import('../../engine/containers/exec');
      await withProject(cmd, [service], async (r) => {
        const doc = serviceContainer(r, service, intOpt(o.index, '--index'));
        const tty = o.tty && !!process.stdin.isTTY && !o.detach;
        process.exitCode = await execInContainer(r.engine, doc, command, { tty, interactive: tty, detach: o.detach, user: o.user, workdir: o.workdir, env: o.env, privileged: o.privileged });
      });
    });

  compose
    .command('run')
    .description('Run a one-off command in a new container of a service')
    .argument('<service>', 'service')
    .argument('[command...]', 'command and arguments (default: the service\'s)')
    .option('-d, --detach', 'run in the background and print the container name')
    .option('--rm', 'remove the container when it exits')
    .option('-e, --env <KEY=VALUE>', 'environment variable (repeatable)', collect, [])
    .option('--name <name>', 'container name')
    .option('--entrypoint <cmd>', 'override the entrypoint')
    .option('-u, --user <user>', 'user name or uid')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-T, --no-tty', 'no pseudo-terminal')
    .option('-i, --interactive', 'keep standard input open (default on a terminal)')
    .option('--no-deps', 'do not start the services it depends on')
    .option('--service-ports', "publish the service's ports")
    .passThroughOptions()
    .action(async (service: string, command: string[], o: { detach?: boolean; rm?: boolean; env: string[]; name?: string; entrypoint?: string; user?: string; workdir?: string; tty: boolean; interactive?: boolean; deps: boolean; servicePorts?: boolean }, cmd: Command) => {
      const { createRun } = await import('../../engine/compose/runner');
      const { startContainer } = await import('../../engine/containers/start');
      await withProject(cmd, [service], async (r) => {
        const term = !!process.stdin.isTTY;
        const doc = await createRun(r, service, {
          command,
          env: o.env,
          noDeps: !o.deps,
          rm: o.rm,
          name: o.name,
          user: o.user,
          workdir: o.workdir,
          entrypoint: o.entrypoint !== undefined ? [o.entrypoint] : undefined,
          tty: o.tty && term && !o.detach,
          interactive: (o.interactive ?? term) && !o.detach,
          publish: o.servicePorts,
        });
        if (o.detach) {
          await startContainer(r.engine, doc);
          process.stdout.write(`${doc.Name}\n`);
          return;
        }
        const { runForeground } = await import('./containers');
        try {
          process.exitCode = await runForeground(r.engine, doc, { stdin: doc.Config.OpenStdin });
        } catch (e) {
          if (o.rm) await (await import('../../engine/containers/remove')).removeContainer(r.engine, doc, { force: true, volumes: true }).catch(() => undefined);
          throw e;
        }
      }, true);
    });

  for (const [name, desc] of [
    ['start', 'Start the existing containers of services'],
    ['stop', 'Stop the containers of services (dependents first)'],
    ['restart', 'Restart the containers of services'],
  ] as const) {
    const c = compose.command(name).description(desc).argument('[service...]', 'services (default: all)');
    if (name !== 'start') c.option('-t, --timeout <seconds>', 'stop timeout');
    c.action(async (services: string[], o: { timeout?: string }, cmd: Command) => {
      const runner = await import('../../engine/compose/runner');
      await withProject(cmd, services, (r) => (name === 'start' ? runner.start(r, services) : name === 'stop' ? runner.stop(r, services, intOpt(o.timeout, '--timeout')) : runner.restart(r, services, intOpt(o.timeout, '--timeout'))));
    });
  }

  compose
    .command('kill')
    .description('Send a signal to the containers of services')
    .argument('[service...]', 'services')
    .option('-s, --signal <signal>', 'signal', 'SIGKILL')
    .action(async (services: string[], o: { signal: string }, cmd: Command) => {
      const { kill } = await import('../../engine/compose/runner');
      await withProject(cmd, services, async (r) => kill(r, services, o.signal));
    });

  for (const [name, on] of [['pause', true], ['unpause', false]] as const) {
    compose
      .command(name)
      .description(on ? 'Freeze the containers of services' : 'Thaw the containers of services')
      .argument('[service...]', 'services')
      .action(async (services: string[], _o: unknown, cmd: Command) => {
        const { pause } = await import('../../engine/compose/runner');
        await withProject(cmd, services, async (r) => pause(r, services, on));
      });
  }

  compose
    .command('rm')
    .description('Remove the stopped containers of services')
    .argument('[service...]', 'services')
    .option('-f, --force', 'do not ask (dock never asks)')
    .option('-s, --stop', 'stop the containers first')
    .option('-v, --volumes', 'remove their anonymous volumes')
    .action(async (services: string[], o: { stop?: boolean; volumes?: boolean }, cmd: Command) => {
      const { rm } = await import('../../engine/compose/runner');
      await withProject(cmd, services, async (r) => {
        const removed = await rm(r, services, o);
        if (!removed.length) process.stderr.write('No stopped containers\n');
      });
    });

  compose
    .command('top')
    .description('Show the processes of the containers of services')
    .argument('[service...]', 'services')
    .action(async (services: string[], _o: unknown, cmd: Command) => {
      const { containersOf } = await import('../../engine/compose/runner');
      const { topContainer } = await import('../../engine/containers/top');
      const { liveState } = await import('../../engine/containers/status');
      await withProject(cmd, services, async (r) => {
        for (const d of containersOf(r, services)) {
          if (liveState(r.engine, d).status !== 'running') continue;
          process.stdout.write(`${d.Name}\n${columns(topContainer(r.engine, d, []))}\n\n`);
        }
      });
    });

  compose
    .command('images')
    .description('List the images the containers of the project use')
    .argument('[service...]', 'services')
    .option('-q, --quiet', 'only ids')
    .action(async (services: string[], o: { quiet?: boolean }, cmd: Command) => {
      const { containersOf } = await import('../../engine/compose/runner');
      const { imageRows } = await import('../../engine/images/inspect');
      await withProject(cmd, services, async (r) => {
        const rows = imageRows(r.engine.images);
        const out = containersOf(r, services).map((d) => {
          const img = rows.find((x) => x.ID === d.ImageId);
          return [d.Name, img?.Repository ?? '<none>', img?.Tag ?? '<none>', d.ImageId.slice(7, 19), img?.Size ?? ''];
        });
        if (o.quiet) return void process.stdout.write([...new Set(out.map((x) => x[3]))].map((x) => x + '\n').join(''));
        process.stdout.write(columns([['CONTAINER', 'REPOSITORY', 'TAG', 'IMAGE ID', 'SIZE'], ...out.map((x) => x.map(String))]) + '\n');
      });
    });

  compose
    .command('port')
    .description('Print the host address of a published port of a service')
    .argument('<service>', 'service')
    .argument('<port>', 'PORT[/PROTO] in the container')
    .option('--protocol <proto>', 'tcp or udp', 'tcp')
    .option('--index <n>', 'which container of the service', '1')
    .action(async (service: string, port: string, o: { protocol: string; index: string }, cmd: Command) => {
      const { serviceContainer } = await import('../../engine/compose/runner');
      const { networkRecords } = await import('../../engine/containers/network');
      await withProject(cmd, [service], async (r) => {
        const doc = serviceContainer(r, service, intOpt(o.index, '--index'));
        const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(port);
        if (!m) throw composeError('EUSAGE', `invalid port "${port}": PORT[/tcp|udp]`);
        const proto = m[2] ?? o.protocol;
        const b = networkRecords(r.engine).portsOf(doc.Id).find((x) => x.containerPort === Number(m[1]) && x.proto === proto);
        if (!b) throw composeError('ENOTFOUND', `no port ${m[1]}/${proto} published for service ${service}`);
        process.stdout.write(`${b.hostIp}:${b.hostPort}\n`);
      });
    });

  for (const [name, desc] of [
    ['build', 'Build the images of services that have a build section'],
    ['pull', 'Pull the images of services'],
    ['push', 'Push the images of services'],
  ] as const) {
    const c = compose.command(name).description(desc).argument('[service...]', 'services (default: all)');
    if (name === 'pull') c.option('--ignore-pull-failures', 'go on when an image cannot be pulled');
    if (name === 'push') c.option('--ignore-push-failures', 'go on when an image cannot be pushed');
    c.action(async (services: string[], o: { ignorePullFailures?: boolean; ignorePushFailures?: boolean }, cmd: Command) => {
      const runner = await import('../../engine/compose/runner');
      await withProject(cmd, services, async (r) => {
        runner.checkServices(r.loaded.project, services);
        const names = services.length ? services : Object.keys(r.loaded.project.services);
        for (const s of names) {
          const svc = r.loaded.project.services[s];
          if (name === 'build') {
            if (svc.build) await runner.buildService(r, s);
          } else if (name === 'pull') {
            if (svc.image && !(svc.build && svc.pull_policy === 'build')) await runner.pullService(r, s, { ignoreFailures: o.ignorePullFailures });
          } else if (svc.image) {
            const { pushImage } = await import('../../engine/images/push');
            r.out.event('Image', svc.image, 'Pushing');
            try {
              await pushImage(r.engine.images, svc.image, { ...r.registry });
              r.out.event('Image', svc.image, 'Pushed');
            } catch (e) {
              if (!o.ignorePushFailures) throw e;
              r.out.warn(`pushing ${svc.image} failed: ${(e as Error).message}`);
            }
          }
        }
      });
    });
  }

  compose
    .command('ls')
    .description('List the compose projects that have containers')
    .option('-a, --all', 'also projects whose containers are all stopped')
    .option('-q, --quiet', 'only names')
    .option('--format <format>', 'table or json', 'table')
    .action(async (o: { all?: boolean; quiet?: boolean; format: string }) => {
      const { projectList } = await import('../../engine/compose/status');
      await withEngine(async (engine) => {
        const rows = projectList(engine).filter((p) => o.all || p.running > 0);
        if (o.quiet) return void process.stdout.write(rows.map((p) => p.Name + '\n').join(''));
        if (o.format === 'json') return void process.stdout.write(JSON.stringify(rows.map(({ Name, Status, ConfigFiles }) => ({ Name, Status, ConfigFiles }))) + '\n');
        process.stdout.write(columns([['NAME', 'STATUS', 'CONFIG FILES'], ...rows.map((p) => [p.Name, p.Status, p.ConfigFiles])]) + '\n');
      });
    });
}

/** `up` without -d: the logs of the started containers until they all stop, or ^C stops them. */
async function attached(r: Run, services: string[], o: { abort: boolean; exitCodeFrom?: string; colour: boolean; noPrefix: boolean; timeout?: number }): Promise<void> {
  const runner = await import('../../engine/compose/runner');
  const { streamProjectLogs } = await import('../../engine/compose/logs');
  const { liveState } = await import('../../engine/containers/status');
  const docs = runner.containersOf(r, services);
  const ac = new AbortController();
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('Gracefully stopping... (press Ctrl+C again to force)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const logs = streamProjectLogs(r.engine, docs, { follow: true, colour: o.colour, noPrefix: o.noPrefix, signal: ac.signal });
    if (o.abort) {
      const first = await runner.waitAnyExit(r, docs, ac.signal);
      if (first) process.stderr.write(`${first.Name} exited with code ${liveState(r.engine, r.engine.containers.get(first.Id) ?? first).exitCode}\n`);
      ac.abort();
    }
    await logs;
    if (ac.signal.aborted) {
      process.stderr.write('Aborting on container exit...\n');
      await runner.stop(r, services, o.timeout);
    }
    if (o.exitCodeFrom) {
      // As `dock wait` reads it: the state says 255 ("unknown") between the init's end and the
      // supervisor's record of it, a window a busy machine makes long.
      const d = runner.serviceContainer(r, o.exitCodeFrom);
      const { waitCondition } = await import('../../engine/containers/wait');
      process.exitCode = (await waitCondition(r.engine, r.engine.containers.get(d.Id) ?? d, 'not-running')) ?? liveState(r.engine, r.engine.containers.get(d.Id) ?? d).exitCode;
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
