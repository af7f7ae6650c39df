import { defineConfig } from 'vitest/config'

// The documented install and the README's blocks (tests/install): slow, so outside
// `pnpm vitest run`; `pnpm test:install` runs them, and .ci/run calls that.
export default defineConfig({
  test: {
    include: ['tests/install/**/*.test.ts'],
    pool: 'forks',
    // One file at a time: both rebuild dist/ (pnpm pack and npm run setup run prepare).
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
})
