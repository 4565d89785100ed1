// dock system prune on a private root: docker's confirmation (no answer, or "n", removes nothing),
// then stopped containers, anonymous volumes (--volumes), dangling images and with -a every unused
// image, with the space reclaimed; a running container and what it uses stay.
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { d, ok, type TestImage, useDockRoot } from './dock-helpers';

let img: TestImage;
let root: string;

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock system prune', () => {
  useDockRoot((i, r) => ((img = i), (root = r)));

  it('asks first, then removes what nothing uses and reports the space', { timeout: 240_000 }, async () => {
    const stopped = (await ok(root, ['run', '--network', 'none', '--name', 'sp-stopped', img.name, 'sh', '-c', 'head -c 300000 /dev/zero > /big'])).trim();
    expect(stopped).toBe('');
    const stoppedId = JSON.parse(await ok(root, ['inspect', 'sp-stopped']))[0].Id as string;
    const anon = JSON.parse(await ok(root, ['inspect', 'sp-stopped']))[0].Mounts[0].Name as string;
    await ok(root, ['run', '-d', '--network', 'none', '--name', 'sp-running', img.name, 'sleep', '300']);
    const dangling = (await ok(root, ['commit', 'sp-running'])).trim();
    await ok(root, ['commit', 'sp-running', 'sp/unused:1']);
    const volsBefore = await ok(root, ['volume', 'ls', '-q']);
    expect(volsBefore).toContain(anon);

    for (const input of ['', 'n\n']) {
      const no = await d(root, ['system', 'prune', '--volumes'], { input });
      expect(no.code).toBe(0);
      expect(no.stdout).toBe('WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue? [y/N] \n');
      expect(no.stderr).toBe('system prune has been cancelled\n');
      expect((await d(root, ['inspect', 'sp-stopped'])).code).toBe(0);
    }

    const yes = await d(root, ['system', 'prune', '--volumes'], { input: 'y\n' });
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain(`Deleted Containers:\n${stoppedId}\n\n`);
    expect(yes.stdout).toContain(`Deleted Volumes:\n${anon}\n`);
    expect(yes.stdout).toContain(`Deleted Images:\ndeleted: ${dangling}\n`);
    const total = /Total reclaimed space: ([\d.]+)(B|kB|MB|GB)\n$/.exec(yes.stdout);
    expect(total).not.toBeNull();
    expect(Number(total![1]) * { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[total![2] as 'B']).toBeGreaterThanOrEqual(300_000);
    expect((await d(root, ['inspect', 'sp-stopped'])).code).not.toBe(0);
    expect(JSON.parse(await ok(root, ['inspect', 'sp-running']))[0].State.Status).toBe('running');
    expect(await ok(root, ['image', 'inspect', '-f', '{{.Id}}', 'sp/unused:1'])).not.toBe('');

    // -a: every image no container uses; the running container's image stays.
    const all = await ok(root, ['system', 'prune', '-a', '-f']);
    expect(all).toContain('Deleted Images:\ndeleted: sha256:');
    expect((await d(root, ['image', 'inspect', 'sp/unused:1'])).code).not.toBe(0);
    expect((await d(root, ['image', 'inspect', img.name])).code).toBe(0);
    await ok(root, ['rm', '-f', 'sp-running']);
  });
});
