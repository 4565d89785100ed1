// Seccomp on real containers: Docker's default profile (moby's, converted to OCI as Docker does it
// for its default capability list) keeps unshare, keyctl and add_key out while ordinary work goes
// on; SCMP_ACT_NOTIFY hands the listener fd to an agent at listenerPath.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSeccomp, defaultDockerProfile, dockerProfileToOci } from '../../src/runtime/seccomp';
import { Skiff, TEST_ROOTFS, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

const hasGcc = (() => {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Docker's default capabilities (moby oci/caps/defaults.go). */
const DOCKER_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

describe.skipIf(!isRoot || !hasGcc || process.arch !== 'x64')('seccomp in real containers', () => {
  const skiff = new Skiff();
  const bin = tmp('skiff-seccomp-bin-');
  const syscalls = join(bin, 'syscalls');
  const agent = join(bin, 'seccomp-agent');
  beforeAll(() => {
    const fixtures = join(__dirname, '../fixtures/security');
    execFileSync('gcc', ['-static', '-O2', '-Wall', '-o', syscalls, join(fixtures, 'syscalls.c')]);
    execFileSync('gcc', ['-O2', '-Wall', '-o', agent, join(fixtures, 'seccomp-agent.c')]);
  });
  afterAll(() => {
    skiff.cleanup();
    rmSync(bin, { recursive: true, force: true });
  });

  function dockerConfig(script: string) {
    const cfg = baseConfig(['sh', '-c', script]);
    cfg.process.capabilities = { bounding: DOCKER_CAPS, effective: DOCKER_CAPS, permitted: DOCKER_CAPS };
    cfg.process.noNewPrivileges = false; // Docker's default
    cfg.linux.seccomp = dockerProfileToOci(defaultDockerProfile(), { capabilities: DOCKER_CAPS });
    cfg.mounts.push({ destination: '/usr/local/bin/syscalls', type: 'bind', source: syscalls, options: ['bind', 'ro'] });
    // The loopback interface of the container's network namespace is brought up by a
    // createContainer hook (it runs in the container's namespaces before the capabilities are
    // dropped): Docker's capabilities have no CAP_NET_ADMIN, as with `docker run`, where the
    // engine configures the interfaces.
    cfg.hooks = { createContainer: [{ path: join(TEST_ROOTFS, 'bin/busybox'), args: ['ip', 'link', 'set', 'lo', 'up'] }] };
    return cfg;
  }

  it("Docker's default profile: unshare, keyctl and add_key fail, ordinary work and loopback http succeed", () => {
    const script = [
      'unshare -U true 2>/dev/null && echo unshare-allowed || echo unshare-refused',
      'syscalls keyctl add_key unshare-user',
      'mkdir -p /tmp/www && echo hello-over-http > /tmp/www/index.html',
      'httpd -p 127.0.0.1:8080 -h /tmp/www',
      'sleep 0.2',
      'wget -q -O - http://127.0.0.1:8080/index.html',
      'ls / > /dev/null && echo ls-ok',
      'cat /proc/self/status | grep -E "^(Seccomp|NoNewPrivs):" | tr -d "\\t "',
    ].join('; ');
    const r = skiff.run(['run', '-b', makeBundle(dockerConfig(script)), 'docker-profile']);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      'unshare-refused',
      'keyctl EPERM',
      'add_key EPERM',
      'unshare-user EPERM',
      'hello-over-http',
      'ls-ok',
      'NoNewPrivs:0',
      'Seccomp:2',
      '',
    ]);
    expect(r.status).toBe(0);
  });

  it('the same container without seccomp can make those calls (the test can fail)', () => {
    const cfg = dockerConfig('syscalls keyctl add_key');
    delete cfg.linux.seccomp;
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'no-profile']);
    expect(r.stdout).toBe('keyctl ok\nadd_key ok\n');
  });

  it('--debug prints the disassembled program', () => {
    const cfg = dockerConfig('true');
    const r = skiff.run(['--debug', 'run', '-b', makeBundle(cfg), 'debug-listing']);
    expect(r.status).toBe(0);
    const { program } = compileSeccomp(cfg.linux.seccomp);
    expect(r.stderr).toContain(`seccomp program (${program.length / 8} instructions):`);
    expect(r.stderr).toMatch(/0000: ld \[4\]/);
    expect(r.stderr).toMatch(/ret ERRNO\(1\)/);
  });

  /** Start the agent; resolves once it listens. `output()` is what it printed so far. */
  async function startAgent(connections: number) {
    const dir = tmp('skiff-agent-');
    const socket = join(dir, 'agent.sock');
    const stateFile = join(dir, 'states');
    const child = spawn(agent, [socket, stateFile, String(EXDEV), String(connections)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    for (let i = 0; i < 200 && !out.includes('listening\n'); i++) await new Promise((r) => setTimeout(r, 10));
    if (!out.includes('listening\n')) throw new Error(`seccomp agent did not start: ${err}`);
    return {
      socket,
      /** Wait for the agent to finish (every filter without users): its log and the states it got. */
      async finish(): Promise<{ log: string; states: any[] }> {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        const code = await exited;
        clearTimeout(timer);
        const states = existsSync(stateFile) ? readFileSync(stateFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
        rmSync(dir, { recursive: true, force: true });
        if (code !== 0) throw new Error(`seccomp agent exited ${code}: ${err}\n${out}`);
        return { log: out, states };
      },
    };
  }

  const EXDEV = 18;
  const notifyProfile = (socket: string) => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: socket,
    listenerMetadata: 'skiff-test-metadata',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
  });
  const mkdirScript = [
    'mkdir /tmp/deny-this; echo "deny: $?"',
    'mkdir /tmp/fake-ok-that && echo "fake: $?"; test -e /tmp/fake-ok-that && echo fake-exists || echo fake-missing',
    'mkdir /tmp/real && test -d /tmp/real && echo real-made',
  ].join('; ');

  for (const noNewPrivileges of [true, false]) {
    it(`SCMP_ACT_NOTIFY (noNewPrivileges ${noNewPrivileges}): the agent gets the listener fd and the state, and answers mkdir`, async () => {
      const a = await startAgent(1);
      const cfg = baseConfig(['sh', '-c', mkdirScript]);
      cfg.process.noNewPrivileges = noNewPrivileges;
      cfg.linux.seccomp = notifyProfile(a.socket);
      cfg.annotations = { 'org.example.test': 'notify' };
      const bundle = makeBundle(cfg);
      const r = skiff.run(['run', '-b', bundle, `notify-${noNewPrivileges}`]);
      const { log, states } = await a.finish();
      // The agent's errno reaches the container's mkdir; its fake success creates nothing.
      expect(r.stderr).toBe("mkdir: can't create directory '/tmp/deny-this': Invalid cross-device link\n");
      expect(r.stdout).toBe('deny: 1\nfake: 0\nfake-missing\nreal-made\n');
      expect(log).toContain('got state with 1 fd(s)\n');
      expect(log).toMatch(/mkdir(at)? \/tmp\/deny-this denied\n/);
      expect(log).toMatch(/mkdir(at)? \/tmp\/fake-ok-that faked\n/);
      expect(log).toMatch(/mkdir(at)? \/tmp\/real continue\n/);
      expect(states.length).toBe(1);
      const [state] = states;
      expect(state).toEqual({
        ociVersion: '1.3.0',
        fds: ['seccompFd'],
        pid: state.state.pid,
        metadata: 'skiff-test-metadata',
        state: { ociVersion: '1.3.0', id: `notify-${noNewPrivileges}`, status: 'creating', pid: state.pid, bundle, annotations: { 'org.example.test': 'notify' } },
      });
      expect(state.pid).toBeGreaterThan(1);
    });
  }

  it('SCMP_ACT_NOTIFY in exec: each exec sends its own listener fd with the running state', async () => {
    const a = await startAgent(2);
    const cfg = baseConfig(['sleep', '30']);
    cfg.linux.seccomp = notifyProfile(a.socket);
    const bundle = makeBundle(cfg);
    skiff.ok(['run', '-d', '-b', bundle, 'notify-exec']);
    const r = skiff.run(['exec', 'notify-exec', 'sh', '-c', 'mkdir /tmp/deny-exec 2>/dev/null; echo "exec deny: $?"']);
    skiff.ok(['delete', '--force', 'notify-exec']);
    const { log, states } = await a.finish();
    expect(r.stdout).toBe('exec deny: 1\n');
    expect(log).toMatch(/mkdir(at)? \/tmp\/deny-exec denied\n/);
    expect(states.map((s) => s.state.status)).toEqual(['creating', 'running']);
    expect(states[1].state.pid).toBe(states[0].pid);
    expect(states[1].pid).not.toBe(states[0].pid);
  });

  it('SCMP_ACT_NOTIFY with nobody at listenerPath: create fails, naming it, and leaves nothing', () => {
    const dir = tmp('skiff-agent-');
    const cfg = baseConfig(['true']);
    cfg.linux.seccomp = notifyProfile(join(dir, 'nobody.sock'));
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'notify-nobody']);
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`skiff: seccomp notify: send the listener fd to listenerPath: connect to ${join(dir, 'nobody.sock')}: No such file or directory\n`);
    expect(skiff.run(['state', 'notify-nobody']).status).toBe(1);
  });
});
