// What a Docker user's hands expect of dock (issue 19), on real containers: docker's exit statuses
// and short usage errors, --format with Go template semantics on every command that takes it.
// The containers here use --network none: these tests run outside a test network namespace.
import { readFileSync } from 'node:fs';
import { needRoot, skipWhen } from '../host';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAppImage, cleanRoot, d, isRoot, newRoot, ok, type TestImage } from './dock-helpers';

let img: TestImage;
let root: string;

describe.skipIf(skipWhen(needRoot()))('dock as docker', () => {
  beforeAll(async () => {
    img = buildAppImage();
    root = await newRoot(img);
  });
  afterAll(async () => {
    if (root) {
      const left = await cleanRoot(root);
      expect(left).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    }
    img?.cleanup();
  });

  it("a bad flag is docker's short message and status 125, not the whole help", async () => {
    const r = await d(root, ['run', '--rmm', img.name]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe("dock: unknown flag: --rmm\n(Did you mean --rm?)\nSee 'dock run --help'.\n");
    const ps = await d(root, ['container', 'ls', '--bogus']);
    expect(ps.code).toBe(125);
    expect(ps.stderr).toBe("dock: unknown flag: --bogus\nSee 'dock container ls --help'.\n");
    const missing = await d(root, ['run']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toBe("dock: missing required argument 'image'\nSee 'dock run --help'.\n");
    expect((await d(root, ['nosuchcommand'])).code).toBe(125);
    expect((await d(root, ['--help'])).code).toBe(0);
  });

  it('run: 127 for a command not found, 126 for one that cannot be invoked, 125 for an error of dock', async () => {
    const notFound = await d(root, ['run', '--rm', '--network', 'none', img.name, 'nosuch']);
    expect(notFound.code).toBe(127);
    expect(notFound.stderr).toMatch(/executable file not found in \$PATH/);
    const dir = await d(root, ['run', '--rm', '--network', 'none', img.name, '/etc']);
    expect(dir.code).toBe(126);
    const noExec = await d(root, ['run', '--rm', '--network', 'none', img.name, '/etc/passwd']);
    expect(noExec.code).toBe(126);
    const noImage = await d(root, ['run', '--rm', '--network', 'none', '--pull', 'never', 'parity-no-such-image:1']);
    expect(noImage.code).toBe(125);
    const badRestart = await d(root, ['run', '--rm', '--network', 'none', '--restart', 'sometimes', img.name]);
    expect(badRestart.code).toBe(125);
    expect((await d(root, ['run', '--rm', '--network', 'none', img.name, 'sh', '-c', 'exit 3'])).code).toBe(3);
    expect(await ok(root, ['ps', '-aq'])).toBe(''); // --rm removed each of them, even those that failed
  });

  it('exec: the same statuses, and a missing working directory said plainly', async () => {
    await ok(root, ['run', '-d', '--name', 'parity-exec', '--network', 'none', img.name, 'sleep', '300']);
    try {
      const notFound = await d(root, ['exec', 'parity-exec', 'nosuch']);
      expect(notFound.code).toBe(127);
      expect(notFound.stderr).toBe('dock: exec: "nosuch": executable file not found in $PATH\n');
      const cwd = await d(root, ['exec', '-w', '/nope', 'parity-exec', 'pwd']);
      expect(cwd.code).toBe(126);
      expect(cwd.stderr).toBe('dock: cannot change to the working directory /nope: it does not exist\n');
      expect((await d(root, ['exec', 'parity-exec', '/etc/passwd'])).code).toBe(126);
      expect((await d(root, ['exec', 'parity-exec', 'sh', '-c', 'exit 4'])).code).toBe(4);
    } finally {
      await d(root, ['rm', '-f', '-v', 'parity-exec']);
    }
  });

  it('--format: Go templates on inspect, ls and ps; json; table headers; errors are status 125', async () => {
    expect(await ok(root, ['image', 'inspect', '-f', '[{{.Config.User}}]', img.name])).toBe('[]\n');
    expect(await ok(root, ['image', 'inspect', '-f', '{{index .Config.Labels "org.test.kind"}} {{len .Config.Env}} {{json .Config.Cmd}}', img.name])).toBe(
      'app 3 ["/bin/sh","-c","echo hello from the image"]\n',
    );
    expect(await ok(root, ['image', 'inspect', '-f', '{{range .Config.Env}}{{if eq . "KEEP=kept"}}{{printf "%q" .}}{{end}}{{end}}', img.name])).toBe('"KEEP=kept"\n');
    expect(await ok(root, ['images', '--format', '{{.Repository}}:{{.Tag}} {{upper .Tag}}'])).toBe('skiff-test/app:1 1\n');
    const json = JSON.parse((await ok(root, ['images', '--format', 'json'])).trim());
    expect(json.Repository).toBe('skiff-test/app');
    await ok(root, ['create', '--name', 'parity-fmt', '--network', 'none', '-l', 'tier=web', img.name]);
    try {
      expect(await ok(root, ['ps', '-a', '--format', '{{.Names}} {{.Label "tier"}} {{.State}}'])).toBe('parity-fmt web created\n');
      const table = (await ok(root, ['ps', '-a', '--format', 'table {{.Names}}\\t{{.State}}'])).split('\n');
      expect(table[0]).toBe('NAMES        STATE');
      expect(table[1]).toBe('parity-fmt   created');
      expect(await ok(root, ['inspect', '-f', '{{.Name}} {{with .State}}{{.Status}}{{end}} {{.Config.Labels.tier}}', 'parity-fmt'])).toBe('/parity-fmt created web\n');
      const unknown = await d(root, ['ps', '-a', '--format', '{{.Nope}}']);
      expect(unknown.code).toBe(125);
      expect(unknown.stderr).toMatch(/can't evaluate field Nope/);
    } finally {
      await d(root, ['rm', '-f', '-v', 'parity-fmt']);
    }
    for (const args of [
      ['image', 'inspect', '-f', '{{.Config.User', img.name],
      ['images', '--format', '{{nosuchfunc .ID}}'],
      ['volume', 'ls', '--format', '{{if}}'],
      ['network', 'ls', '--format', '{{end}}'],
    ]) {
      const r = await d(root, args);
      expect(r.code, args.join(' ')).toBe(125);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^dock: template parsing error: template: :1: /);
    }
  });

  it('run -it and exec -it without a terminal fail at once: "the input device is not a TTY", nothing left', async () => {
    const run = await d(root, ['run', '-it', '--rm', '--network', 'none', img.name, 'sh']);
    expect([run.code, run.stderr]).toEqual([125, 'dock: the input device is not a TTY\n']);
    expect(await ok(root, ['ps', '-aq'])).toBe('');
    await ok(root, ['run', '-d', '--name', 'parity-tty', '--network', 'none', img.name, 'sleep', '300']);
    try {
      const exec = await d(root, ['exec', '-it', 'parity-tty', 'sh']);
      expect([exec.code, exec.stderr]).toEqual([125, 'dock: the input device is not a TTY\n']);
    } finally {
      await d(root, ['rm', '-f', '-v', 'parity-tty']);
    }
  });

  it('version, --version, info and system df, with --format', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
    expect(await ok(root, ['--version'])).toBe(`Dock version ${pkg.version}, skiff runtime\n`);
    const version = await ok(root, ['version']);
    expect(version).toMatch(/^Client:\n Version: +\S+\n API version: +1\.\d+\n/);
    expect(version).toContain('\nServer: dock (skiff)\n Engine:\n');
    expect(await ok(root, ['version', '-f', '{{.Server.Version}} {{.Client.Version}}'])).toBe(`${pkg.version} ${pkg.version}\n`);
    await ok(root, ['create', '--name', 'parity-info', '--network', 'none', img.name]);
    try {
      expect(await ok(root, ['info', '-f', '{{.Containers}} {{.ContainersStopped}} {{.Images}} {{.DockerRootDir}}'])).toBe(`1 1 1 ${root}\n`);
      expect(await ok(root, ['info'])).toMatch(/\n Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n/);
      expect(await ok(root, ['system', 'info', '-f', '{{.Driver}}'])).toBe('overlay\n');
      const df = (await ok(root, ['system', 'df'])).split('\n');
      expect(df[0]).toMatch(/^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$/);
      expect(df[1]).toMatch(/^Images +1 +1 +\S+ +0B \(0%\)$/);
      expect(df[2]).toMatch(/^Containers +1 +0 /);
      const volumes = (await ok(root, ['volume', 'ls', '-q'])).split('\n').filter(Boolean).length;
      expect(await ok(root, ['system', 'df', '--format', '{{.Type}}={{.TotalCount}}'])).toBe(`Images=1\nContainers=1\nLocal Volumes=${volumes}\nBuild Cache=0\n`);
      const verbose = await ok(root, ['system', 'df', '-v']);
      expect(verbose).toMatch(/Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +SIZE +CONTAINERS\nskiff-test\/app +1 /);
      expect(verbose).toMatch(/Containers space usage:\n\nCONTAINER ID +IMAGE +SIZE +STATUS +NAMES\n[0-9a-f]{12} +skiff-test\/app:1 +\S+ +created +parity-info\n/);
    } finally {
      await d(root, ['rm', '-v', 'parity-info']);
    }
  });
});
