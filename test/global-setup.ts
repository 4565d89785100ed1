// Runs once before the suite: the busybox rootfs every container test uses (installing Debian's
// busybox-static when missing) and a check that the build exists.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const TEST_ROOTFS = join(ROOT, 'test', '.rootfs');

export default function setup(): void {
  for (const f of ['dist/skiff.js', 'build/Release/skiff_native.node', 'build/Release/skiff-init']) {
    if (!existsSync(join(ROOT, f))) throw new Error(`${f} is missing: run npm install (and npm run build)`);
  }
  if (process.getuid?.() === 0) execFileSync('sh', [join(ROOT, 'scripts/make-rootfs.sh'), TEST_ROOTFS], { stdio: 'inherit' });
}
