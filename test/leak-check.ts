// Runs in every test file (vitest setupFiles): gives the file a temp dir of its own (TMPDIR, so every
// tmpdir()/mkdtemp of the tests and of the tools they start lands in it) and a marker in the
// environment of every process it starts; after the file, checks that it left nothing behind:
// processes carrying its marker, mounts and directories under its temp dir and the state roots it
// registered, cgroups of those roots, network namespaces it named, interfaces in the host netns.
// What it finds is reported (in the end-of-run summary, with the file's name) and removed, so one
// file's leak never fails the next file. SKIFF_TEST_LEAKS=fail makes a leak fail the file.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { RUN_DIR } from './host';

const isRoot = process.getuid?.() === 0;
const file = expect.getState().testPath ?? 'unknown file';
const dir = mkdtempSync('/tmp/skt');
chmodSync(dir, 0o1777); // like /tmp: tests run tools as other users (rootless tests)
// A file whose every test is skipped runs no afterAll: the suite's teardown removes what is listed here.
if (RUN_DIR) appendFileSync(join(RUN_DIR, 'tmpdirs'), `${dir}\n`);
const mark = `${dir.slice(5)}`;
process.env.TMPDIR = dir;
process.env.SKIFF_TEST_MARK = mark;

/** Paths outside the file's temp dir that hold state of its own (dock roots need short /tmp paths). */
const owned = new Set<string>([dir]);
export function ownPath(p: string): void {
  owned.add(p);
}
(globalThis as { __skiffOwnPath?: (p: string) => void }).__skiffOwnPath = ownPath;

const CG = '/sys/fs/cgroup';

function hostLinks(): Set<string> {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return new Set((r.stdout ?? '').split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0]).filter(Boolean));
}
const linksBefore = isRoot ? hostLinks() : new Set<string>();

function mountsUnder(prefixes: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && prefixes.some((x) => p === x || p.startsWith(x + '/')))
    .sort((a, b) => b.length - a.length);
}

/** Processes (other than this one) whose environment carries the file's marker. */
function markedProcesses(): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  const needle = `SKIFF_TEST_MARK=${mark}\0`;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${p}/environ`, 'latin1').includes(needle)) continue;
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'latin1').split('\0').join(' ').trim();
      // esbuild's service (the fixtures bundle dock with it) lives as long as the test file's process.
      if (/\/esbuild --service=/.test(cmd)) continue;
      out.push({ pid: Number(p), cmd: cmd.slice(0, 160) });
    } catch {
      /* gone, or a kernel thread */
    }
  }
  return out;
}

/**
 * cgroup directories `skiff/<hash of root>` (skiff's default paths) of the file's roots, and of the
 * build runtime inside each dock root (`build/runtime`: the containers of RUN steps).
 */
function rootCgroups(roots: string[]): string[] {
  if (!existsSync(CG)) return [];
  const hashes = roots.flatMap((r) => [r, join(r, 'build', 'runtime')]).map((r) => createHash('sha256').update(r).digest('hex').slice(0, 12));
  const out: string[] = [];
  const hierarchies = existsSync(join(CG, 'cgroup.controllers')) ? [''] : readdirSync(CG);
  for (const h of hierarchies) {
    for (const x of hashes) {
      const d = join(CG, h, 'skiff', x);
      if (existsSync(d)) out.push(d);
    }
  }
  return out;
}

function removeCgroup(d: string): void {
  for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) removeCgroup(join(d, e.name));
  try {
    rmdirSync(d);
  } catch {
    /* still has processes */
  }
}

async function check(): Promise<string[]> {
  const found: string[] = [];
  // Processes first: they may hold the mounts and cgroups. Give exits under way a moment.
  const deadline = Date.now() + 10_000;
  let procs = markedProcesses();
  while (procs.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    procs = markedProcesses();
  }
  for (const p of procs) {
    found.push(`process ${p.pid}: ${p.cmd}`);
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const roots = [...owned];
  for (const m of mountsUnder(roots)) {
    found.push(`mount ${m}`);
    spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  }
  // Plain temp files are removed below without a word; state roots outside the temp dir are leaks.
  const stateRoots = existsSync(dir) ? readdirSync(dir).map((e) => join(dir, e)) : [];
  for (const r of roots) if (r !== dir && existsSync(r)) found.push(`state dir ${r}`);
  for (const d of rootCgroups([...roots, ...stateRoots])) {
    found.push(`cgroup ${d}`);
    removeCgroup(d);
  }
  for (const ns of existsSync('/run/netns') ? readdirSync('/run/netns') : []) {
    if (ns.startsWith(`skiff-t-${process.pid}-`)) {
      found.push(`network namespace ${ns}`);
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  }
  if (isRoot) for (const l of hostLinks()) if (!linksBefore.has(l)) found.push(`interface ${l} in the host network namespace (appeared during the file; not removed)`);
  for (const r of roots) rmSync(r, { recursive: true, force: true });
  return found;
}

afterAll(async () => {
  const found = await check();
  if (!found.length) return;
  if (RUN_DIR) appendFileSync(join(RUN_DIR, 'leaks'), `${JSON.stringify({ file, found })}\n`);
  if (process.env.SKIFF_TEST_LEAKS === 'fail') throw new Error(`${file} left behind:\n  ${found.join('\n  ')}`);
}, 60_000);
