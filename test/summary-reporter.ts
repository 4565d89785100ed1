// Prints, after vitest's own summary, what the run did not prove and what it left behind:
// - every skipped test with its reason (ctx.skip(note), or the host differences that skipWhen()
//   recorded for its file), grouped by reason;
// - host differences recorded inside tests that ran (a check left out on this host);
// - the leaks that test/leak-check.ts found after each file.
// The records live in the run's scratch directory (SKIFF_TEST_RUN, made by vitest.config.mts).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

function lines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const run = process.env.SKIFF_TEST_RUN;
    if (!run) return;
    const rel = (f: string) => relative(process.cwd(), f);
    const host = lines<{ file: string; why: string; test?: string }>(join(run, 'host-differences'));
    const leaks = lines<{ file: string; found: string[] }>(join(run, 'leaks'));
    const byFile = new Map<string, string[]>();
    for (const h of host) if (!h.test) byFile.set(h.file, [...new Set([...(byFile.get(h.file) ?? []), h.why])]);

    // reason -> file -> skipped test count
    const skipped = new Map<string, Map<string, number>>();
    const add = (why: string, file: string) => {
      const m = skipped.get(why) ?? new Map<string, number>();
      m.set(file, (m.get(file) ?? 0) + 1);
      skipped.set(why, m);
    };
    for (const mod of modules) {
      for (const t of mod.children.allTests()) {
        const r = t.result();
        if (r.state !== 'skipped') continue;
        const why = r.note ?? byFile.get(mod.moduleId)?.join('; ') ?? 'no reason recorded (it.skip / skipIf without skipWhen)';
        add(why, rel(mod.moduleId));
      }
    }
    const out: string[] = [];
    if (skipped.size) {
      out.push('Skipped (what this run did not prove, and why):');
      for (const [why, files] of [...skipped].sort((a, b) => a[0].localeCompare(b[0]))) {
        const n = [...files.values()].reduce((a, b) => a + b, 0);
        out.push(`  ${n} test${n > 1 ? 's' : ''}: ${why}`);
        for (const [f, c] of files) out.push(`      ${f} (${c})`);
      }
    }
    const partial = host.filter((h) => h.test);
    if (partial.length) {
      out.push('Checks left out on this host (the tests ran without them):');
      for (const h of partial) out.push(`  ${rel(h.file)} > ${h.test}: ${h.why}`);
    }
    if (leaks.length) {
      out.push('Left behind after a test file (found and removed by test/leak-check.ts):');
      for (const l of leaks) {
        out.push(`  ${rel(l.file)}:`);
        for (const f of l.found) out.push(`      ${f}`);
      }
    }
    if (out.length) process.stdout.write(`\n${out.join('\n')}\n`);
    // The test files' temp dirs (leak-check.ts lists them): a file whose every test was skipped ran no
    // afterAll to remove its own.
    const tmpdirs = join(run, 'tmpdirs');
    if (existsSync(tmpdirs)) for (const d of readFileSync(tmpdirs, 'utf8').split('\n')) if (d.startsWith('/tmp/skt')) rmSync(d, { recursive: true, force: true });
    rmSync(run, { recursive: true, force: true });
  }
}
