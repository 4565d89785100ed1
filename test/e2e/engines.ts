// Real engines driving skiff: Debian's podman (with conmon) and containerd (with its runc shim),
// each with private storage under a temp dir, on an image made from the busybox rootfs.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SKIFF, TEST_ROOTFS, type Result, run } from '../helpers';

/** Unmount everything below `dir` (deepest first), then remove it. */
export function removeTree(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && (p === dir || p.startsWith(dir + '/')))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}

export const IMAGE = 'localhost/skiff-busybox:test';

export class Podman {
  readonly dir = mkdtempSync(join(tmpdir(), 'skiff-podman-'));
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly runtime = SKIFF) {
    // No systemd here: cgroupfs; no CAP_SYS_RESOURCE here: podman's root default nofile of 1048576
    // cannot be set (see ../shared/reference/engine-contract.md); JSON error logs from skiff too.
    const conf = join(this.dir, 'containers.conf');
    writeFileSync(
      conf,
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]',
        'netns = "none"',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        // podman's own temporary state (exit codes from conmon) would otherwise be /run/libpod,
        // shared with every other podman on the machine.
        `tmp_dir = "${join(this.dir, 'tmp')}"`,
        'events_logger = "file"',
        `events_logfile_path = "${join(this.dir, 'events.log')}"`,
        'runtime_supports_json = ["crun", "runc", "skiff"]',
        '',
      ].join('\n'),
    );
    this.env = { ...process.env, CONTAINERS_CONF: conf };
    const tar = join(this.dir, 'rootfs.tar');
    execFileSync('tar', ['-C', TEST_ROOTFS, '-cf', tar, '.']);
    const r = this.podman(['import', tar, IMAGE]);
    if (r.status !== 0) throw new Error(`podman import: ${r.stderr}`);
  }

  podman(args: string[], opts: { timeout?: number; input?: string } = {}): Result {
    const global = ['--root', join(this.dir, 'storage'), '--runroot', join(this.dir, 'run'), '--storage-driver', 'vfs', '--runtime', this.runtime];
    return run('podman', [...global, ...args], { env: this.env, timeout: opts.timeout ?? 60_000, input: opts.input });
  }

  cleanup(): void {
    this.podman(['rm', '-af', '-t', '0']);
    this.podman(['rmi', '-af']);
    // podman keeps no --root of ours: whatever it left in skiff's default state belongs to this storage.
    const list = run(this.runtime, ['list', '--format', 'json']);
    for (const c of list.status === 0 ? (JSON.parse(list.stdout) as { id: string; bundle: string }[]) : []) {
      if (c.bundle.startsWith(this.dir + '/')) run(this.runtime, ['delete', '--force', c.id]);
    }
    removeTree(this.dir);
  }
}

export class Containerd {
  readonly dir = mkdtempSync(join(tmpdir(), 'skiff-containerd-'));
  private proc?: ChildProcess;
  readonly address: string;

  constructor() {
    this.address = join(this.dir, 'containerd.sock');
    const config = join(this.dir, 'config.toml');
    writeFileSync(
      config,
      [
        'version = 2',
        `root = "${join(this.dir, 'root')}"`,
        `state = "${join(this.dir, 'state')}"`,
        '[grpc]',
        `  address = "${this.address}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        '  disable_tcp_service = true',
        '',
      ].join('\n'),
    );
    this.proc = spawn('containerd', ['--config', config], { stdio: 'ignore' });
  }

  async ready(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (existsSync(this.address) && this.ctr(['version']).status === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('containerd did not start');
  }

  ctr(args: string[], opts: { timeout?: number; input?: string; detached?: boolean } = {}): Result {
    return run('ctr', ['--address', this.address, '-n', 'skifftest', ...args], { timeout: opts.timeout ?? 60_000, input: opts.input, detached: opts.detached });
  }

  /** Load the busybox image through a docker-archive made by podman. */
  importImage(podman: Podman): void {
    const archive = join(this.dir, 'image.tar');
    const s = podman.podman(['save', '-o', archive, IMAGE]);
    if (s.status !== 0) throw new Error(`podman save: ${s.stderr}`);
    const r = this.ctr(['images', 'import', archive]);
    if (r.status !== 0) throw new Error(`ctr images import: ${r.stderr}`);
  }

  async stop(): Promise<void> {
    for (const id of this.ctr(['tasks', 'ls', '-q']).stdout.split('\n').filter(Boolean)) this.ctr(['tasks', 'kill', '-s', 'KILL', id]);
    await new Promise((r) => setTimeout(r, 200));
    for (const id of this.ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
      this.ctr(['tasks', 'delete', '-f', id]);
      this.ctr(['containers', 'delete', id]);
    }
    if (this.proc?.pid && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await new Promise((r) => this.proc!.once('exit', r));
    }
    removeTree(this.dir);
    // The namespace's parent cgroup (/skifftest) that the runtime made for containerd's paths.
    for (const h of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(join('/sys/fs/cgroup', h, 'skifftest'));
      } catch {
        /* absent, or still used */
      }
    }
  }
}
