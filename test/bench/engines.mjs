// Engines driving each runtime, one run, interleaved (runc, skiff, crun, runc, ...) on the same
// image and storage: `podman run --rm IMG true` with runc, crun and skiff; `ctr run --rm` on a
// private containerd, and `docker run --rm` on a private dockerd (in a network namespace of its own)
// with each runtime; then dock beside podman (dock-run.mjs).
// Prints means and medians and the ratios of the means to runc's. A benchmark, never a test.
// Usage: sudo node test/bench/engines.mjs [iterations]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const N = Number(process.argv[2] ?? 10);
const rootfs = join(root, 'test/.rootfs');
if (!existsSync(join(rootfs, 'bin/busybox'))) spawnSync('sh', [join(root, 'scripts/make-rootfs.sh'), rootfs], { stdio: 'inherit' });
// podman, crun, containerd come from scripts/test-setup.sh; the bench installs nothing.
if (!existsSync('/usr/bin/podman')) {
  console.error('engines.mjs: podman is missing: run scripts/test-setup.sh (as root) first');
  process.exit(1);
}

const which = (cmd) => ['/usr/sbin', '/usr/bin', '/usr/local/bin', '/sbin', '/bin'].map((d) => join(d, cmd)).find(existsSync);
const runtimes = [
  ['runc', which('runc')],
  ['skiff', join(root, 'bin/skiff')],
  ['crun', which('crun')],
].filter(([, bin]) => bin);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, r };
}

/** Time `run(bin)` for each runtime, interleaved; a runtime whose first run fails is reported. */
function compare(title, run) {
  const times = {};
  const errors = {};
  for (const [name, bin] of runtimes) {
    const probe = run(bin);
    if (probe.status !== 0) errors[name] = (probe.stderr || '').trim().split('\n').pop();
    else times[name] = [];
  }
  for (let i = 0; i < N; i++) {
    for (const [name, bin] of runtimes) {
      if (!times[name]) continue;
      const { ms, r } = time(() => run(bin));
      if (r.status !== 0) throw new Error(`${title} with ${name}: ${r.stderr}`);
      times[name].push(ms);
    }
  }
  console.log(`${title}: ${N} interleaved runs each; mean ms (median ms), ratio of means to runc`);
  for (const [name, xs] of Object.entries(times)) {
    const ratio = times.runc ? `${(mean(xs) / mean(times.runc)).toFixed(2)}×` : 'n/a';
    console.log(`  ${name.padEnd(6)} ${mean(xs).toFixed(1).padStart(8)} (${median(xs).toFixed(1)})   ${ratio}`);
  }
  for (const [name, why] of Object.entries(errors)) console.log(`  ${name.padEnd(6)} cannot run here: ${why}`);
}

// skiff's warm server, started here as a host's init would: the engines' calls come from a child
// subreaper (conmon, containerd's shim), under which skiff-front does not start one itself.
const serverLocks = () => (existsSync('/run/skiff-server') ? readdirSync('/run/skiff-server').filter((f) => f.endsWith('.lock')) : []);
const serverPid = (f) => Number(readFileSync(join('/run/skiff-server', f), 'utf8').trim());
const serversBefore = new Set(serverLocks().map(serverPid));
spawnSync(join(root, 'bin/skiff'), ['--root', '/nonexistent/skiff-bench-warm-up', 'exec', 'warm-up', 'true'], { env: { ...process.env, SKIFF_SERVER: '1' } });
process.on('exit', () => {
  for (const pid of serverLocks().map(serverPid)) if (!serversBefore.has(pid)) spawnSync('kill', [String(pid)]); // the one started here
});

// podman: private storage, no network, cgroupfs (no systemd here), small rlimits (no CAP_SYS_RESOURCE).
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-engines-'));
const conf = join(dir, 'containers.conf');
writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\nnetns = "none"\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "${join(dir, 'events.log')}"\ntmp_dir = "${join(dir, 'tmp')}"\n`);
const env = { ...process.env, CONTAINERS_CONF: conf };
const podman = (args) => spawnSync('podman', ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'vfs', ...args], { env, encoding: 'utf8' });
try {
  execFileSync('tar', ['-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  podman(['import', join(dir, 'rootfs.tar'), 'localhost/bench:latest']);
  compare('podman run --rm IMG true', (bin) => podman(['--runtime', bin, 'run', '--rm', 'localhost/bench:latest', 'true']));
  podman(['save', '-o', join(dir, 'image.tar'), 'localhost/bench:latest']); // a docker-archive ctr imports
  podman(['rmi', '-af']);

  // containerd: a private one (its own root, state and socket), stopped at the end.
  const daemons = [];
  // The cgroup parents the engines make for their containers (containerd: /<namespace>, dockerd:
  // /docker) and leave behind, with runc as with skiff: removed at the end if this run made them.
  const cgroupParents = () =>
    readdirSync('/sys/fs/cgroup').flatMap((h) => ['skiff-bench', 'docker'].map((n) => join('/sys/fs/cgroup', h, n))).filter((d) => existsSync(d));
  const parentsBefore = new Set(cgroupParents());
  const until = (cond, what) => {
    for (let i = 0; i < 600; i++) {
      if (cond()) return;
      spawnSync('sleep', ['0.05']);
    }
    throw new Error(`${what} did not start`);
  };
  try {
    if (which('containerd') && which('ctr')) {
      const cd = join(dir, 'containerd');
      const address = join(cd, 'containerd.sock');
      mkdirSync(cd);
      writeFileSync(join(cd, 'config.toml'), `version = 2\nroot = "${join(cd, 'root')}"\nstate = "${join(cd, 'state')}"\n[grpc]\n  address = "${address}"\n`);
      daemons.push(spawn('containerd', ['--config', join(cd, 'config.toml')], { stdio: 'ignore' }));
      const c = (args) => spawnSync('ctr', ['--address', address, '-n', 'skiff-bench', ...args], { encoding: 'utf8' });
      until(() => c(['version']).status === 0, 'containerd');
      c(['image', 'import', join(dir, 'image.tar')]);
      let k = 0;
      compare('ctr run --rm IMG true', (bin) => c(['run', '--rm', '--runc-binary', bin, 'localhost/bench:latest', `bench-${process.pid}-${k++}`, 'true']));

      // dockerd (Debian's docker.io) on that containerd, in a network namespace of its own with no
      // bridge, no firewall and no forwarding: it makes nothing in the machine's network. Its
      // containers run with --network none; the runtimes are called by containerd's shim.
      const docker = which('docker');
      if (which('dockerd') && docker) {
        const dd = join(dir, 'docker');
        const host = `unix://${join(dd, 'docker.sock')}`;
        const ns = `skiff-bench-${process.pid}`;
        mkdirSync(dd);
        spawnSync('ip', ['netns', 'add', ns]);
        try {
          const skiff = runtimes.find(([n]) => n === 'skiff')[1];
          daemons.push(
            spawn('nsenter', [`--net=/run/netns/${ns}`, 'dockerd', '--data-root', join(dd, 'data'), '--exec-root', join(dd, 'exec'), '--pidfile', join(dd, 'pid'), '-H', host,
              '--containerd', address, '--bridge', 'none', '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--ip-masq=false',
              '--storage-driver', 'vfs', '--exec-opt', 'native.cgroupdriver=cgroupfs', '--add-runtime', `skiff=${skiff}`, '--add-runtime', `crun=${which('crun') ?? 'crun'}`],
              { stdio: 'ignore' }),
          );
          const d = (args) => spawnSync(docker, ['-H', host, ...args], { encoding: 'utf8' });
          until(() => d(['version']).status === 0, 'dockerd');
          d(['load', '-i', join(dir, 'image.tar')]);
          compare('docker run --rm IMG true', (bin) => d(['run', '--rm', '--network', 'none', '--runtime', runtimes.find(([, b]) => b === bin)[0], 'localhost/bench:latest', 'true']));
        } finally {
          spawnSync('ip', ['netns', 'delete', ns]);
        }
      } else console.log('docker run --rm: dockerd or the docker CLI not installed here (skipped)');
    } else console.log('ctr run --rm: containerd not installed here (skipped)');
  } finally {
    // Ours, by pid, newest first (dockerd before its containerd); each waited for.
    const running = (pid) => {
      try {
        return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (const p of daemons.reverse()) {
      p.kill('SIGTERM');
      for (let i = 0; i < 200 && running(p.pid); i++) spawnSync('sleep', ['0.05']);
    }
    for (const d of cgroupParents().filter((d) => !parentsBefore.has(d))) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty: a container of this run is still there, which the bench reports by failing */
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// dock beside podman, on its own image (dock-run.mjs).
spawnSync(process.execPath, [join(root, 'test/bench/dock-run.mjs'), String(N)], { stdio: 'inherit' });
