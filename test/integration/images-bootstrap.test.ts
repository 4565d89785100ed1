// `dock image bootstrap debian:bookworm` runs debootstrap against the Debian archive apt uses here
// (a few minutes and ~50 MB of downloads), so it runs only when SKIFF_TEST_BOOTSTRAP=1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dock } from '../fixtures/images/dock';
import { ensureTools } from '../fixtures/images/tools';
import { ImageStore } from '../../src/engine/store/store';
import { resolveImage } from '../../src/engine/images/rootfs';

const enabled = process.getuid?.() === 0 && process.env.SKIFF_TEST_BOOTSTRAP === '1';

describe.skipIf(!enabled)('dock image bootstrap', () => {
  it('makes a Debian image whose tree runs dpkg', async () => {
    ensureTools(['debootstrap']);
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
