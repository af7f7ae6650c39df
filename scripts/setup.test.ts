import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// scripts/setup.sh with stand-ins for pnpm, npm and npx on PATH (each records its arguments):
// a developer's pnpm is used when it installs the lockfile and never replaced; pnpm is
// installed globally only when there is none, saying so; quiet unless --verbose.

const SETUP = fileURLToPath(new URL('./setup.sh', import.meta.url))

function fakeBin(opts: { pnpm?: { version: string; installFails?: boolean } }) {
  const bin = mkdtempSync(join(tmpdir(), 'setup-bin-'))
  const calls = join(bin, 'calls.log')
  writeFileSync(calls, '')
  // PATH is this folder alone (the machine's own pnpm lives in /usr/bin): the few tools
  // setup.sh and the stand-ins use are linked in.
  for (const tool of ['sh', 'dirname', 'mktemp', 'rm', 'tail', 'cat', 'chmod'])
    symlinkSync(`/usr/bin/${tool}`, join(bin, tool))
  const pnpmScript = (version: string, fails: boolean) => `#!/bin/sh
echo "pnpm $*" >> "${calls}"
if [ "$1" = "--version" ]; then echo ${version}; exit 0; fi
echo "NOISY PNPM OUTPUT: progress, build scripts, update notice"
${fails ? 'echo "ERR_PNPM_LOCKFILE_BREAKING_CHANGE"; exit 1' : 'exit 0'}
`
  const write = (name: string, body: string) => {
    writeFileSync(join(bin, name), body)
    chmodSync(join(bin, name), 0o755)
  }
  if (opts.pnpm) write('pnpm', pnpmScript(opts.pnpm.version, opts.pnpm.installFails ?? false))
  // `npm install -g pnpm@x` puts a pnpm on PATH, as the real one does.
  write(
    'npm',
    `#!/bin/sh
echo "npm $*" >> "${calls}"
echo "NOISY NPM OUTPUT"
cat > "${bin}/pnpm" <<'PNPM'
${pnpmScript('12.4.2', false)}PNPM
chmod +x "${bin}/pnpm"
`,
  )
  write('npx', `#!/bin/sh\necho "npx $*" >> "${calls}"\necho "NOISY NPX OUTPUT"\n`)
  return { bin, calls: () => readFileSync(calls, 'utf8').trim().split('\n').filter(Boolean) }
}

function setup(bin: string, args: string[] = []) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    execFile('/usr/bin/bash', [SETUP, ...args], { env: { PATH: bin, HOME: bin } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr }),
    )
  })
}

describe('npm run setup', () => {
  it("uses the developer's own pnpm when it installs the lockfile, quietly", async () => {
    const f = fakeBin({ pnpm: { version: '10.9.0' } })
    const r = await setup(f.bin)
    expect(r.code).toBe(0)
    expect(f.calls()).toEqual(['pnpm --version', 'pnpm install --frozen-lockfile'])
    expect(r.out).toMatch(/with pnpm 10\.9\.0/)
    expect(r.out).not.toMatch(/NOISY/)
    expect(r.out.trim().split('\n').length).toBeLessThanOrEqual(2)
  })

  it('never replaces it: when it cannot install the lockfile, pnpm@12.4.2 runs once through npx, saying so', async () => {
    const f = fakeBin({ pnpm: { version: '8.15.0', installFails: true } })
    const r = await setup(f.bin)
    expect(r.code).toBe(0)
    expect(f.calls()).toEqual([
      'pnpm --version',
      'pnpm install --frozen-lockfile',
      'npx --yes pnpm@12.4.2 install --frozen-lockfile',
    ])
    expect(f.calls().some((c) => c.startsWith('npm install -g'))).toBe(false)
    expect(r.out).toMatch(/pnpm 8\.15\.0 could not install the lockfile.*your pnpm stays as it is/)
  })

  it('installs pnpm globally only when there is none, and says so', async () => {
    const f = fakeBin({})
    const r = await setup(f.bin)
    expect(r.code).toBe(0)
    expect(f.calls()).toEqual([
      'npm install -g --loglevel=error pnpm@12.4.2',
      'pnpm --version',
      'pnpm install --frozen-lockfile',
    ])
    expect(r.out).toMatch(/no pnpm found; installing pnpm@12\.4\.2 globally/)
    expect(r.out).not.toMatch(/NOISY/)
  })

  it('--verbose shows the full log; a failure shows it too', async () => {
    const f = fakeBin({ pnpm: { version: '12.4.2' } })
    expect((await setup(f.bin, ['--verbose'])).out).toMatch(/NOISY PNPM OUTPUT/)
    const broken = fakeBin({ pnpm: { version: '12.4.2', installFails: true } })
    const r = await setup(broken.bin)
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/pnpm install --frozen-lockfile failed[\s\S]*ERR_PNPM_LOCKFILE_BREAKING_CHANGE/)
    expect(broken.calls().some((c) => c.startsWith('npx'))).toBe(false)
  })
})
