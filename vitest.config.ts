import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the agent and the dashboard once: end-to-end tests load what users load.
    globalSetup: ['test/helpers/globalSetup.ts'],
    // chDB binds one data directory per process: each test file runs in its own process.
    pool: 'forks',
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: 'test-output/vitest.json' }]],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
