import { availableParallelism } from 'node:os'
import { defineConfig } from 'vitest/config'

// One config for the whole repository. Tests import sibling packages through their
// published entry points (dist), so `pnpm build` runs first; see scripts/run.mjs.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts', 'tools/*/test/**/*.test.ts'],
    // Native addons (onnxruntime, better-sqlite3) and libp2p sockets are happiest in child processes.
    pool: 'forks',
    // Most test files wait on sockets, timers and child processes rather than compute, so two run
    // side by side even on a 2-core machine (vitest's default there is one at a time).
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000,
    allowOnly: false,
    passWithNoTests: false,
    reporters: ['default', './scripts/summary-reporter.mjs'],
  },
})
