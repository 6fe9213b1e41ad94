import { defineConfig } from 'vitest/config';

// The opt-in tests against a real cluster (FRACTA_K8S_E2E=1 npm run test:cluster); never part of npm test.
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 60_000,
  },
});
