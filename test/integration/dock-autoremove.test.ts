// --rm as docker's daemon does it: the container is removed when it exits, by its supervisor's exit
// command, whether or not the dock that ran it is still there (killed, or `run -d --rm`), and
// nothing of it is left (mounts, supervisor, cgroup, anonymous volumes).
import { describe, expect, it } from 'vitest';
import { needRoot, needTools, skipWhen } from '../host';
import { IMAGE_TOOLS } from '../fixtures/images/tools';
import { d, dockCgroups, dockChild, mountsUnder, ok, ops, supervisorsOf, type TestImage, useDockRoot, waitFor } from './dock-helpers';

let img: TestImage;
let root: string;

const listed = async (name: string) => (await ok(root, ['ps', '-a', '--format', '{{.Names}}'])).split('\n').includes(name);
const volumes = async () => (await ok(root, ['volume', 'ls', '-q'])).split('\n').filter(Boolean);

/** Waits until the container is gone from `ps -a`, then checks that nothing of it is left. */
async function goneWithNothingLeft(name: string, id: string): Promise<void> {
  await waitFor(async () => !(await listed(name)), `${name} to be removed`, ops(1));
  await waitFor(() => supervisorsOf(root).length === 0, 'its supervisor to leave', ops(1));
  expect(mountsUnder(root)).toEqual([]);
  expect(dockCgroups([id])).toEqual([]);
  expect(await volumes()).toEqual([]); // the image's anonymous /data volume goes with it
  expect((await d(root, ['inspect', id])).code).not.toBe(0);
}

describe.skipIf(skipWhen(needRoot(), needTools(...IMAGE_TOOLS)))('dock run --rm without its dock', () => {
  useDockRoot((i, r) => {
    img = i;
    root = r;
  });

  it('removes the container when it exits after its foreground dock was killed', async () => {
    const run = dockChild(root, ['run', '--rm', '--network', 'none', '--name', 'orphan', img.name, 'sh', '-c', 'sleep 2; exit 3']);
    let id = '';
    await waitFor(async () => {
      const r = await d(root, ['inspect', '-f', '{{.Id}} {{.State.Running}}', 'orphan']);
      if (r.stdout.trim().endsWith(' true')) id = r.stdout.split(' ')[0];
      return id !== '';
    }, 'the container to run');
    run.child.kill('SIGKILL');
    await run.closed;
    await goneWithNothingLeft('orphan', id);
  }, ops(6));

  it('removes the container when its dock is killed after the exit reached it but before it handled it', async () => {
    const r = await d(root, ['run', '--rm', '--network', 'none', '--name', 'late', img.name, 'sh', '-c', 'exit 3'], { env: { DOCK_CRASH_AT: 'exit-claimed' } });
    expect(r.code).not.toBe(3); // killed before it could report the status
    const id = (await d(root, ['inspect', '-f', '{{.Id}}', 'late'])).stdout.trim();
    await goneWithNothingLeft('late', id || 'late');
  }, ops(6));

  it('removes a run -d --rm container when it exits', async () => {
    const id = (await ok(root, ['run', '-d', '--rm', '--network', 'none', '--name', 'bg', img.name, 'sh', '-c', 'sleep 1; exit 3'])).trim();
    await goneWithNothingLeft('bg', id);
  }, ops(6));

  it('a foreground dock run --rm still removes its own container, once, with its exit status', async () => {
    const r = await d(root, ['run', '--rm', '--network', 'none', '--name', 'fg', img.name, 'sh', '-c', 'exit 5']);
    expect(r.code).toBe(5);
    expect(r.stderr).toBe('');
    expect(await listed('fg')).toBe(false);
    expect(await volumes()).toEqual([]);
  }, ops(3));
});
