// dock build on a Debian base made by `dock image bootstrap` (debootstrap against the archive apt
// uses here: minutes and ~50 MB of downloads), so it runs only when SKIFF_TEST_BOOTSTRAP=1.
// Steps use Debian's own tools (useradd, dpkg, bash) in RUN containers, with --network none: the
// test does not reach the machine's network, so nothing is installed from the archive.


import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dock } from '../fixtures/images/dock';
import { needTools, skipWhen } from '../host';
import { mountsUnder } from './dock-helpers';

const why = process.getuid?.() !== 0 ? 'needs root' : process.env.SKIFF_TEST_BOOTSTRAP !== '1' ? 'runs only with SKIFF_TEST_BOOTSTRAP=1 (debootstrap downloads ~50 MB)' : needTools('debootstrap');

describe.skipIf(skipWhen(why))('dock build on a Debian image', () => {
  it('builds with useradd, dpkg and bash in RUN steps, and the image runs as the new user', async () => {
    const root = mkdtempSync('/tmp/dkd-');
    const ctx = mkdtempSync(join(tmpdir(), 'build-debian-'));
    try {
      const boot = await dock(root, ['image', 'bootstrap', '-q', 'debian:bookworm']);
      expect(boot.stderr).toBe('');
      writeFileSync(
        join(ctx, 'Dockerfile'),
        [
          'FROM debian:bookworm',
          'RUN useradd -m -s /bin/bash builder && dpkg-query -W -f \'${Package}\\n\' bash coreutils > /packages',
          'USER builder',
          'WORKDIR /home/builder',
          'SHELL ["/bin/bash", "-c"]',
          'RUN echo "bash ${BASH_VERSINFO[0]} as $(whoami)" > about',
          'CMD ["bash", "-c", "cat /packages ~/about; id -un"]',
        ].join('\n'),
      );
      const b = await dock(root, ['build', '--network', 'none', '-t', 'deb-built:1', ctx]);
      expect(b.stderr).toBe('');
      expect(b.code).toBe(0);
      const run = await dock(root, ['run', '--network', 'none', '--rm', 'deb-built:1']);
      expect(run.stdout).toBe('bash\ncoreutils\nbash 5 as builder\nbuilder\n');
      expect(mountsUnder(root)).toEqual([]);
    } finally {
      for (const m of mountsUnder(root).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
      rmSync(root, { recursive: true, force: true });
      rmSync(ctx, { recursive: true, force: true });
    }
  }, 900_000);
});
