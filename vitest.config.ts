import { defineConfig } from 'vitest/config'

export const config = defineConfig({
  test: {
    include: ['mocks/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
})

export default config
