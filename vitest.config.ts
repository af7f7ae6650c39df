import { configDefaults, defineConfig } from 'vitest/config'

// msw's `ws.link` intercepts the global WebSocket, which Node 20 only defines with
// --experimental-websocket (Node 22 has it by default, and may drop the flag): the msw tests
// run in their own project whose workers get the flag when this Node needs it. Every other
// test runs exactly as before.
const MSW_TESTS = 'mocks/msw/**/*.test.ts'
const WEBSOCKET_FLAGS = typeof globalThis.WebSocket === 'undefined' ? ['--experimental-websocket'] : []

export const config = defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['mocks/**/*.test.ts', 'tests/**/*.test.ts', 'scripts/**/*.test.ts'],
          // tests/install (the packed package in scratch projects) is slow: `pnpm test:install`.
          exclude: [...configDefaults.exclude, MSW_TESTS, 'tests/install/**'],
        },
      },
      {
        extends: true,
        test: { name: 'msw', include: [MSW_TESTS], execArgv: WEBSOCKET_FLAGS },
      },
      // The benchmark harness smoke test spawns CPU-heavy servers: it runs after the others so
      // their timing assertions do not share the machine with it.
      {
        extends: true,
        test: { name: 'bench', include: ['bench/**/*.test.ts'], sequence: { groupOrder: 1 } },
      },
    ],
  },
})

export default config
