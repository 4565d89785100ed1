// Runs once before the suite: the busybox rootfs every container test uses (installing Debian's
// busybox-static when missing), a check that the build exists, and the warm skiff server started
// (src/cli/server.ts), so that every create, run and exec of the suite goes through it as it does for
// a user; the one the suite started is stopped at the end.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const TEST_ROOTFS = join(ROOT, 'test', '.rootfs');
const SERVER_DIR = '/run/skiff-server';

/** pids of running skiff servers, from their lock files. */
function servers(): number[] {
  if (!existsSync(SERVER_DIR)) return [];
  return readdirSync(SERVER_DIR)
    .filter((f) => f.endsWith('.lock'))
    .map((f) => Number(readFileSync(join(SERVER_DIR, f), 'utf8').trim()))
    .filter((pid) => pid > 0 && readFileSafe(`/proc/${pid}/cmdline`).includes('skiff-server.js'));
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, 'latin1');
  } catch {
    return '';
  }
}

export default function setup(): () => void {
  for (const f of ['dist/skiff.js', 'dist/dock.js', 'build/Release/skiff_native.node', 'build/Release/skiff-init']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run npm install (and npm run build)`);
  }
  if (process.getuid?.() !== 0) return () => {};
  execFileSync('sh', [join(ROOT, 'scripts/make-rootfs.sh'), TEST_ROOTFS], { stdio: 'inherit' });
  const before = new Set(servers());
  // Any create/run/exec starts it; SKIFF_SERVER=1 waits for it. The container does not exist.
  const r = spawnSync(join(ROOT, 'bin/skiff'), ['--root', '/nonexistent/skiff-warm-up', 'exec', 'warm-up', 'true'], {
    env: { ...process.env, SKIFF_SERVER: '1' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  // A server that cannot start fails server.test.ts with its reason; the rest runs on Node meanwhile.
  if (!/does not exist/.test(r.stderr ?? '')) console.warn(`global-setup: the skiff server did not answer: ${(r.stderr || String(r.error)).trim()}`);
  const ours = servers().filter((pid) => !before.has(pid));
  return () => {
    for (const pid of ours) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone (idle) */
      }
    }
  };
}
