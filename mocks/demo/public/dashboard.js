// The presenter's control panel: scenario picker, one switch per service and failure, the
// faults in force, and the journal live. Everything goes through the control API (/__mocks/*),
// exactly as a test or the CLI would drive it.

import { requestId } from './lib/http.js'

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
const SERVICES = ['chat', 'media', 'auth', 'v01t', 'db']
/** Services every tenant shares (their faults belong to the default tenant). */
const SHARED = ['db']
/** HTTP services (db speaks raw TCP: no status to answer with). */
const HTTP = ['chat', 'media', 'auth', 'v01t']
const JOURNAL_ROWS = 300

/** Switch kind → the faults it installs for a service (ids `demo-<service>-<kind>[-n]`). */
const SWITCHES = {
  down: { label: 'down', services: SERVICES, faults: () => [{ effect: { type: 'down' } }] },
  '5xx': { label: '5xx', services: HTTP, faults: () => [{ effect: { type: 'status', status: 503 } }] },
  latency: {
    label: 'latency',
    services: SERVICES,
    faults: () => [{ effect: { type: 'latency', ms: latencyMs() } }],
  },
  413: {
    label: '413',
    services: ['media'],
    faults: () => [
      { match: { method: 'POST', path: '/api/v1/upload' }, effect: { type: 'status', status: 413 } },
    ],
  },
  'ws-drop': {
    label: 'WS drop',
    services: ['chat'],
    // New sockets are cut 2 s after opening; open ones at their next frame (ping, typing...).
    faults: () => [
      { effect: { type: 'ws-drop', afterMs: 2000, code: 1006 } },
      { match: { ws: 'message' }, effect: { type: 'ws-drop', code: 1006 } },
    ],
  },
  // db (family-hub's Postgres): new connections cut with RST, established ones at their next
  // query. Its down and latency are the columns above (latency: per packet, the handshake too).
  reset: { label: 'reset', services: ['db'], faults: () => [{ effect: { type: 'reset' } }] },
}

/** Column order of the switch table (an object's integer-like keys such as '413' would sort first). */
const KINDS = ['down', '5xx', 'latency', '413', 'ws-drop', 'reset']

const state = {
  /** @type {{ id: string, service: string, source: string, state: string, fired: number, effect: any, match?: any }[]} */
  faults: [],
  /** @type {{ name: string, description: string }[]} */
  scenarios: [],
  paused: false,
  /** The presenter picked a scenario and has not applied it yet. */
  picking: false,
  /** The tenant watched and driven (`?tenant=` in the page's URL; default: the default tenant). */
  tenant: new URLSearchParams(location.search).get('tenant') || 'default',
  /** @type {{ id: string, scenario: string | null, faults: number, journal: number, openSockets: number }[]} */
  tenants: [],
}

function latencyMs() {
  const v = Number(/** @type {HTMLInputElement} */ ($('latency-ms')).value)
  return Number.isInteger(v) && v >= 0 ? v : 3000
}

// ---- control API ----

function token() {
  return sessionStorage.getItem('mocks-control-token') ?? ''
}

async function control(method, path, body) {
  const headers = { 'X-Request-ID': requestId() }
  // Every call acts on the watched tenant (the tenant collection itself belongs to none).
  const tenant = state.tenant
  if (tenant !== 'default' && !path.startsWith('/tenants')) headers['X-Mocks-Tenant'] = tenant
  if (body !== undefined) headers['content-type'] = 'application/json'
  if (token()) headers.authorization = `Bearer ${token()}`
  let res
  try {
    res = await fetch(`/__mocks${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    })
  } catch (err) {
    status(`control plane unreachable (${err instanceof Error ? err.message : err})`)
    throw err
  }
  const text = await res.text()
  const data = text ? JSON.parse(text) : null
  if (res.status === 401 || res.status === 403) {
    // Beyond loopback (compose) the control API wants MOCKS_CONTROL_TOKEN.
    const given = prompt(`${data?.error ?? 'The control API refused the call'}.\nMOCKS_CONTROL_TOKEN:`)
    if (given) {
      sessionStorage.setItem('mocks-control-token', given)
      return control(method, path, body)
    }
  }
  if (res.status === 404 && data?.code === 'unknown_tenant' && tenant !== 'default') {
    // The watched tenant ended (its test finished, or it sat idle): back to the default one.
    if (state.tenant === tenant) {
      watch('default')
      status(`tenant ${tenant} is gone (deleted or idle): watching the default tenant`)
    }
    throw new Error(data.error)
  }
  if (!res.ok) {
    const issues = data?.issues?.map((i) => `${i.path}: ${i.message}`).join('; ')
    status(`${method} ${path}: ${data?.error ?? res.status}${issues ? ` (${issues})` : ''}`)
    throw new Error(data?.error ?? `HTTP ${res.status}`)
  }
  return data
}

function status(text) {
  $('control-status').textContent = text ? `· ${text}` : ''
}

// ---- scenario ----

async function loadScenarios() {
  const { scenarios } = await control('GET', '/scenarios')
  state.scenarios = scenarios
  const select = /** @type {HTMLSelectElement} */ ($('scenario-select'))
  select.replaceChildren(...scenarios.map((s) => new Option(s.name, s.name)))
}

async function refresh() {
  try {
    const tenant = state.tenant
    const [health, faults] = await Promise.all([control('GET', '/health'), control('GET', '/faults')])
    // The presenter switched tenants meanwhile: the newer refresh renders.
    if (tenant !== state.tenant) return
    $('current-scenario').textContent = health.scenario ?? '(none)'
    const s = state.scenarios.find((x) => x.name === health.scenario)
    $('scenario-description').textContent = s?.description ?? ''
    const select = /** @type {HTMLSelectElement} */ ($('scenario-select'))
    // Follow the scenario in force unless the presenter has picked another one and not
    // applied it yet (a refresh landing between the pick and Apply must not undo the pick).
    if (!state.picking && document.activeElement !== select && health.scenario) select.value = health.scenario
    state.faults = faults.faults
    renderSwitches()
    renderFaults()
  } catch {
    // status() already says what failed; the next refresh tries again.
  }
}

// ---- switches ----

const switchIds = (service, kind) =>
  SWITCHES[kind].faults().map((_, i) => `demo-${service}-${kind}${i ? `-${i + 1}` : ''}`)

function renderSwitches() {
  const rows = SERVICES.map((service) => {
    const tr = document.createElement('tr')
    const th = document.createElement('th')
    th.scope = 'row'
    th.textContent = service
    tr.append(th)
    for (const kind of KINDS) {
      const spec = SWITCHES[kind]
      const td = document.createElement('td')
      if (spec.services.includes(service)) {
        const on = state.faults.some((f) => f.id === switchIds(service, kind)[0])
        const b = document.createElement('button')
        b.type = 'button'
        b.className = 'switch'
        b.setAttribute('aria-pressed', String(on))
        b.setAttribute('aria-label', `${service} ${spec.label}`)
        b.dataset.testid = `switch-${service}-${kind}`
        b.textContent = on ? 'on' : 'off'
        // The database is shared by every tenant (the default tenant's): its switches act only
        // when the default tenant is watched.
        if (SHARED.includes(service) && state.tenant !== 'default') {
          b.disabled = true
          b.title = `${service} is shared by every tenant: switch it while watching the default tenant`
        }
        b.addEventListener('click', () => void toggle(service, kind, !on))
        td.append(b)
      }
      tr.append(td)
    }
    return tr
  })
  $('switch-rows').replaceChildren(...rows)
}

async function toggle(service, kind, on) {
  const ids = switchIds(service, kind)
  try {
    if (on) {
      const faults = SWITCHES[kind].faults()
      for (const [i, f] of faults.entries()) await control('POST', '/faults', { ...f, id: ids[i], service })
      status(`${service}: ${SWITCHES[kind].label} on`)
    } else {
      for (const id of ids)
        await control('DELETE', `/faults/${encodeURIComponent(id)}`).catch(() => undefined)
      status(`${service}: ${SWITCHES[kind].label} off`)
    }
  } finally {
    await refresh()
  }
}

// ---- faults in force ----

function summary(f) {
  const e = f.effect
  const what =
    e.type === 'status' || e.type === 'ws-reject'
      ? `${e.type} ${e.status}`
      : e.type === 'latency'
        ? `latency ${e.ms} ms`
        : e.type === 'ws-drop'
          ? `ws-drop ${e.code}${e.afterMs !== undefined ? ` after ${e.afterMs} ms` : ''}`
          : e.type
  const match = f.match
    ? ` on ${Object.entries(f.match)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(' ')}`
    : ''
  return `${f.service}: ${what}${match}`
}

function renderFaults() {
  const list = $('faults')
  if (!state.faults.length) {
    const li = document.createElement('li')
    li.className = 'muted'
    li.textContent = 'none: every service healthy'
    list.replaceChildren(li)
    return
  }
  list.replaceChildren(
    ...state.faults.map((f) => {
      const li = document.createElement('li')
      li.className = f.state
      const text = document.createElement('span')
      text.textContent = `${summary(f)} · ${f.source} · ${f.state} · fired ${f.fired}`
      const rm = document.createElement('button')
      rm.type = 'button'
      rm.className = 'small secondary'
      rm.textContent = 'Remove'
      rm.setAttribute('aria-label', `Remove fault ${f.id}`)
      rm.addEventListener('click', async () => {
        await control('DELETE', `/faults/${encodeURIComponent(f.id)}`).catch(() => undefined)
        await refresh()
      })
      const id = document.createElement('code')
      id.textContent = f.id
      li.append(id, ' ', text, ' ', rm)
      return li
    }),
  )
}

// ---- journal ----

function shown(entry) {
  const services = [...document.querySelectorAll('input[name="svc"]:checked')].map(
    (i) => /** @type {HTMLInputElement} */ (i).value,
  )
  if (!services.includes(entry.service)) return false
  if (
    (entry.kind === 'ws-in' || entry.kind === 'ws-out') &&
    !(/** @type {HTMLInputElement} */ ($('show-frames')).checked)
  )
    return false
  return true
}

function addRow(entry) {
  if (state.paused || !shown(entry)) return
  const tr = document.createElement('tr')
  const code = entry.kind === 'http' ? entry.status : entry.code
  tr.className =
    typeof code === 'number' && code >= 500 ? 'err' : typeof code === 'number' && code >= 400 ? 'warn' : ''
  const request =
    entry.kind === 'http'
      ? `${entry.method} ${entry.path}${entry.query ?? ''}`
      : entry.kind.startsWith('tcp-')
        ? // db connections: opened, a query a fault acted on, closed with the bytes each way.
          `TCP ${entry.kind.slice(4)} #${entry.connection ?? '?'}${entry.path ? ` ${entry.path}` : ''}${entry.kind === 'tcp-close' ? ` (${entry.bytesIn ?? 0} B in, ${entry.bytesOut ?? 0} B out)` : ''}`
        : `WS ${entry.kind.slice(3)}${entry.frame ? ` ${entry.frame.slice(0, 80)}` : ''}`
  const cells = [
    `${new Date(entry.time).toLocaleTimeString('en-GB')}.${entry.time.slice(20, 23)}`,
    entry.service,
    request,
    code ?? (entry.kind === 'http' ? 'no answer' : ''),
    entry.durationMs ?? '',
    entry.fault ? `${entry.fault.id} (${entry.fault.type})` : '',
  ]
  for (const c of cells) {
    const td = document.createElement('td')
    td.textContent = String(c)
    tr.append(td)
  }
  const body = $('journal')
  body.prepend(tr)
  while (body.children.length > JOURNAL_ROWS) body.lastElementChild?.remove()
}

/** The journal stream being read (aborted when the presenter watches another tenant). */
let streaming = new AbortController()

/** Server-sent events read with fetch (EventSource cannot send the control token). */
async function tail() {
  const { signal } = streaming
  const tenant = state.tenant
  while (!signal.aborted) {
    try {
      const headers = token() ? { authorization: `Bearer ${token()}` } : {}
      const query = tenant === 'default' ? '' : `?tenant=${encodeURIComponent(tenant)}`
      const res = await fetch(`/__mocks/journal/stream${query}`, { headers, signal })
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`)
      $('journal-status').textContent = 'live'
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buf = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += value
        let idx = buf.indexOf('\n\n')
        while (idx >= 0) {
          const block = buf.slice(0, idx)
          buf = buf.slice(idx + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n')
          if (event === 'entry' && data) addRow(JSON.parse(data))
          idx = buf.indexOf('\n\n')
        }
      }
      throw new Error('stream ended')
    } catch (err) {
      if (signal.aborted) return
      $('journal-status').textContent =
        `disconnected (${err instanceof Error ? err.message : err}); reconnecting…`
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
}

// ---- verdicts ----

const MARK = { pass: 'pass', fail: 'FAIL', 'not-exercised': 'not exercised' }

/** The rules of verdicts.yaml judged from the watched tenant's journal, polled with the rest. */
async function refreshVerdicts() {
  const tenant = state.tenant
  let report
  try {
    report = await control('GET', '/verdicts')
  } catch {
    $('verdicts-summary').textContent = 'unavailable'
    return
  }
  if (tenant !== state.tenant) return
  const { pass, fail, notExercised } = report.summary
  $('verdicts-summary').textContent = `${pass} pass · ${fail} fail · ${notExercised} not exercised`
  $('verdicts').replaceChildren(
    ...report.verdicts.map((v) => {
      const li = document.createElement('li')
      li.className = v.status
      li.dataset.rule = v.rule
      li.dataset.status = v.status
      li.dataset.testid = `verdict-${v.rule}`
      li.title = v.description
      const mark = document.createElement('span')
      mark.className = 'mark'
      mark.textContent = MARK[v.status] ?? v.status
      const rule = document.createElement('code')
      rule.textContent = v.rule
      const detail = document.createElement('span')
      detail.className = 'detail'
      // The evidence's measured intervals, where a rule has them (backoff gaps, held requests).
      const ms = v.evidence.filter((e) => e.ms !== undefined).map((e) => e.ms)
      detail.textContent = `${v.detail}${v.status === 'fail' && ms.length ? ` · measured ${ms.join(', ')} ms` : ''}`
      li.append(mark, rule, detail)
      return li
    }),
  )
}

// ---- the client's behaviour ----

/** The client beside the panel: the matrix's "Correct Behavior" or, `current`, family-hub's today. */
function setBehavior(behavior) {
  const src = behavior === 'current' ? '/client.html?behavior=current' : '/client.html'
  const frame = /** @type {HTMLIFrameElement} */ ($('client'))
  if (frame.getAttribute('src') !== src) frame.setAttribute('src', src)
  $('client-link').setAttribute('href', src)
  const url = new URL(location.href)
  if (behavior === 'current') url.searchParams.set('behavior', 'current')
  else url.searchParams.delete('behavior')
  history.replaceState(null, '', url)
}

// ---- tenants ----

/** Watch (and drive) another tenant: its scenario, faults and journal, from now on. */
function watch(id) {
  if (id === state.tenant) return
  state.tenant = id
  const url = new URL(location.href)
  if (id === 'default') url.searchParams.delete('tenant')
  else url.searchParams.set('tenant', id)
  history.replaceState(null, '', url)
  streaming.abort()
  streaming = new AbortController()
  $('journal').replaceChildren()
  $('verdicts').replaceChildren()
  $('verdicts-summary').textContent = '…'
  $('journal-status').textContent = 'connecting…'
  void tail()
  state.picking = false
  renderTenants()
  void refresh()
}

async function refreshTenants() {
  try {
    const { tenants } = await control('GET', '/tenants')
    state.tenants = tenants
    renderTenants()
  } catch {
    // status() already says what failed.
  }
}

function renderTenants() {
  const select = /** @type {HTMLSelectElement} */ ($('tenant-select'))
  const ids = state.tenants.map((t) => t.id)
  // The watched one stays listed until a call finds it gone.
  if (!ids.includes(state.tenant)) ids.push(state.tenant)
  if (!ids.includes('default')) ids.unshift('default')
  if (document.activeElement !== select) {
    select.replaceChildren(...ids.map((id) => new Option(id, id)))
    select.value = state.tenant
  }
  const list = $('tenants')
  list.replaceChildren(
    ...state.tenants.map((t) => {
      const li = document.createElement('li')
      li.dataset.tenant = t.id
      if (t.id === state.tenant) li.className = 'watched'
      const id = document.createElement('code')
      id.textContent = t.id
      const text = document.createElement('span')
      text.textContent = `${t.scenario ?? '(none)'} · ${t.faults} faults · ${t.journal} journal entries · ${t.openSockets} sockets`
      li.append(id, ' ', text)
      if (t.id !== state.tenant) {
        const b = document.createElement('button')
        b.type = 'button'
        b.className = 'small secondary'
        b.textContent = 'Watch'
        b.setAttribute('aria-label', `Watch tenant ${t.id}`)
        b.addEventListener('click', () => watch(t.id))
        li.append(' ', b)
      } else li.append(' ', '(watching)')
      return li
    }),
  )
}

// ---- wiring ----

async function main() {
  $('scenario-select').addEventListener('change', () => {
    state.picking = true
  })
  $('scenario-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const name = /** @type {HTMLSelectElement} */ ($('scenario-select')).value
    status(`applying ${name}…`)
    try {
      await control('PUT', '/scenario', { name })
      status(`scenario ${name} applied`)
    } finally {
      state.picking = false
      await refresh()
    }
  })
  $('reset').addEventListener('click', async () => {
    try {
      await control('POST', '/reset')
      status('reset: scenario faults only, journal cleared')
    } finally {
      void refreshVerdicts()
      await refresh()
    }
  })
  $('journal-pause').addEventListener('click', (e) => {
    state.paused = !state.paused
    const b = /** @type {HTMLButtonElement} */ (e.currentTarget)
    b.setAttribute('aria-pressed', String(state.paused))
    b.textContent = state.paused ? 'Resume' : 'Pause'
  })
  $('journal-clear').addEventListener('click', () => $('journal').replaceChildren())
  $('tenant-select').addEventListener('change', (e) =>
    watch(/** @type {HTMLSelectElement} */ (e.currentTarget).value),
  )
  const behavior = /** @type {HTMLSelectElement} */ ($('behavior-select'))
  behavior.value = new URLSearchParams(location.search).get('behavior') === 'current' ? 'current' : 'correct'
  setBehavior(behavior.value)
  behavior.addEventListener('change', () => setBehavior(behavior.value))
  renderTenants()
  void tail()
  await loadScenarios().catch(() => undefined)
  await Promise.all([refresh(), refreshTenants(), refreshVerdicts()])
  setInterval(() => {
    void refresh()
    void refreshTenants()
    void refreshVerdicts()
  }, 2000)
}

void main()
