import { loadConfig } from '../../mocks/runtime/config.ts'
import { startMocks } from '../../mocks/runtime/runtime.ts'
import { http } from './support.ts'

// Child process of security.test.ts, run inside a private network namespace where the
// loopback interface also carries REMOTE_ADDRESS (a non-loopback address nobody else can
// reach). The mocks listen on 0.0.0.0 there, as in compose, and the control plane is called
// from 127.0.0.1 and from REMOTE_ADDRESS: once without MOCKS_CONTROL_TOKEN, once with
// REMOTE_CONTROL_TOKEN set, presenting no, a wrong and the right bearer. Prints JSON.

const remote = process.env.REMOTE_ADDRESS ?? '10.77.0.1'

async function probe(token: string | undefined) {
  // Only the auth fake: a child process that imports every fake would start seconds slower.
  const config = loadConfig({ MOCKS_HOST: '0.0.0.0', ...(token ? { MOCKS_CONTROL_TOKEN: token } : {}) })
  const mocks = await startMocks({ config, only: ['auth'], ephemeralPorts: true })
  try {
    const controlPort = String(mocks.control?.port)
    const authPort = String(mocks.services.get('auth')?.server?.port)
    const call = async (host: string, port: string, path: string, headers: Record<string, string> = {}) => {
      const a = await http(`http://${host}:${port}`, { path, headers })
      return { status: a.status, body: a.text.slice(0, 300) }
    }
    const out = {
      token: Boolean(token),
      loopback: await call('127.0.0.1', controlPort, '/__mocks/health'),
      remote: await call(remote, controlPort, '/__mocks/health'),
      remoteWrongToken: await call(remote, controlPort, '/__mocks/health', { authorization: 'Bearer wrong' }),
      remoteRightToken: await call(remote, controlPort, '/__mocks/health', {
        authorization: `Bearer ${token ?? ''}`,
      }),
      remoteScenarioSwitch: await http(`http://${remote}:${controlPort}`, {
        method: 'PUT',
        path: '/__mocks/scenario',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'auth-down' }),
      }).then((a) => ({ status: a.status, body: a.text.slice(0, 300) })),
      scenarioAfter: mocks.scenario.name,
      // Each fake's own /__mocks slice is guarded the same way; its service API is not.
      remoteSlice: await call(remote, authPort, '/__mocks/faults'),
      remoteServiceApi: await call(remote, authPort, '/api/auth/ok'),
    }
    return out
  } finally {
    await mocks.close()
  }
}

async function main() {
  const open = await probe(undefined)
  const guarded = await probe(process.env.REMOTE_CONTROL_TOKEN || 'control-token')
  process.stdout.write(`${JSON.stringify({ open, guarded })}\n`)
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  },
)
