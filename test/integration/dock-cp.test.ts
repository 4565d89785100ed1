// docker cp's documented behaviours, as a table, on real containers (created, running, stopped):
//   SRC is a file:  DEST missing -> saved as DEST; DEST missing and ending in / -> error (must exist);
//                   DEST a file -> overwritten; DEST a directory -> copied into it under SRC's name.
//   SRC is a dir:   DEST missing -> created with SRC's content; DEST a file -> error;
//                   DEST a directory -> SRC copied into it, or with SRC/. its content.
//   `-` as SRC: a tar stream extracted into a directory; as DEST: a tar of SRC named after SRC.
//   -a keeps uid/gid (else root in the container, the caller on the host); -L follows a SRC symlink.
// And CVE-2018-15664: a running container is frozen for the copy, so it cannot swap a directory
// of the destination for a symlink to the host's / in between.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOTFS, tmp } from '../helpers';
import { needRoot, skipWhen } from '../host';
import { cleanRoot, d, dockScript, ok, waitFor } from './dock-helpers';

const IMG = 'skiff-test/cp:1';

describe.skipIf(skipWhen(needRoot()))('dock cp', () => {
  let root: string;
  const work = tmp('skiff-dockcp-');
  const h = (...p: string[]) => join(work, ...p);
  /** The files of a tar stream (dock cp CTR:PATH -), as `tar -tv` lists them: "mode owner size name". */
  const listing = async (src: string) => {
    const r = await d(root, ['cp', src, '-']);
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(h('stream.tar'), r.stdout, 'latin1');
    return execFileSync('tar', ['-tvf', h('stream.tar'), '--numeric-owner']).toString().trim().split('\n').map((l) => {
      const f = l.split(/\s+/);
      return `${f[0]} ${f[1]} ${f[5]}${f[6] ? ` ${f.slice(6).join(' ')}` : ''}`;
    });
  };
  const names = async (src: string) => (await listing(src)).map((l) => l.split(' ')[2]);
  /** A file's content in the container, read through cp (works whatever the container's state). */
  const cat = async (ctr: string, path: string) => {
    const r = await d(root, ['cp', `${ctr}:${path}`, '-']);
    expect(r.code, `${ctr}:${path}: ${r.stderr}`).toBe(0);
    writeFileSync(h('one.tar'), r.stdout, 'latin1');
    return execFileSync('tar', ['-xOf', h('one.tar')]).toString();
  };

  beforeAll(async () => {
    await dockScript();
    root = tmp('dk-');
    execFileSync('tar', ['-C', TEST_ROOTFS, '-czf', h('rootfs.tar.gz'), '.']);
    await ok(root, ['import', h('rootfs.tar.gz'), IMG]);
    // The host side: a file, a directory tree with a foreign owner, a symlink to the file.
    mkdirSync(h('src', 'dir', 'sub'), { recursive: true });
    writeFileSync(h('src', 'file'), 'file content\n');
    writeFileSync(h('src', 'dir', 'top'), 'top\n');
    writeFileSync(h('src', 'dir', 'sub', 'x'), 'x\n');
    chownSync(h('src', 'dir', 'sub', 'x'), 1234, 5678);
    symlinkSync('file', h('src', 'link'));
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'run', IMG, 'sleep', '600']);
    await ok(root, ['create', '--network', 'none', '--name', 'created', IMG, 'sleep', '600']);
    await ok(root, ['run', '--network', 'none', '--name', 'stopped', IMG, 'sh', '-c', 'echo made > /made']);
  }, 120_000);
  afterAll(async () => {
    if (root) expect(await cleanRoot(root)).toEqual({ mounts: [], supervisors: [], cgroups: [] });
    rmSync(work, { recursive: true, force: true });
  });

  it('a file: to a new name, over a file, into a directory; a destination ending in / must exist (into the container)', async () => {
    await ok(root, ['exec', 'run', 'sh', '-c', 'mkdir -p /t1/into && echo old > /t1/over']);
    await ok(root, ['cp', h('src', 'file'), 'run:/t1/new.txt']);
    await ok(root, ['cp', h('src', 'file'), 'run:/t1/over']);
    await ok(root, ['cp', h('src', 'file'), 'run:/t1/into']);
    await ok(root, ['cp', h('src', 'file'), 'run:t1/into/']); // relative to / as docker reads it
    expect(await ok(root, ['exec', 'run', 'sh', '-c', 'cd /t1 && cat new.txt over into/file && find . | sort'])).toBe(
      'file content\nfile content\nfile content\n.\n./into\n./into/file\n./new.txt\n./over\n',
    );
    const missing = await d(root, ['cp', h('src', 'file'), 'run:/t1/nodir/']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('dock: no such directory: run:/t1/nodir/ (a destination ending in / must exist)\n');
    const noParent = await d(root, ['cp', h('src', 'file'), 'run:/t1/no/such']);
    expect(noParent.stderr).toMatch(/^dock: no such directory: the parent of run:\/t1\/no\/such\n$/);
    const notDir = await d(root, ['cp', h('src', 'file') + '/', 'run:/t1/']);
    expect(notDir.stderr).toMatch(/^dock: cannot copy .*file\/: not a directory\n$/);
    expect(await ok(root, ['exec', 'run', 'find', '/t1'])).not.toMatch(/nodir|no\/such/);
  });

  it('a file: to a new name, over a file, into a directory; a destination ending in / must exist (out of the container)', async () => {
    const out = h('out-file');
    mkdirSync(join(out, 'into'), { recursive: true });
    writeFileSync(join(out, 'over'), 'old\n');
    await ok(root, ['exec', 'run', 'sh', '-c', 'echo from ctr > /f1']);
    await ok(root, ['cp', 'run:/f1', join(out, 'new.txt')]);
    await ok(root, ['cp', 'run:/f1', join(out, 'over')]);
    await ok(root, ['cp', 'run:/f1', join(out, 'into')]);
    for (const f of ['new.txt', 'over', 'into/f1']) expect(readFileSync(join(out, f), 'utf8'), f).toBe('from ctr\n');
    const missing = await d(root, ['cp', 'run:/f1', join(out, 'nodir') + '/']);
    expect(missing.stderr).toMatch(/^dock: no such directory: .*nodir\/ \(a destination ending in \/ must exist\)\n$/);
    expect(existsSync(join(out, 'nodir'))).toBe(false);
    const nofile = await d(root, ['cp', 'run:/no/such/file', out]);
    expect(nofile.stderr).toBe('dock: could not find the file /no/such/file in container run\n');
  });

  it('a directory: to a new name (created), into a directory, SRC/. its content; never onto a file (both ways)', async () => {
    await ok(root, ['exec', 'run', 'sh', '-c', 'mkdir -p /t2/into /t2/dot && echo keep > /t2/dot/kept && echo f > /t2/afile']);
    await ok(root, ['cp', h('src', 'dir'), 'run:/t2/renamed']);
    await ok(root, ['cp', h('src', 'dir'), 'run:/t2/into']);
    await ok(root, ['cp', h('src', 'dir') + '/', 'run:/t2/into/']); // a trailing / changes nothing for a directory
    await ok(root, ['cp', h('src', 'dir') + '/.', 'run:/t2/dot']);
    await ok(root, ['cp', h('src', 'dir') + '/.', 'run:/t2/dotnew']);
    expect(await ok(root, ['exec', 'run', 'sh', '-c', 'cd /t2 && find . -type f | sort'])).toBe(
      ['./afile', './dot/kept', './dot/sub/x', './dot/top', './dotnew/sub/x', './dotnew/top', './into/dir/sub/x', './into/dir/top', './renamed/sub/x', './renamed/top', ''].join('\n'),
    );
    const onFile = await d(root, ['cp', h('src', 'dir'), 'run:/t2/afile']);
    expect(onFile.stderr).toBe('dock: cannot copy a directory to a file: run:/t2/afile\n');
    expect(await cat('run', '/t2/afile')).toBe('f\n');

    const out = h('out-dir');
    mkdirSync(join(out, 'into'), { recursive: true });
    mkdirSync(join(out, 'dot'));
    writeFileSync(join(out, 'afile'), 'f\n');
    await ok(root, ['cp', 'run:/t2/renamed', join(out, 'new')]);
    await ok(root, ['cp', 'run:/t2/renamed', join(out, 'into')]);
    await ok(root, ['cp', 'run:/t2/renamed/.', join(out, 'dot')]);
    await ok(root, ['cp', 'run:/t2/renamed/.', join(out, 'dotnew')]);
    const tree = execFileSync('find', ['.', '-type', 'f'], { cwd: out }).toString().trim().split('\n').sort();
    expect(tree).toEqual(['./afile', './dot/sub/x', './dot/top', './dotnew/sub/x', './dotnew/top', './into/renamed/sub/x', './into/renamed/top', './new/sub/x', './new/top']);
    const hostFile = await d(root, ['cp', 'run:/t2/renamed', join(out, 'afile')]);
    expect(hostFile.stderr).toMatch(/^dock: cannot copy a directory to a file: .*afile\n$/);
    expect(readFileSync(join(out, 'afile'), 'utf8')).toBe('f\n');
  });

  it('- : a tar stream named after the source (a volume mount point too), and one extracted into a directory', async () => {
    await ok(root, ['exec', 'run', 'sh', '-c', 'mkdir -p /t3/www && echo page > /t3/www/index.html']);
    expect(await names('run:/t3/www')).toEqual(['www/', 'www/index.html']);
    expect(await names('run:/t3/www/.')).toEqual(['./', './index.html']);
    expect(await names('run:/t3/www/index.html')).toEqual(['index.html']);
    // A volume: the entries are named after the container's path, not the volume's directory.
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'vol', '-v', 'cp-www:/www', IMG, 'sh', '-c', 'echo in volume > /www/i.html; exec sleep 600']);
    await waitFor(async () => (await d(root, ['exec', 'vol', 'cat', '/www/i.html'])).stdout === 'in volume\n', 'the volume file');
    expect(await names('vol:/www')).toEqual(['www/', 'www/i.html']);
    await ok(root, ['cp', 'vol:/www', h('fromvol')]);
    expect(readFileSync(h('fromvol', 'i.html'), 'utf8')).toBe('in volume\n');
    // Into the container: the stream's entries land in the directory.
    execFileSync('tar', ['-C', h('src'), '-cf', h('in.tar'), 'dir']);
    const r = await d(root, ['cp', '-', 'run:/t3'], { input: readFileSync(h('in.tar'), 'latin1') });
    expect(r.code, r.stderr).toBe(0);
    expect(await ok(root, ['exec', 'run', 'cat', '/t3/dir/sub/x'])).toBe('x\n');
    const notDir = await d(root, ['cp', '-', 'run:/t3/www/index.html'], { input: readFileSync(h('in.tar'), 'latin1') });
    expect(notDir.stderr).toBe('dock: cannot copy into /t3/www/index.html: not a directory\n');
    await ok(root, ['rm', '-f', '-v', 'vol']);
    await ok(root, ['volume', 'rm', 'cp-www']);
  });

  it('into and out of created and stopped containers', async () => {
    for (const ctr of ['created', 'stopped']) {
      await ok(root, ['cp', h('src', 'file'), `${ctr}:/tmp/copied`]);
      await ok(root, ['cp', h('src', 'dir'), `${ctr}:/`]);
      expect(await cat(ctr, '/tmp/copied')).toBe('file content\n');
      expect((await names(`${ctr}:/dir`)).sort()).toEqual(['dir/', 'dir/sub/', 'dir/sub/x', 'dir/top']);
      await ok(root, ['cp', `${ctr}:/tmp/copied`, h(`back-${ctr}`)]);
      expect(readFileSync(h(`back-${ctr}`), 'utf8')).toBe('file content\n');
    }
    expect(await cat('stopped', '/made')).toBe('made\n');
    // The copies are the containers' own: they see them when they run.
    await ok(root, ['start', 'created']);
    expect(await ok(root, ['exec', 'created', 'cat', '/tmp/copied', '/dir/top'])).toBe('file content\ntop\n');
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'stopped'])).toBe('exited\n');
  });

  it('-a keeps uid/gid; without it, root in the container and the caller on the host', async () => {
    await ok(root, ['cp', h('src', 'dir'), 'run:/t5plain']);
    await ok(root, ['cp', '-a', h('src', 'dir'), 'run:/t5arch']);
    expect(await ok(root, ['exec', 'run', 'stat', '-c', '%u:%g', '/t5plain/sub/x', '/t5arch/sub/x'])).toBe('0:0\n1234:5678\n');
    // The same for a tar stream on standard input (the API's copyUIDGID).
    execFileSync('tar', ['-C', h('src'), '-cf', h('owned.tar'), '--numeric-owner', 'dir']);
    await ok(root, ['exec', 'run', 'mkdir', '/t5s', '/t5sa']);
    expect((await d(root, ['cp', '-', 'run:/t5s'], { input: readFileSync(h('owned.tar'), 'latin1') })).code).toBe(0);
    expect((await d(root, ['cp', '-a', '-', 'run:/t5sa'], { input: readFileSync(h('owned.tar'), 'latin1') })).code).toBe(0);
    expect(await ok(root, ['exec', 'run', 'stat', '-c', '%u:%g', '/t5s/dir/sub/x', '/t5sa/dir/sub/x'])).toBe('0:0\n1234:5678\n');
    await ok(root, ['exec', 'run', 'sh', '-c', 'mkdir -p /t5o && echo o > /t5o/f && chown -R 42:43 /t5o']);
    await ok(root, ['cp', 'run:/t5o', h('plain')]);
    await ok(root, ['cp', '--archive', 'run:/t5o', h('arch')]);
    const own = (p: string) => `${statSync(p).uid}:${statSync(p).gid}`;
    expect(own(h('plain', 'f'))).toBe(`${process.getuid!()}:${process.getgid!()}`);
    expect(own(h('arch', 'f'))).toBe('42:43');
    expect(own(h('arch'))).toBe('42:43');
  });

  it('-L follows a symlink SRC (inside the container, keeping the link name); without -L the link itself is copied', async () => {
    await ok(root, ['cp', h('src', 'link'), 'run:/t6link']);
    await ok(root, ['cp', '-L', h('src', 'link'), 'run:/t6follow']);
    expect(await ok(root, ['exec', 'run', 'sh', '-c', 'readlink /t6link; cat /t6follow; test -L /t6follow || echo regular'])).toBe('file\nfile content\nregular\n');
    // In the container: /etc/passwd of the container, not of the host.
    await ok(root, ['exec', 'run', 'sh', '-c', 'echo container-passwd > /t6pw && ln -s /t6pw /t6pl && mkdir /t6d && echo in > /t6d/f && ln -s /t6d /t6dl']);
    await ok(root, ['cp', 'run:/t6pl', h('pl')]);
    expect(readlinkSync(h('pl'))).toBe('/t6pw');
    await ok(root, ['cp', '-L', 'run:/t6pl', h('pl2')]);
    expect(readFileSync(h('pl2'), 'utf8')).toBe('container-passwd\n');
    await ok(root, ['cp', '-L', 'run:/t6dl', h('dl')]);
    expect(lstatSync(h('dl')).isDirectory()).toBe(true);
    expect(readFileSync(h('dl', 'f'), 'utf8')).toBe('in\n');
    expect(await names('run:/t6dl')).toEqual(['t6dl']);
  });

  it("sees and writes the files the engine binds (/etc/hostname, /etc/hosts), as the container sees them", async () => {
    await ok(root, ['run', '-d', '--network', 'none', '--name', 'named', '--hostname', 'cp-host', IMG, 'sleep', '600']);
    expect(await cat('named', '/etc/hostname')).toBe('cp-host\n');
    const hosts = await ok(root, ['exec', 'named', 'cat', '/etc/hosts']);
    expect(await cat('named', '/etc/hosts')).toBe(hosts);
    writeFileSync(h('hosts'), '10.9.8.7 copied\n');
    await ok(root, ['cp', h('hosts'), 'named:/etc/hosts']);
    expect(await ok(root, ['exec', 'named', 'cat', '/etc/hosts'])).toBe('10.9.8.7 copied\n');
    await ok(root, ['rm', '-f', 'named']);
  });

  it('CVE-2018-15664: a running container is frozen while the copy runs, and thawed after', async () => {
    // A copy from a tar stream that is not finished yet: the container stays paused until it is.
    const js = await dockScript();
    const child = spawn(process.execPath, [js, 'cp', '-', 'run:/tmp'], { env: { ...process.env, DOCK_ROOT: root }, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (x) => (err += x));
    const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    try {
      await waitFor(async () => (await ok(root, ['inspect', '-f', '{{.State.Status}}', 'run'])) === 'paused\n', 'the container to be paused by cp');
      execFileSync('tar', ['-C', h('src'), '-cf', h('late.tar'), 'file']);
      child.stdin.end(readFileSync(h('late.tar')));
      expect(await closed, err).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(await ok(root, ['inspect', '-f', '{{.State.Status}}', 'run'])).toBe('running\n');
    expect(await ok(root, ['exec', 'run', 'cat', '/tmp/file'])).toBe('file content\n');
  });

  // The race itself is rarely won in a few tries (the freeze test above is what proves the
  // defence); this one checks the outcome end to end with a container doing the swapping.
  it('CVE-2018-15664: a container swapping a directory for a symlink to / during copies writes nothing on the host', async () => {
    const marker = `skiff-cp-race-${process.pid}`;
    // The swap loop: /sw/d is a directory, then a symlink to /, then a directory again.
    await ok(root, ['run', '--network', 'none', '-d', '--name', 'swapper', IMG, 'sh', '-c', 'mkdir -p /sw/d; while :; do mv /sw/d /sw/x; ln -s / /sw/d; rm /sw/d; mv /sw/x /sw/d; done']);
    writeFileSync(h(marker), 'race\n');
    writeFileSync(h('secret'), 'host secret\n');
    try {
      for (let i = 0; i < 5; i++) {
        const r = await d(root, ['cp', h(marker), 'swapper:/sw/d/']);
        // Into the directory, or through the symlink into the container's own /: never the host's.
        if (r.code !== 0) expect(r.stderr).toMatch(/^dock: [^\n]+\n$/);
        expect(existsSync(join('/', marker)), `copy ${i}`).toBe(false);
        // Out of it: a host file (absent from the container) is never what comes back.
        const out = await d(root, ['cp', `swapper:/sw/d${h('secret')}`, h('leak')]);
        if (out.code === 0) expect(readFileSync(h('leak'), 'utf8')).not.toBe('host secret\n');
        rmSync(h('leak'), { force: true });
      }
    } finally {
      rmSync(join('/', marker), { force: true });
      await ok(root, ['rm', '-f', 'swapper']);
    }
  });
});
