import { defineConfig } from '@playwright/test'
import { DEFAULT_ALLOWED_ORIGINS } from './mocks/core/config.ts'

// End-to-end suite (e2e/): the reference client and the control panel in Debian's Chromium
// (`apt-get install -y chromium`; never `playwright install`), against the mocks started by
// `pnpm dev:mocks`. Every test runs in its own tenant (the fixtures in mocks/playwright create
// one from its scenario and delete it after), so the tests run in parallel on one set of mocks.
//
// Ports follow the mocks' own env (MOCKS_CONTROL_PORT, MOCKS_CHAT_PORT, ...), so the suite can
// run beside mocks already on the default ports; the demo's origin is then added to the CORS
// allow-list the mocks start with.

const controlPort = Number(process.env.MOCKS_CONTROL_PORT ?? 8090)
const baseURL = `http://127.0.0.1:${controlPort}`
// The fixtures in mocks/playwright read it (worker processes inherit the env).
process.env.MOCKS_CONTROL_URL ??= baseURL

const allowedOrigins =
  process.env.MOCKS_ALLOWED_ORIGINS ??
  [...new Set([...DEFAULT_ALLOWED_ORIGINS, baseURL, `http://localhost:${controlPort}`])].join(',')

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results/e2e',
  // The machine has 2 cores; every test is its own world, so files and tests interleave freely.
  workers: Number(process.env.E2E_WORKERS ?? 2),
  fullyParallel: true,
  forbidOnly: Boolean(process.env.CI),
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL,
    browserName: 'chromium',
    viewport: { width: 1280, height: 860 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    trace: 'retain-on-failure',
  },
  webServer: {
    command: 'pnpm dev:mocks',
    url: `${baseURL}/__mocks/health`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { MOCKS_ALLOWED_ORIGINS: allowedOrigins, MOCKS_LOG_LEVEL: process.env.MOCKS_LOG_LEVEL ?? 'warn' },
  },
})
