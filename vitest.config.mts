import { mkdtempSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The run's scratch directory: skip reasons and leak reports from the test files (inherited by the
// workers), read by the summary reporter at the end of the run.
process.env.SKIFF_TEST_RUN ??= mkdtempSync('/tmp/skiff-run-');
// dock's default network is Docker's default bridge. A test runs dock's containers and builds with
// `--network none` or inside a network namespace of its own (DOCK_HOST_NETNS, set by the test);
// one that forgets must fail, never make a bridge, a veth or a rule in the machine's network: this
// namespace does not exist, so every kernel step of the network library refuses to run.
process.env.DOCK_HOST_NETNS ??= '/run/netns/skiff-tests-never-the-host-network';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/compat/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    setupFiles: ['test/leak-check.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Containers are real: keep parallelism modest on a 2-core machine.
    maxWorkers: 2,
  },
});
