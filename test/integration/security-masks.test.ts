// CVE-2025-31133: masked files are hidden by binding /dev/null over them. When /dev is not the
// runtime's own tmpfs (a volume shared with another container), /dev/null may be a symlink to a
// file the attacker wants exposed; skiff-init checks it is the null device and refuses otherwise.
import { execFileSync } from 'node:child_process';
import { needRoot, skipWhen } from '../host';
import { readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Skiff, TEST_ROOTFS, baseConfig, isRoot, makeBundle, tmp } from '../helpers';

describe.skipIf(skipWhen(needRoot()))('maskedPaths with a hostile /dev/null', () => {
  const skiff = new Skiff();
  const work = tmp('skiff-masks-');
  afterAll(() => {
    skiff.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses to mask with a /dev/null that is a symlink, and leaves nothing', () => {
    const rootfs = join(work, 'rootfs');
    execFileSync('cp', ['-a', TEST_ROOTFS, rootfs]);
    writeFileSync(join(rootfs, 'secret'), 'exposed\n');
    rmSync(join(rootfs, 'dev'), { recursive: true, force: true });
    execFileSync('mkdir', [join(rootfs, 'dev')]);
    symlinkSync('/secret', join(rootfs, 'dev/null'));
    const cfg = baseConfig(['cat', '/proc/keys']);
    cfg.root = { path: rootfs, readonly: false };
    cfg.mounts = cfg.mounts.filter((m: { destination: string }) => !m.destination.startsWith('/dev'));
    cfg.linux.maskedPaths = ['/proc/keys'];
    cfg.linux.devices = [];
    const r = skiff.run(['run', '-b', makeBundle(cfg), 'mask-null']);
    expect(r.stdout).not.toContain('exposed');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^skiff: [^\n]*mask \/proc\/keys: \/dev\/null is not the null device[^\n]*\n$/);
    expect(readdirSync(skiff.root)).toEqual([]);
  });
});
