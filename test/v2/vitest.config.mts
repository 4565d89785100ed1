// The pure cgroup v2 + systemd tier (npm run test:v2): runs inside the qemu guest that
// scripts/vm/test-v2.sh boots, never in the main suite (vitest.config.ts does not include test/v2).
// Under software emulation everything is ~10x slower than on the host: generous timeouts, one file
// at a time so the console shows one test after the other.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/v2/**/*.test.ts', 'test/integration/cgroups-v2.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 240_000,
    hookTimeout: 240_000,
    fileParallelism: false,
    reporters: ['verbose'],
  },
});
