// What this host has, for tests that depend on it: tools (installed once by scripts/test-setup.sh,
// never by a test) and kernel features. A test that cannot run here is skipped through skipWhen(),
// which records the reason; the run ends with a summary of every reason (test/summary-reporter.ts),
// so a reader knows what the run did not prove.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

export const isRoot = process.getuid?.() === 0;

const found = new Map<string, boolean>();
function has(cmd: string): boolean {
  let v = found.get(cmd);
  if (v === undefined) {
    v = spawnSync('sh', ['-c', `command -v '${cmd}'`], { stdio: 'ignore' }).status === 0;
    found.set(cmd, v);
  }
  return v;
}

/** Why a test needing these commands cannot run here, or undefined when they are all installed. */
export function needTools(...cmds: string[]): string | undefined {
  const missing = cmds.filter((c) => !has(c));
  return missing.length ? `${missing.join(', ')} not installed (scripts/test-setup.sh installs it)` : undefined;
}

export function needRoot(): string | undefined {
  return isRoot ? undefined : 'needs root';
}

const CG = '/sys/fs/cgroup';
const cgroupV2 = existsSync(join(CG, 'cgroup.controllers'));

function v1Hierarchy(controller: string): string | undefined {
  if (cgroupV2 || !existsSync(CG)) return undefined;
  const name = readdirSync(CG).find((h) => h.split(',').includes(controller));
  return name && join(CG, name);
}

function v2Controllers(): string[] {
  try {
    return readFileSync(join(CG, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** Host features; each returns why it is missing, or undefined when present. */
export const hostFeature = {
  /**
   * A block I/O weight file: blkio.weight (CFQ) or blkio.bfq.weight (BFQ) on v1, io.weight or
   * io.bfq.weight on v2. Disks on the `none` or mq-deadline scheduler have neither.
   */
  blkioWeight(): string | undefined {
    if (cgroupV2) {
      if (!v2Controllers().includes('io')) return 'the io cgroup controller is not enabled';
      // The root has no weight files; a child of the root shows which ones the kernel offers.
      const child = readdirSync(CG, { withFileTypes: true }).find((e) => e.isDirectory() && existsSync(join(CG, e.name, 'io.stat')));
      if (child && !['io.weight', 'io.bfq.weight'].some((f) => existsSync(join(CG, child.name, f)))) return 'no io.weight or io.bfq.weight (no BFQ scheduler and no io.cost)';
      return undefined;
    }
    const h = v1Hierarchy('blkio');
    if (!h) return 'the blkio cgroup controller is not mounted';
    if (!existsSync(join(h, 'blkio.weight')) && !existsSync(join(h, 'blkio.bfq.weight'))) {
      return `no blkio.weight or blkio.bfq.weight (no CFQ/BFQ I/O scheduler: ${schedulers()})`;
    }
    return undefined;
  },
  hugetlb(): string | undefined {
    if (cgroupV2) return v2Controllers().includes('hugetlb') ? undefined : 'the hugetlb cgroup controller is not enabled';
    return v1Hierarchy('hugetlb') ? undefined : 'the hugetlb cgroup controller is not mounted';
  },
  apparmor(): string | undefined {
    return existsSync('/sys/kernel/security/apparmor') ? undefined : 'AppArmor is not enabled on this host';
  },
  /** 32-bit x86 system calls (CONFIG_IA32_EMULATION, not disabled by ia32_emulation=0). */
  i386(): string | undefined {
    if (process.arch !== 'x64') return `not an x86-64 host (${process.arch})`;
    if (/\bia32_emulation=(0|n|off)\b/.test(readFileSync('/proc/cmdline', 'utf8'))) return 'i386 system calls are disabled (ia32_emulation=0)';
    const cfg = kernelConfig();
    if (cfg !== undefined && !/^CONFIG_IA32_EMULATION=y$/m.test(cfg)) return 'the kernel has no i386 system calls (CONFIG_IA32_EMULATION)';
    return undefined;
  },
};

function schedulers(): string {
  const seen = new Set<string>();
  for (const d of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    try {
      const m = /\[(\S+)\]/.exec(readFileSync(`/sys/block/${d}/queue/scheduler`, 'utf8'));
      if (m) seen.add(m[1]);
    } catch {
      /* no queue */
    }
  }
  return seen.size ? `disks use ${[...seen].join(', ')}` : 'no disk schedulers found';
}

function kernelConfig(): string | undefined {
  const r = spawnSync('zcat', ['/proc/config.gz'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status === 0) return r.stdout;
  try {
    return readFileSync(`/boot/config-${spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout.trim()}`, 'utf8');
  } catch {
    return undefined;
  }
}

/** The run's scratch directory (vitest.config.mts makes one per run). */
export const RUN_DIR = process.env.SKIFF_TEST_RUN ?? '';


/**
 * Records a host difference for the end-of-run summary: `why` is what this run could not prove
 * here (a skipped test, or a check left out of one). Returns whether there is one, for skipIf:
 *   describe.skipIf(skipWhen(needTools('podman')))('...', () => { ... })
 */
export function skipWhen(...whys: (string | undefined)[]): boolean {
  const why = whys.filter(Boolean).join('; ');
  if (why && RUN_DIR) {
    const s = expect.getState();
    appendFileSync(join(RUN_DIR, 'host-differences'), `${JSON.stringify({ file: s.testPath ?? 'unknown file', test: s.currentTestName, why })}\n`);
  }
  return !!why;
}
