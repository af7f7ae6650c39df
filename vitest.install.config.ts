import { defineConfig } from 'vitest/config'

// The documented install (tests/install): slow, so outside `pnpm vitest run`; `pnpm test:install`
// runs it, and .ci/run calls that.
export default defineConfig({
  test: {
    include: ['tests/install/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 240_000,
  },
})
