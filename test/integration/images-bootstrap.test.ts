// `dock image bootstrap debian:bookworm` runs debootstrap against the Debian archive apt uses here
// (a few minutes and ~50 MB of downloads), so it runs only when SKIFF_TEST_BOOTSTRAP=1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dock } from '../fixtures/images/dock';
import { needTools, skipWhen } from '../host';
import { ImageStore } from '../../src/engine/store/store';
import { resolveImage } from '../../src/engine/images/rootfs';

const why = process.getuid?.() !== 0 ? 'needs root' : process.env.SKIFF_TEST_BOOTSTRAP !== '1' ? 'runs only with SKIFF_TEST_BOOTSTRAP=1 (debootstrap downloads ~50 MB)' : needTools('debootstrap');

describe.skipIf(skipWhen(why))('dock image bootstrap', () => {
  it('makes a Debian image whose tree runs dpkg', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-bootstrap-'));
    try {
      const r = await dock(root, ['image', 'bootstrap', '-q', 'debian:bookworm']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      const store = await ImageStore.open(root);
      const img = await resolveImage(store, 'debian:bookworm');
      store.close();
      expect(img.config.config?.Cmd).toEqual(['bash']);
      const dir = img.lowerdirs[0];
      expect(execFileSync('chroot', [dir, '/bin/cat', '/etc/debian_version']).toString()).toMatch(/^12\./);
      expect(execFileSync('chroot', [dir, '/usr/bin/dpkg-query', '-W', 'bash']).toString()).toMatch(/^bash\t/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 900_000);
});
