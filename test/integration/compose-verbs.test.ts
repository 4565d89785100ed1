// The other `dock compose` verbs on a small project, in a test network namespace: build from a
// dockerfile_inline, exec, run, port, top, images, pause/unpause, stop/start/restart, kill, rm,
// ls, attached up with --abort-on-container-exit/--exit-code-from, --remove-orphans, down --rmi.

import { writeFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from './dock-helpers';
import { ComposeWorld } from './compose-world';

describe.skipIf(skipWhen(needRoot()))('dock compose verbs', () => {
  const w = new ComposeWorld();
  const project = `cverb${process.pid}`;
  const dc = (args: string[], file?: string) => w.compose(args, { file });
  const ok = (args: string[], file?: string) => w.ok(args, { file });
  const states = async () => Object.fromEntries((await ok(['ps', '-a', '--format', 'json'])).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Name: string; State: string }).map((r) => [r.Name, r.State]));

  beforeAll(async () => {
    await w.setUp('cv');
    writeFileSync(
      join(w.dir, 'compose.yaml'),
      `name: ${project}
services:
  base:
    build:
      context: .
      dockerfile_inline: |
        FROM skiff-test/app:1
        RUN echo built-by-compose > /built
    command: [sh, -c, "cat /built; trap 'exit 0' TERM; while true; do sleep 1; done"]
    ports: ["127.0.0.1::80"]
  job:
    image: skiff-test/app:1
    command: [sh, -c, "echo job ran; exit 3"]
    network_mode: none
    profiles: [jobs]
`,
    );
    writeFileSync(join(w.dir, 'other.yaml'), `name: ${project}\nservices:\n  other:\n    image: skiff-test/app:1\n    command: [sleep, "600"]\n    network_mode: none\n    stop_signal: SIGKILL\n`);
  }, 300_000);

  afterAll(() => w.tearDown(), 300_000);

  it('secrets and configs are mounted read-only at their paths; env_file and environment reach the process', async () => {
    writeFileSync(join(w.dir, 'db_password.txt'), 's3cret\n');
    writeFileSync(join(w.dir, 'app.env'), 'FROM_FILE=file\nBOTH=file\n');
    writeFileSync(
      join(w.dir, 'files.yaml'),
      `name: ${project}f\nservices:\n  app:\n    image: skiff-test/app:1\n    command: [sleep, "600"]\n    network_mode: none\n    stop_signal: SIGKILL\n    env_file: [app.env]\n    environment: {BOTH: environment}\n    secrets: [db_password]\n    configs:\n      - source: greeting\n        target: /etc/greeting\nsecrets:\n  db_password: {file: ./db_password.txt}\nconfigs:\n  greeting: {content: "hello from a config"}\n`,
    );
    await w.ok(['up', '-d'], { file: 'files.yaml' });
    const exec = (cmd: string) => w.ok(['exec', '-T', 'app', 'sh', '-c', cmd], { file: 'files.yaml' });
    expect(await exec('cat /run/secrets/db_password')).toBe('s3cret\n');
    expect(await exec('cat /etc/greeting')).toBe('hello from a config');
    expect((await w.compose(['exec', '-T', 'app', 'sh', '-c', 'echo x > /run/secrets/db_password'], { file: 'files.yaml' })).code).not.toBe(0);
    expect(await exec('echo $FROM_FILE $BOTH')).toBe('file environment\n');
    await w.ok(['down', '-t', '1'], { file: 'files.yaml' });
  }, 300_000);

  it('depends_on restart: true restarts a kept dependent when its dependency is recreated', async () => {
    writeFileSync(
      join(w.dir, 'restart.yaml'),
      `name: ${project}r\nservices:\n  dep:\n    image: skiff-test/app:1\n    command: [sleep, "600"]\n    network_mode: none\n    stop_signal: SIGKILL\n    environment: {V: "\${V:-1}"}\n  user:\n    image: skiff-test/app:1\n    command: [sleep, "600"]\n    network_mode: none\n    stop_signal: SIGKILL\n    depends_on:\n      dep: {condition: service_started, restart: true}\n`,
    );
    const started = async () => JSON.parse(await w.dock(['inspect', `${project}r-user-1`]))[0].State.StartedAt as string;
    await w.ok(['up', '-d'], { file: 'restart.yaml' });
    const first = await started();
    const r = await w.compose(['up', '-d'], { file: 'restart.yaml', env: { V: '2' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Container ${project}r-dep-1  Recreate`);
    expect(r.stderr).toContain(`Container ${project}r-user-1  Restarted`);
    expect(await started()).not.toBe(first);
    await w.ok(['down', '-t', '1'], { file: 'restart.yaml' });
  }, 300_000);

  it('build, up, exec, run, port, top, images, ls', async () => {
    await ok(['build']);
    expect(await w.dock(['images', '--format', '{{.Repository}}'])).toContain(`${project}-base`);
    await ok(['up', '-d', '--wait']);
    expect((await ok(['logs', 'base'])).trim()).toBe('base-1  | built-by-compose');
    expect(await ok(['exec', '-T', 'base', 'cat', '/built'])).toBe('built-by-compose\n');
    expect((await dc(['exec', '-T', 'base', 'sh', '-c', 'exit 5'])).code).toBe(5);
    const before = Object.keys(await states());
    const run = await dc(['run', '--rm', '-T', 'base', 'echo', 'one-off']);
    expect(run).toMatchObject({ code: 0, stdout: 'one-off\n' });
    expect(Object.keys(await states())).toEqual(before);
    expect((await ok(['port', 'base', '80'])).trim()).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await ok(['top', 'base'])).toContain(`${project}-base-1`);
    expect(await ok(['images'])).toContain(`${project}-base`);
    expect(await ok(['ls'])).toMatch(new RegExp(`^${project}\\s+running\\(1\\)\\s+${join(w.dir, 'compose.yaml')}$`, 'm'));
  }, 300_000);

  it('pause, unpause, stop, start, restart, kill, rm', async () => {
    const name = `${project}-base-1`;
    await ok(['pause']);
    expect((await states())[name]).toBe('paused');
    await ok(['unpause']);
    expect((await states())[name]).toBe('running');
    await ok(['stop', '-t', '5']);
    expect((await states())[name]).toBe('exited');
    await ok(['start']);
    expect((await states())[name]).toBe('running');
    await ok(['restart', '-t', '5']);
    expect((await states())[name]).toBe('running');
    await ok(['kill', '-s', 'KILL']);
    expect((await states())[name]).toBe('exited');
    await ok(['rm', '-f']);
    expect(await states()).toEqual({});
  }, 300_000);

  it('attached up with --exit-code-from gives the service exit code and its prefixed output', async () => {
    const r = await dc(['--profile', 'jobs', 'up', '--abort-on-container-exit', '--exit-code-from', 'job', 'job']);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('job-1  | job ran');
  }, 300_000);

  it('--remove-orphans removes the containers of services no longer in the file; down --rmi local removes the built image', async () => {
    await ok(['up', '-d', 'base']);
    const warned = await dc(['up', '-d'], 'other.yaml');
    expect(warned.stderr).toMatch(/found orphan containers \(.*base-1/);
    // job-1 is the exited container of the attached up before.
    expect(Object.keys(await states()).sort()).toEqual([`${project}-base-1`, `${project}-job-1`, `${project}-other-1`]);
    await ok(['up', '-d', '--remove-orphans'], 'other.yaml');
    expect(Object.keys(await states())).toEqual([`${project}-other-1`]);
    await ok(['down', '-t', '1', '--remove-orphans'], 'other.yaml');
    await ok(['up', '-d', 'base']);
    await ok(['down', '-v', '--rmi', 'local', '-t', '1']);
    expect(await w.dock(['images', '--format', '{{.Repository}}'])).not.toContain(`${project}-base`);
    expect(await w.dock(['ps', '-aq'])).toBe('');
  }, 300_000);
});
