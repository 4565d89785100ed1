// exec into running containers, terminals (console socket, skiff's own terminal), and stdio.
import { spawn, spawnSync } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIFF, Skiff, baseConfig, isRoot, makeBundle, run, tmp } from '../helpers';

describe.skipIf(skipWhen(needRoot()))('exec', () => {
  const skiff = new Skiff();
  beforeAll(() => {
    const cfg = baseConfig(['sleep', '300']);
    cfg.hostname = 'exec-host';
    cfg.process.env.push('BASE=1');
    cfg.mounts.push({ destination: '/work', type: 'tmpfs', source: 'tmpfs', options: ['mode=777'] });
    skiff.ok(['run', '-d', '-b', makeBundle(cfg), 'ex']);
  });
  afterAll(() => skiff.cleanup());

  it('joins every namespace of the container and returns the command status', () => {
    const initNs = (n: string) => {
      const pid = JSON.parse(skiff.ok(['state', 'ex'])).pid;
      return require('node:fs').readlinkSync(`/proc/${pid}/ns/${n}`);
    };
    const r = skiff.run(['exec', 'ex', 'sh', '-c', 'hostname; for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done; exit 9']);
    expect(r.status).toBe(9);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('exec-host');
    expect(lines.slice(1)).toEqual(['pid', 'net', 'ipc', 'uts', 'mnt', 'cgroup'].map(initNs));
    // In the container's pid namespace: the init is pid 1 and visible.
    expect(skiff.ok(['exec', 'ex', 'cat', '/proc/1/cmdline']).replaceAll('\0', ' ').trim()).toBe('sleep 300');
  });

  it('takes env, cwd, user and groups from flags on top of the container process', () => {
    const out = skiff.ok(['exec', '-e', 'EXTRA=2', '--cwd', '/work', '-u', '1000:100', '--additional-gids', '65534', 'ex', 'sh', '-c', 'echo $BASE$EXTRA; pwd; id']);
    expect(out).toBe('12\n/work\nuid=1000(user) gid=100(users) groups=65534(nogroup)\n');
  });

  it('runs a whole process.json with --process', () => {
    const dir = tmp();
    const proc = { args: ['sh', '-c', 'echo "$P $(id -u)"; exit 4'], env: ['P=fromfile', 'PATH=/bin'], cwd: '/tmp', user: { uid: 65534, gid: 65534 } };
    writeFileSync(join(dir, 'process.json'), JSON.stringify(proc));
    const r = skiff.run(['exec', '--process', join(dir, 'process.json'), 'ex']);
    expect(r.stdout).toBe('fromfile 65534\n');
    expect(r.status).toBe(4);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ args: [] }));
    const bad = skiff.run(['exec', '--process', join(dir, 'bad.json'), 'ex']);
    expect(bad.status).toBe(255); // runc: every exec failure is 255
    expect(bad.stderr).toMatch(/^skiff: invalid process\.json: /);
  });

  it('adds capabilities with --cap and sets no_new_privs with --no-new-privs', () => {
    const out = skiff.ok(['exec', '--cap', 'CAP_NET_RAW', '--no-new-privs', 'ex', 'grep', '-E', '^(CapEff|NoNewPrivs)', '/proc/self/status']);
    const eff = BigInt('0x' + /CapEff:\s+(\w+)/.exec(out)![1]);
    expect(eff & (1n << 13n)).toBe(1n << 13n);
    expect(out).toMatch(/NoNewPrivs:\s+1/);
  });

  it('runs detached with a pid file, in the container cgroup', () => {
    const pidFile = join(tmp(), 'exec.pid');
    skiff.ok(['exec', '-d', '--pid-file', pidFile, 'ex', 'sleep', '5']);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('sleep');
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/${skiff.cgroup('ex')}\n`);
  });

  it('passes stdin through and fails clearly for a missing command', () => {
    expect(skiff.run(['exec', 'ex', 'cat'], { input: 'through\n' }).stdout).toBe('through\n');
    const r = skiff.run(['exec', 'ex', 'nope-not-here']);
    expect(r.status).toBe(255);
    expect(r.stderr).toBe('skiff: exec: "nope-not-here": executable file not found in $PATH\n');
  });

  it('refuses a paused or stopped container', () => {
    skiff.ok(['pause', 'ex']);
    expect(skiff.run(['exec', 'ex', 'true']).stderr).toBe('skiff: cannot exec in a paused container (use --ignore-paused to override)\n');
    skiff.ok(['resume', 'ex']);
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['true'])), 'gone']);
    for (let i = 0; i < 100 && JSON.parse(skiff.ok(['state', 'gone'])).status !== 'stopped'; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    expect(skiff.run(['exec', 'gone', 'true']).stderr).toBe('skiff: cannot exec in a stopped container\n');
    skiff.ok(['delete', 'gone']);
  });
});

/** A small console-socket server: receives the pty master and returns what the container wrote. */
function consoleServer(dir: string) {
  const path = join(dir, 'console.sock');
  // Node cannot receive fds over a unix socket: a tiny Python helper does it (python3 is on the machine).
  const py = `
import socket, array, os, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(${JSON.stringify(path)}); s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
fds = array.array("i")
msg, anc, _, _ = c.recvmsg(4096, socket.CMSG_LEN(4))
for level, kind, data in anc:
    fds.frombytes(data[:4])
print("name", msg.decode(), flush=True)
m = fds[0]
os.write(m, b"typed-in\\n")
out = b""
while True:
    try:
        d = os.read(m, 4096)
    except OSError:
        break
    if not d: break
    out += d
sys.stdout.write(out.decode(errors="replace")); sys.stdout.flush()
`;
  const p = spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  const ready = new Promise<void>((res) => p.stdout.on('data', () => out.includes('ready') && res()));
  return { path, ready, done: once(p, 'exit').then(() => out) };
}

describe.skipIf(skipWhen(needRoot()))('terminals', () => {
  const skiff = new Skiff();
  afterAll(() => skiff.cleanup());

  it('sends the pty master to --console-socket; the container has a terminal on stdio', async () => {
    const srv = consoleServer(tmp());
    await srv.ready;
    const cfg = baseConfig(['sh', '-c', 'read line; echo "got $line"; tty; stty size']);
    cfg.process.terminal = true;
    cfg.process.consoleSize = { height: 33, width: 101 };
    skiff.ok(['create', '--console-socket', srv.path, '-b', makeBundle(cfg), 'tty1']);
    skiff.ok(['start', 'tty1']);
    const out = await srv.done;
    expect(out).toMatch(/name \/dev\/pts\/0/);
    expect(out).toContain('got typed-in');
    expect(out).toContain('/dev/pts/0');
    expect(out).toContain('33 101');
    skiff.ok(['delete', '--force', 'tty1']);
  });

  it('exec -t with --console-socket', async () => {
    skiff.ok(['run', '-d', '-b', makeBundle(baseConfig(['sleep', '60'])), 'tty2']);
    const srv = consoleServer(tmp());
    await srv.ready;
    skiff.ok(['exec', '-t', '-d', '--console-socket', srv.path, 'tty2', 'sh', '-c', 'read l; echo "exec $l"; tty']);
    const out = await srv.done;
    expect(out).toContain('exec typed-in');
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    skiff.ok(['delete', '--force', 'tty2']);
  });

  it('foreground run with a terminal uses skiff\'s own terminal', () => {
    const cfg = baseConfig(['sh', '-c', 'tty; exit 3']);
    cfg.process.terminal = true;
    const bundle = makeBundle(cfg);
    const r = run('script', ['-qec', `${SKIFF} --root ${skiff.root} run -b ${bundle} tty3`, '/dev/null'], { input: '' });
    expect(r.stdout).toMatch(/\/dev\/pts\/0/);
    expect(r.status).toBe(3);
  });

  it('create refuses a terminal without a console socket, and leaves nothing', () => {
    const cfg = baseConfig(['sh']);
    cfg.process.terminal = true;
    const r = skiff.run(['create', '-b', makeBundle(cfg), 'tty4']);
    expect(r.stderr).toBe('skiff: cannot allocate a terminal without --console-socket\n');
    expect(skiff.run(['state', 'tty4']).status).toBe(1);
  });

  it('passes the caller\'s NOTIFY_SOCKET into the container (sd_notify readiness, as podman uses it)', async () => {
    const dir = tmp();
    const sock = join(dir, 'notify.sock');
    // A datagram listener (Node has no unix datagram sockets): python3 binds it and waits.
    const py = spawn('python3', ['-c', `import socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(${JSON.stringify(sock)}); print('ready', flush=True); time.sleep(20)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(py.stdout!, 'data');
    try {
      const cfg = baseConfig(['sh', '-c', 'echo $NOTIFY_SOCKET; stat -c "%F %i" $NOTIFY_SOCKET']);
      const r = run(SKIFF, ['--root', skiff.root, 'run', '-b', makeBundle(cfg), 'notify'], { env: { ...process.env, NOTIFY_SOCKET: sock } });
      expect(r.stderr).toBe('');
      // The very socket the caller listens on: the container's READY=1 reaches it directly.
      expect(r.stdout).toBe(`/run/notify/notify.sock\nsocket ${statSync(sock).ino}\n`);
    } finally {
      py.kill();
    }
  });

  it('socket activation: LISTEN_FDS=N passes fds 3..3+N-1 and tells the process LISTEN_FDS/LISTEN_PID', () => {
    const dir = tmp();
    const fds = [openSync(join(dir, 'a'), 'w+'), openSync(join(dir, 'b'), 'w+')];
    const cfg = baseConfig(['sh', '-c', 'echo "$LISTEN_FDS $LISTEN_PID"; readlink /proc/$$/fd/3; readlink /proc/$$/fd/4; ls /proc/$$/fd; true']);
    const r = spawnSync(SKIFF, ['--root', skiff.root, 'run', '-b', makeBundle(cfg), 'listen'], {
      stdio: ['ignore', 'pipe', 'pipe', fds[0], fds[1]],
      env: { ...process.env, LISTEN_FDS: '2' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    fds.forEach((f) => closeSync(f));
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual(['2 1', join(dir, 'a'), join(dir, 'b'), '0', '1', '2', '3', '4', '']);
  });
});
