// The scenarios of the differential test: each a change to the `runc spec` config, files it needs,
// and a script of runtime calls ($ID, $BUNDLE, $SCRATCH are substituted). Default script: a
// foreground `run` whose process prints VIEW (status fields, id, cwd, ulimits, mounts, /dev).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Ctx, type Json, type Scenario, type Step, viewArgs } from './harness';

const run = (...flags: string[]): Step => ({ call: ['run', '-b', '$BUNDLE', ...flags, '$ID'] });
const runD: Step = { call: ['run', '-d', '-b', '$BUNDLE', '$ID'] };
const create = (...flags: string[]): Step => ({ call: ['create', '-b', '$BUNDLE', ...flags, '$ID'] });
const start: Step = { call: ['start', '$ID'] };
const state: Step = { call: ['state', '$ID'] };
const del: Step = { call: ['delete', '$ID'] };
// runc (urfave/cli) reads options only before the container id: flags go first.
const exec = (...args: string[]): Step => ({ call: ['exec', '$ID', ...args] });
const execWith = (flags: string[], ...args: string[]): Step => ({ call: ['exec', ...flags, '$ID', ...args] });
const kill = (...args: string[]): Step => ({ call: ['kill', '$ID', ...args] });
const wait = (s: 'running' | 'stopped' | 'created' | 'paused'): Step => ({ wait: s });
const sh = (script: string) => ['sh', '-c', script];
const sleeper = (c: Json) => (c.process.args = ['sleep', '30']);

const dropNs = (c: Json, type: string) => (c.linux.namespaces = c.linux.namespaces.filter((n: Json) => n.type !== type));
const addNs = (c: Json, type: string, path?: string) => {
  dropNs(c, type);
  c.linux.namespaces.push(path ? { type, path } : { type });
};
const caps = (c: Json, list: string[]) => {
  c.process.capabilities = { bounding: list, effective: list, permitted: list, ambient: list };
};

/**
 * What a hook reports (sh): its cwd, the variables that tell where its environment came from (the
 * caller's, the hook's own, the process's), how many it has, and its state on stdin with the pid
 * and the spec version (runc 1.1.5 writes 1.0.2-dev, skiff the 1.3.0 it implements) made neutral;
 * for poststart also the status (a listed difference: "created" under runc 1.1.5, "running" here).
 */
const hookReport = (kind: string) =>
  "pwd; env | grep -E '^(CALLER_ONLY|HOOK_ENV|FROM_PROCESS|HOME|PATH|TERM|PWD)=' | sort; echo \"variables: $(env | grep -vc '^_=')\"; " +
  `sed -E 's/"pid":[1-9][0-9]*/"pid":"PID"/; s/"ociVersion":"[^"]*"/"ociVersion":"V"/${kind === 'poststart' ? '; s/"status":"(created|running)"/"status":"STARTED"/' : ''}'; echo`;

/** An executable hook script in the scratch directory. */
function hookScript(ctx: Ctx, name: string, body: string): string {
  const p = join(ctx.scratch, name);
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

export const SCENARIOS: Scenario[] = [
  // ---- namespaces ----
  { name: 'runc spec config as is', area: 'namespaces' },
  { name: 'no network namespace', area: 'namespaces', config: (c) => dropNs(c, 'network') },
  { name: 'hostname in a uts namespace', area: 'namespaces', config: (c) => ((c.hostname = 'compat-host'), (c.process.args = sh('hostname; cat /proc/sys/kernel/domainname'))) },
  {
    name: 'domainname (runtime-spec 1.1)',
    area: 'namespaces',
    config: (c) => ((c.domainname = 'compat.dom'), (c.process.args = sh('cat /proc/sys/kernel/domainname'))),
    differs: { reason: 'runc 1.1.5 implements runtime-spec 1.0.2 and ignores domainname; skiff sets it (spec 1.1+)', ignore: (o) => ((o.steps[0] as { stdout: string }).stdout = '') },
  },
  { name: 'hostname without a uts namespace', area: 'namespaces', config: (c) => (dropNs(c, 'uts'), (c.hostname = 'nope'), (c.process.args = ['true'])) },
  {
    name: 'no mount namespace, no masked or read-only paths',
    area: 'namespaces',
    config: (c) => {
      dropNs(c, 'mount');
      delete c.linux.maskedPaths;
      delete c.linux.readonlyPaths;
      c.mounts = [{ destination: '/proc', type: 'proc', source: 'proc' }];
      c.process.args = sh('echo in; id -u');
    },
    differs: {
      reason: 'skiff refuses a config without a mount namespace: runc then makes its mounts (the rootfs bind, /proc) in the host\'s namespace and leaves them there after delete',
      ignore: (o) => ((o.steps = []), (o.leftovers = [])),
    },
  },
  { name: 'no mount namespace with masked paths', area: 'namespaces', config: (c) => (dropNs(c, 'mount'), (c.mounts = []), (c.process.args = ['true'])) },
  {
    name: 'new user namespace with mappings',
    area: 'namespaces',
    config: (c) => {
      addNs(c, 'user');
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.mounts = c.mounts.filter((m: Json) => !m.destination.startsWith('/sys')); // sysfs needs a network namespace of the user namespace
      c.process.args = viewArgs('cat /proc/self/uid_map /proc/self/gid_map');
    },
    differs: {
      reason: "the group of /dev/mqueue in a new user namespace: 65534 (unmapped) under runc, 0 under skiff; not investigated yet",
      ignore: (o) => o.steps.forEach((st) => ((st as { stdout: string }).stdout = (st as { stdout: string }).stdout.replace(/^(\/dev\/mqueue \S+ \d+) \d+/gm, '$1 G'))),
    },
  },
  {
    name: 'user namespace: bind source below a 0700 directory of root',
    area: 'namespaces',
    setup: (ctx) => {
      mkdirSync(join(ctx.scratch, 'priv', 'shared'), { recursive: true, mode: 0o755 });
      chmodSync(join(ctx.scratch, 'priv'), 0o700);
      writeFileSync(join(ctx.scratch, 'priv', 'shared', 'hello'), 'from the host\n');
    },
    config: (c, ctx) => {
      addNs(c, 'user');
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.mounts = c.mounts.filter((m: Json) => !m.destination.startsWith('/sys'));
      c.mounts.push({ destination: '/data', type: 'bind', source: join(ctx.scratch, 'priv', 'shared'), options: ['rbind', 'ro'] });
      c.process.args = sh('cat /data/hello');
    },
  },
  {
    // runc's exec only joins the container's session keyring; setting its permissions from a user
    // namespace (where exec's init is not the owner) failed under skiff.
    name: 'user namespace: exec and exec --user into it (session keyring), with sysfs and the cgroupfs mount',
    area: 'namespaces',
    config: (c) => {
      addNs(c, 'user');
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      sleeper(c);
    },
    steps: [runD, exec('sh', '-c', 'id; cat /proc/self/cgroup | sort; grep -c " /sys/fs/cgroup" /proc/self/mountinfo'), { call: ['exec', '--user', '1000', '$ID', 'id'] }, kill('KILL'), wait('stopped')],
  },
  { name: 'joins the host network namespace by path', area: 'namespaces', config: (c) => (addNs(c, 'network', '/proc/1/ns/net'), (c.process.args = sh('readlink /proc/self/ns/net'))) },
  { name: 'cgroup namespace', area: 'namespaces', config: (c) => (addNs(c, 'cgroup'), (c.process.args = sh('cat /proc/self/cgroup | sort'))) },
  { name: 'pid namespace: the process is pid 1', area: 'namespaces', config: (c) => (c.process.args = sh('echo $$; cat /proc/1/cmdline | tr "\\0" " "; echo')) },

  // ---- mounts ----
  { name: 'tmpfs with size and mode', area: 'mounts', config: (c) => c.mounts.push({ destination: '/mnt', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m', 'mode=700'] }) },
  {
    name: 'read-only bind mount of a host directory',
    area: 'mounts',
    setup: (ctx) => writeFileSync(join(ctx.scratch, 'hello'), 'hi\n'),
    config: (c, ctx) => {
      c.mounts.push({ destination: '/data', type: 'bind', source: ctx.scratch, options: ['rbind', 'ro'] });
      c.process.args = sh('cat /data/hello; touch /data/x 2>/dev/null; echo $?; grep " /data " /proc/self/mountinfo | cut -d" " -f6');
    },
  },
  { name: 'bind mount of a missing source', area: 'mounts', config: (c, ctx) => c.mounts.push({ destination: '/data', type: 'bind', source: join(ctx.scratch, 'missing'), options: ['rbind'] }) },
  { name: 'rootfsPropagation rslave', area: 'mounts', config: (c) => (c.linux.rootfsPropagation = 'rslave') },
  { name: 'rootfsPropagation rshared', area: 'mounts', config: (c) => (c.linux.rootfsPropagation = 'rshared') },
  { name: 'rootfsPropagation rprivate', area: 'mounts', config: (c) => (c.linux.rootfsPropagation = 'rprivate') },
  { name: 'rootfsPropagation runbindable', area: 'mounts', config: (c) => ((c.linux.rootfsPropagation = 'runbindable'), (c.process.args = ['true'])) },
  {
    name: 'rslave propagation option on a bind mount',
    area: 'mounts',
    config: (c, ctx) => {
      c.mounts.push({ destination: '/data', type: 'bind', source: ctx.scratch, options: ['rbind', 'rslave'] });
      c.process.args = sh('grep " /data " /proc/self/mountinfo | grep -o "master:[0-9]*" | sed "s/[0-9]*$/N/"');
    },
  },
  {
    name: 'read-only /dev mount',
    area: 'mounts',
    config: (c) => {
      const dev = c.mounts.find((m: Json) => m.destination === '/dev');
      dev.options = [...dev.options, 'ro'];
    },
  },
  { name: 'writable rootfs', area: 'mounts', config: (c) => ((c.root.readonly = false), (c.process.args = sh('touch /tmp/compat-w && echo ok; rm -f /tmp/compat-w'))) },
  { name: '--no-pivot', area: 'mounts', steps: [run('--no-pivot')] },
  {
    name: '--no-pivot: no bare /proc for a nested unshare',
    area: 'mounts',
    config: (c) => {
      caps(c, ['CAP_SYS_ADMIN', 'CAP_SETUID', 'CAP_SETGID']);
      c.process.args = sh('unshare -mrpf sh -c "mount -t proc proc /mnt" 2>/dev/null; echo status $?');
    },
    steps: [run('--no-pivot')],
  },
  { name: 'masked and read-only paths of runc spec', area: 'mounts', config: (c) => (c.process.args = sh('cat /proc/kcore 2>&1 | head -c 0; ls /proc/acpi | wc -l; echo x > /proc/sys/kernel/hostname 2>/dev/null; echo $?')) },

  // ---- devices ----
  { name: 'a device node in linux.devices', area: 'devices', config: (c) => (c.linux.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o640, uid: 0, gid: 0 }]) },
  {
    name: 'device cgroup: allow with access rwa',
    area: 'devices',
    config: (c) => {
      c.linux.resources.devices = [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwa' }];
      c.process.args = sh('echo x > /dev/null && echo null-ok; head -c 1 /dev/zero >/dev/null 2>&1; echo zero $?');
    },
  },
  { name: 'device cgroup: only deny all (defaults still allowed)', area: 'devices', config: (c) => ((c.linux.resources.devices = [{ allow: false, access: 'rwm' }]), (c.process.args = sh('head -c 1 /dev/urandom | wc -c; echo x > /dev/full; echo $?'))) },

  // ---- caps ----
  { name: 'no capabilities section', area: 'caps', config: (c) => delete c.process.capabilities },
  { name: 'inheritable and ambient together', area: 'caps', config: (c) => (c.process.capabilities.inheritable = ['CAP_KILL', 'CAP_NET_BIND_SERVICE']) },
  { name: 'unknown capability name', area: 'caps', config: (c) => ((c.process.capabilities.bounding = ['CAP_NOPE']), (c.process.args = ['true'])) },
  { name: 'non-root user keeps ambient capabilities', area: 'caps', config: (c) => ((c.process.user = { uid: 1000, gid: 1000 }), (c.process.capabilities.inheritable = ['CAP_NET_BIND_SERVICE'])) },

  // ---- seccomp ----
  {
    name: 'seccomp errno for mkdir',
    area: 'seccomp',
    config: (c) => {
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }] };
      c.process.args = sh('mkdir /tmp/x 2>&1; echo $?');
    },
  },
  {
    name: 'seccomp: two conditions on one argument are OR-ed',
    area: 'seccomp',
    config: (c) => {
      caps(c, ['CAP_SYS_ADMIN']);
      c.linux.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 0x40000000, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0x08000000, op: 'SCMP_CMP_EQ' }] }],
      };
      c.process.args = sh('unshare -n true 2>&1; echo net $?; unshare -i true 2>&1; echo ipc $?; unshare -u true; echo uts $?');
    },
  },
  { name: 'seccomp default errno with an allow list', area: 'seccomp', config: (c) => ((c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['write'], action: 'SCMP_ACT_ALLOW' }] }), (c.process.args = ['true'])) },
  { name: 'seccomp with an unknown syscall name', area: 'seccomp', config: (c) => (c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['no_such_syscall', 'getcwd'], action: 'SCMP_ACT_ERRNO' }] }) },

  // ---- rlimits ----
  { name: 'rlimits nofile and nproc', area: 'rlimits', config: (c) => (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }, { type: 'RLIMIT_NPROC', soft: 50, hard: 60 }]) },
  { name: 'rlimit with soft above hard', area: 'rlimits', config: (c) => ((c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 300, hard: 200 }]), (c.process.args = ['true'])) },

  // ---- users ----
  {
    name: 'user 1000 with a cwd of root (0700)',
    area: 'users',
    setup: (ctx) => mkdirSync(join(ctx.rootfs, 'private'), { mode: 0o700, recursive: true }),
    config: (c) => ((c.process.user = { uid: 1000, gid: 1000 }), (c.process.cwd = '/private'), (c.process.args = sh('pwd; id; ls . 2>/dev/null; echo ls $?'))),
  },
  {
    // runc sets HOME from the container's /etc/passwd when the process env has none ("/" for an unknown user).
    name: 'HOME from the container\'s passwd when the env has none (run, exec --user, unknown uid)',
    area: 'users',
    config: (c) => ((c.process.user = { uid: 1000, gid: 1000 }), (c.process.env = ['PATH=/usr/bin:/bin']), sleeper(c)),
    steps: [runD, exec('sh', '-c', 'echo "$HOME"; tr "\\0" "\\n" < /proc/1/environ | grep ^HOME='), execWith(['--user', '0'], 'sh', '-c', 'echo "$HOME"'), execWith(['--user', '4242'], 'sh', '-c', 'echo "$HOME"'), execWith(['--env', 'HOME=/given'], 'sh', '-c', 'echo "$HOME"'), kill('KILL'), wait('stopped')],
  },
  { name: 'additional gids and umask', area: 'users', config: (c) => ((c.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 20], umask: 0o27 }), (c.process.args = sh('id; umask'))) },
  { name: 'cwd that does not exist', area: 'users', config: (c) => ((c.process.cwd = '/no/such/dir'), (c.process.args = sh('pwd'))) },
  {
    name: 'exec --user 1000 with no access to the cwd',
    area: 'users',
    setup: (ctx) => mkdirSync(join(ctx.rootfs, 'private'), { mode: 0o700, recursive: true }),
    config: (c) => ((c.process.cwd = '/private'), sleeper(c)),
    steps: [runD, execWith(['--user', '1000:1000'], 'sh', '-c', 'pwd; id'), kill('KILL'), wait('stopped')],
  },

  // ---- terminals ----
  { name: 'terminal through a console socket', area: 'terminals', config: (c) => ((c.process.terminal = true), (c.process.args = sh('test -t 0 && echo tty; stat -c "%u %g %a" "$(tty)"; stty size'))), steps: [{ call: ['create', '-b', '$BUNDLE', '$ID'], console: true }, start, wait('stopped')] },
  { name: 'terminal owned by the process user', area: 'terminals', config: (c) => ((c.process.terminal = true), (c.process.user = { uid: 1000, gid: 1000 }), (c.process.args = sh('stat -c "%u %g" "$(tty)"'))), steps: [{ call: ['create', '-b', '$BUNDLE', '$ID'], console: true }, start, wait('stopped')] },
  { name: 'terminal with a console size', area: 'terminals', config: (c) => ((c.process.terminal = true), (c.process.consoleSize = { height: 33, width: 101 }), (c.process.args = sh('stty size'))), steps: [{ call: ['create', '-b', '$BUNDLE', '$ID'], console: true }, start, wait('stopped')] },
  { name: 'exec -t through a console socket', area: 'terminals', config: sleeper, steps: [runD, { call: ['exec', '-t', '-d', '$ID', 'sh', '-c', 'tty >/dev/null && echo exec-tty; touch /dev/shm/exec-done'], console: true }, execWith([], 'sh', '-c', 'i=0; until [ -e /dev/shm/exec-done ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done; ls /dev/shm/exec-done'), kill('KILL'), wait('stopped')] },
  {
    name: 'terminal in a foreground run without a terminal of its own',
    area: 'terminals',
    config: (c) => ((c.process.terminal = true), (c.process.args = ['true'])),
    differs: { reason: 'runc refuses a foreground terminal when its own stdin is no terminal; skiff makes the pty and relays it', ignore: (o) => (o.steps = []) },
  },
  { name: 'terminal in detached mode without a console socket', area: 'terminals', config: (c) => ((c.process.terminal = true), sleeper(c)), steps: [runD] },

  // ---- hooks ----
  {
    name: 'createContainer hook: working directory and environment',
    area: 'hooks',
    config: (c, ctx) => {
      c.hooks = { createContainer: [{ path: hookScript(ctx, 'cc.sh', `pwd > ${ctx.scratch}/cc.out; env | sort | grep -v '^_=' >> ${ctx.scratch}/cc.out`), env: ['HOOK=1'] }] };
      c.process.args = ['true'];
    },
    steps: [run(), { file: 'cc.out' }],
  },
  {
    name: 'hooks of every kind see the state',
    area: 'hooks',
    config: (c, ctx) => {
      const h = (kind: string) => ({ path: hookScript(ctx, `${kind}.sh`, `grep -o '"status":"[a-z]*"' >> ${ctx.scratch}/hooks.out; echo ${kind} >> ${ctx.scratch}/hooks.out`) });
      c.hooks = { prestart: [h('prestart')], createRuntime: [h('createRuntime')], createContainer: [h('createContainer')], poststop: [h('poststop')] };
      c.process.args = ['true'];
    },
    steps: [create(), start, wait('stopped'), del, { file: 'hooks.out' }],
  },
  {
    name: 'startContainer hook runs in the container',
    area: 'hooks',
    // Its stdout is not the container's (runc keeps hook output to itself): it writes to /dev/shm.
    setup: (ctx) => writeFileSync(join(ctx.rootfs, 'start-hook.sh'), '#!/bin/sh\nexec > /dev/shm/hook.out; grep -o \'"status":"[a-z]*"\'; pwd; hostname; echo to-stdout\n', { mode: 0o755 }),
    config: (c) => ((c.hooks = { startContainer: [{ path: '/start-hook.sh' }] }), (c.hostname = 'in-container'), (c.process.args = sh('cat /dev/shm/hook.out; echo process'))),
    steps: [create(), start, wait('stopped')],
  },
  {
    name: 'poststart hook sees the started container',
    area: 'hooks',
    differs: { reason: 'runc 1.1.5 passes status "created" to poststart hooks; skiff passes "running", as the runtime-spec says (the process has started)', ignore: (o) => ((o.steps[1] as { text: string }).text = '') },
    config: (c, ctx) => ((c.hooks = { poststart: [{ path: hookScript(ctx, 'ps.sh', `grep -o '"status":"[a-z]*"' > ${ctx.scratch}/ps.out`) }] }), sleeper(c)),
    steps: [runD, { file: 'ps.out' }, kill('KILL'), wait('stopped')],
  },
  // What each kind of hook gets: its working directory, its environment (none given in the hook:
  // runc's own environment for the hooks runc runs, the container's for those its init runs; given:
  // exactly that) and the state on stdin. The runtime is called from the scratch directory with a
  // variable of the caller's own, so that neither the bundle as cwd nor the caller's env is assumed.
  ...(['no env given', 'env given'] as const).map(
    (variant): Scenario => ({
      name: `every kind of hook: working directory, environment and state (${variant})`,
      area: 'hooks',
      setup: (ctx) =>
        writeFileSync(
          join(ctx.rootfs, `hook-audit-${ctx.id}.sh`),
          // startContainer runs in the container: it reports through /dev/shm, the process prints it.
          `#!/bin/sh\n{ echo "== $1"; ${hookReport('startContainer')}; } > /dev/shm/hook.out\n`,
          { mode: 0o755 },
        ),
      config: (c, ctx) => {
        const env = variant === 'env given' ? { env: ['HOOK_ENV=given', 'PATH=/usr/bin:/bin'] } : {};
        const outside = (kind: string) => ({
          path: hookScript(ctx, `${kind}.sh`, `{ echo "== ${kind}"; ${hookReport(kind)}; } >> ${ctx.scratch}/hooks.out`),
          ...env,
        });
        c.hooks = {
          prestart: [outside('prestart')],
          createRuntime: [outside('createRuntime')],
          createContainer: [outside('createContainer')],
          startContainer: [{ path: `/hook-audit-${ctx.id}.sh`, args: [`hook-audit-${ctx.id}.sh`, 'startContainer'], ...env }],
          poststart: [outside('poststart')],
          poststop: [outside('poststop')],
        };
        c.process.env = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm', 'FROM_PROCESS=1'];
        c.process.cwd = '/tmp';
        c.annotations = { 'org.example.audit': 'yes' };
        c.process.args = sh('cat /dev/shm/hook.out');
      },
      steps: [
        { call: ['create', '-b', '$BUNDLE', '$ID'], env: { CALLER_ONLY: 'from-the-caller' }, fromScratch: true },
        { call: ['start', '$ID'], env: { CALLER_ONLY: 'from-the-caller' }, fromScratch: true },
        wait('stopped'),
        { call: ['delete', '$ID'], env: { CALLER_ONLY: 'from-the-caller' }, fromScratch: true },
        { file: 'hooks.out' },
      ],
    }),
  ),
  { name: 'a failing prestart hook', area: 'hooks', config: (c, ctx) => ((c.hooks = { prestart: [{ path: hookScript(ctx, 'fail.sh', 'exit 3') }] }), (c.process.args = ['true'])) },

  // ---- update ----
  {
    name: 'update memory, pids and cpu',
    area: 'update',
    config: sleeper,
    steps: [runD, { call: ['update', '--memory', '67108864', '--pids-limit', '50', '--cpu-quota', '20000', '--cpu-period', '100000', '--cpu-share', '512', '$ID'] }, { cgroupFiles: ['memory/memory.limit_in_bytes', 'pids/pids.max', 'cpu/cpu.cfs_quota_us', 'cpu/cpu.cfs_period_us', 'cpu/cpu.shares'] }, kill('KILL'), wait('stopped')],
  },
  {
    name: 'update --resources with device rules spelled rwa',
    area: 'update',
    setup: (ctx) => writeFileSync(join(ctx.scratch, 'r.json'), JSON.stringify({ devices: [{ allow: true, type: 'c', major: 1, minor: 5, access: 'rwa' }], pids: { limit: 40 } })),
    config: sleeper,
    steps: [runD, { call: ['update', '-r', '$SCRATCH/r.json', '$ID'] }, { cgroupFiles: ['pids/pids.max'] }, kill('KILL'), wait('stopped')],
  },
  { name: 'update of a missing container', area: 'update', steps: [{ call: ['update', '--memory', '1m', '$ID'] }] },
  { name: 'unified resources on a v1 host', area: 'cgroups', config: (c) => ((c.linux.resources.unified = { 'memory.high': '100000000' }), (c.process.args = ['true'])) },

  // ---- pause ----
  { name: 'pause and resume', area: 'pause', config: sleeper, steps: [runD, { call: ['pause', '$ID'] }, state, { cgroupFiles: ['freezer/freezer.state'] }, { call: ['resume', '$ID'] }, state, kill('KILL'), wait('stopped')] },
  { name: 'exec into a paused container', area: 'pause', config: sleeper, steps: [runD, { call: ['pause', '$ID'] }, exec('true'), { call: ['resume', '$ID'] }, kill('KILL'), wait('stopped')] },
  { name: 'pause of a created container', area: 'pause', config: sleeper, steps: [create(), { call: ['pause', '$ID'] }, state] },

  // ---- exec ----
  { name: 'exec sees the container', area: 'exec', config: sleeper, steps: [runD, execWith(['--env', 'X=1', '--cwd', '/tmp'], 'sh', '-c', 'echo $X; pwd; readlink /proc/1/exe; id'), kill('KILL'), wait('stopped')] },
  { name: 'exec view (caps, limits, mounts)', area: 'exec', config: sleeper, steps: [runD, exec(...viewArgs()), kill('KILL'), wait('stopped')] },
  { name: 'exec --pid-file in a missing directory', area: 'exec', config: sleeper, steps: [runD, execWith(['--pid-file', '/non-existent/directory/pid'], 'true'), kill('KILL'), wait('stopped')] },
  { name: 'exec of a missing binary', area: 'exec', config: sleeper, steps: [runD, exec('no-such-binary'), kill('KILL'), wait('stopped')] },
  {
    name: 'exec --process file',
    area: 'exec',
    setup: (ctx) => writeFileSync(join(ctx.scratch, 'p.json'), JSON.stringify({ args: ['sh', '-c', 'id; echo $Y'], env: ['Y=2', 'PATH=/bin'], cwd: '/', user: { uid: 65534, gid: 65534 } })),
    config: sleeper,
    steps: [runD, execWith(['--process', '$SCRATCH/p.json']), kill('KILL'), wait('stopped')],
  },
  { name: 'exec joins every cgroup hierarchy (the unified one too)', area: 'cgroups', config: sleeper, steps: [runD, exec('sh', '-c', 'cat /proc/self/cgroup | sort'), kill('KILL'), wait('stopped')] },
  { name: 'exec into a stopped container', area: 'exec', config: (c) => (c.process.args = ['true']), steps: [runD, wait('stopped'), exec('true')] },

  // ---- kill ----
  { name: 'kill ID 0 while running, then after it stopped', area: 'kill', config: sleeper, steps: [runD, kill('0'), kill('KILL'), wait('stopped'), kill('0')] },
  { name: 'kill --all', area: 'kill', config: (c) => (c.process.args = sh('sleep 30 & sleep 30')), steps: [runD, { call: ['kill', '--all', '$ID', 'KILL'] }, wait('stopped')] },
  { name: 'kill with an unknown signal', area: 'kill', config: sleeper, steps: [runD, kill('SIGNOPE'), kill('9'), wait('stopped')] },
  { name: 'kill a created container', area: 'kill', config: sleeper, steps: [create(), kill('KILL'), wait('stopped'), state] },

  // ---- errors ----
  { name: 'missing config.json', area: 'errors', setup: () => undefined, config: () => undefined, steps: [{ call: ['run', '-b', '$SCRATCH', '$ID'] }] },
  { name: 'config.json that is not JSON', area: 'errors', setup: (ctx) => writeFileSync(join(ctx.scratch, 'config.json'), '{nope'), steps: [{ call: ['run', '-b', '$SCRATCH', '$ID'] }] },
  { name: 'rootfs that does not exist', area: 'errors', config: (c) => (c.root.path = '/no/such/rootfs') },
  { name: 'duplicate container id', area: 'errors', config: sleeper, steps: [create(), create(), state] },
  { name: 'start of a running container', area: 'errors', config: sleeper, steps: [create(), start, start, kill('KILL'), wait('stopped')] },
  { name: 'delete of a running container without force', area: 'errors', config: sleeper, steps: [runD, del, state] },
  { name: 'state of a missing container', area: 'errors', steps: [state] },
  { name: 'process args empty', area: 'errors', config: (c) => (c.process.args = []) },
  { name: 'bad mount destination (relative)', area: 'errors', config: (c) => c.mounts.push({ destination: 'relative', type: 'tmpfs', source: 'tmpfs' }) },

  // ---- lifecycle ----
  { name: 'create, start, state, delete', area: 'lifecycle', config: (c) => (c.process.args = sh('echo started')), steps: [create(), state, start, wait('stopped'), state, del, { call: ['list', '-q'] }] },
  { name: 'exit status of the container', area: 'lifecycle', config: (c) => (c.process.args = sh('exit 7')) },
  { name: 'killed by a signal in the foreground', area: 'lifecycle', config: (c) => (c.process.args = sh('kill -9 $$')) },
  { name: 'annotations in state', area: 'lifecycle', config: (c) => ((c.annotations = { 'org.example.key': 'value' }), sleeper(c)), steps: [create(), state] },
  { name: 'create --pid-file', area: 'lifecycle', config: sleeper, steps: [create('--pid-file', '$SCRATCH/pid'), { call: ['list', '-q'] }] },
  { name: 'ps --format json', area: 'lifecycle', config: (c) => (c.process.args = sh('sleep 30 & sleep 30')), stdout: 'presence', steps: [runD, { call: ['ps', '--format', 'json', '$ID'] }, kill('KILL'), wait('stopped')] },

  // ---- cli ----
  { name: 'unknown command', area: 'cli', steps: [{ call: ['foo'] }, { call: ['foo', '-h'] }] },
  {
    name: 'checkpoint and restore',
    area: 'cli',
    steps: [{ call: ['checkpoint', '$ID'] }, { call: ['restore', '$ID'] }],
    differs: { reason: 'CRIU fails on this kernel for every runtime: skiff has no such verbs and fails as runc does for an unknown one (status 3)', ignore: (o) => o.steps.forEach((s) => ((s as { status: number }).status = 0)) },
  },
  {
    name: 'missing argument',
    area: 'cli',
    steps: [{ call: ['state'] }, { call: ['kill'] }, { call: ['exec'] }],
    differs: { reason: 'runc also prints "Incorrect Usage." and the verb\'s help on stdout; skiff prints only the one error line', ignore: (o) => o.steps.forEach((s) => ((s as { stdout: string }).stdout = '')) },
  },
  {
    name: 'unknown option',
    area: 'cli',
    steps: [{ call: ['create', '--bogus', '$ID'] }],
    differs: { reason: 'runc also prints "Incorrect Usage." and the verb\'s help on stdout; skiff prints only the one error line', ignore: (o) => o.steps.forEach((s) => ((s as { stdout: string }).stdout = '')) },
  },
  { name: 'help and version', area: 'cli', stdout: 'presence', steps: [{ call: [] }, { call: ['--help'] }, { call: ['--version'] }, { call: ['state', '--help'] }] },
];
