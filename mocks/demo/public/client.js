// The reference client: what the matrix's "Correct Behavior" column looks like in a browser.
// Plain ES modules, no build step. Service URLs come from the demo server (/api/config);
// sign-in, sign-out and the WebSocket token go through the app's own same-origin routes.

import { retrying } from './lib/backoff.js'
import { BEHAVIOR, CURRENT } from './lib/behavior.js'
import { ChatClient } from './lib/chat.js'
import { call, describeOutcome, formatSeconds, setTenant } from './lib/http.js'
import { describeUploadFailure, formatBytes, UPLOAD_TIMEOUT_MS, upload } from './lib/media.js'
import { STATIC_ARTICLES, STATIC_ORGS } from './lib/static-data.js'
import { ListLoader, mapArticle, mapOrg, V01T_TIMEOUT_MS } from './lib/v01t.js'

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
/** A form control by id (inputs, buttons, selects share `disabled` and `value`). */
const control = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id))
const params = new URLSearchParams(location.search)

/** Timeouts may be shortened for a quick demo (?v01tTimeoutMs=2000); the defaults are the matrix's. */
function msParam(name, fallback) {
  const raw = params.get(name)
  const v = Number(raw)
  return raw !== null && Number.isInteger(v) && v >= 100 && v <= 600_000 ? v : fallback
}
const V01T_MS = msParam('v01tTimeoutMs', V01T_TIMEOUT_MS)
const UPLOAD_MS = msParam('uploadTimeoutMs', UPLOAD_TIMEOUT_MS)
const CONTROL_TIMEOUT_MS = 10_000

// Presence from the app server's store (?presence=upstash | memory): family-hub's planned
// Upstash presence, or today's per-instance Map. Unset: presence comes from chat's own
// frames, as the matrix has it. The server's /api/presence answers 503 when Upstash fails;
// members are then shown as unknown, never as offline.
const PRESENCE_STORE = ['upstash', 'memory'].includes(params.get('presence') ?? '')
  ? params.get('presence')
  : null
const PRESENCE_POLL_MS = 5000
/** @type {{ online: Set<string> | null, error: string }} */
const serverPresence = { online: new Set(), error: '' }
let presenceTimer = 0

const app = {
  /** @type {{ chat?: string, media?: string, v01t?: string }} */
  services: {},
  limits: { maxFileSize: 10 * 1024 * 1024, maxAvatarSize: 2 * 1024 * 1024 },
  /** The tenant the demo server placed this page in ('' = the default tenant). */
  tenant: '',
  /** @type {{ id: string, email: string, name: string, role: string, password: string, banned: boolean }[]} */
  users: [],
  /** @type {{ id: string, name: string, members: string[] }[]} */
  channels: [],
  /** @type {{ id: string, name: string, role: string } | null} */
  user: null,
  /** @type {ChatClient | null} */
  chat: null,
  /** @type {{ file: File, type: 'file' | 'avatar' } | null} */
  lastUpload: null,
  uploadStarted: 0,
  /** @type {ListLoader[]} */
  lists: [],
}

// ---- log ----

function log(text, level = 'info') {
  const out = level === 'error' ? console.error : level === 'warn' ? console.warn : console.info
  out(`[casa] ${text}`)
  const li = document.createElement('li')
  li.className = level
  const t = new Date()
  li.textContent = `${t.toLocaleTimeString('en-GB')}.${String(t.getMilliseconds()).padStart(3, '0')} ${text}`
  const list = $('log')
  list.prepend(li)
  while (list.children.length > 200) list.lastElementChild?.remove()
}

// ---- config and session ----

/** The page's own host for services on this machine, so the session cookie (host-scoped) reaches them. */
function serviceUrl(raw) {
  if (!raw) return undefined
  const u = new URL(raw)
  if (['127.0.0.1', 'localhost', '0.0.0.0', '[::]', '[::1]'].includes(u.hostname))
    u.hostname = location.hostname
  return u.origin
}

const nameOf = (id) => app.users.find((u) => u.id === id)?.name ?? id

async function loadDirectory() {
  // Seeded users and channels come from the control API: a demo convenience (a real app has
  // its own user directory), used for the sign-in picker and for display names.
  // The control API takes the tenant by ?tenant= (the page's own tenant, named by /api/config).
  const tenant = app.tenant ? `?tenant=${encodeURIComponent(app.tenant)}` : ''
  const [users, channels] = await Promise.all([
    call(`/__mocks/users${tenant}`, { timeoutMs: CONTROL_TIMEOUT_MS }),
    call(`/__mocks/channels${tenant}`, { timeoutMs: CONTROL_TIMEOUT_MS }),
  ])
  if (users.kind === 'ok') app.users = users.data.users
  else log(`seeded users unavailable (${describeOutcome(users)})`, 'warn')
  if (channels.kind === 'ok') app.channels = channels.data.channels
  else log(`channels unavailable (${describeOutcome(channels)})`, 'warn')
  const select = /** @type {HTMLSelectElement} */ ($('signin-user'))
  select.replaceChildren(new Option('choose…', ''))
  for (const u of app.users)
    select.add(new Option(`${u.name} · ${u.role}${u.banned ? ' (banned)' : ''} · ${u.email}`, u.email))
}

/** 'ok' (and app.user set), 'signed-out', or 'unknown' when auth itself is in trouble. */
async function checkSession() {
  const r = await call('/api/auth/get-session', { credentials: 'same-origin', timeoutMs: CONTROL_TIMEOUT_MS })
  if (r.kind === 'ok' && r.data?.user) {
    app.user = r.data.user
    setAuthBanner('')
    renderAccount()
    return 'ok'
  }
  // No session: the matrix's 401 {user:null, session:null} or better-auth's own 200 null.
  if (r.kind === 'ok' || (r.kind === 'http' && r.status === 401)) return 'signed-out'
  setAuthBanner(
    `auth-service unavailable: your session cannot be checked (${describeOutcome(r)}). Chat and uploads keep retrying.`,
  )
  log(`get-session: ${describeOutcome(r)}`, 'error')
  return 'unknown'
}

function setAuthBanner(text) {
  const el = $('auth-banner')
  el.textContent = text
  el.hidden = !text
}

async function getToken() {
  const r = await call('/api/chat/ws-token', { credentials: 'same-origin', timeoutMs: CONTROL_TIMEOUT_MS })
  if (r.kind === 'ok' && typeof r.data?.token === 'string') return { token: r.data.token }
  if (r.kind === 'http' && r.status === 401) return { signedOut: true }
  return { error: describeOutcome(r) }
}

function renderAccount() {
  const el = $('account')
  el.replaceChildren()
  if (app.user) {
    el.append(`Signed in as ${app.user.name} (${app.user.role}) `)
    const out = document.createElement('button')
    out.type = 'button'
    out.className = 'small'
    out.textContent = 'Sign out'
    out.addEventListener('click', () => void signOut())
    el.append(out)
  } else {
    el.append($('signin-panel').hidden ? 'session not verified' : 'not signed in')
  }
}

function showSignIn(reason) {
  $('signin-panel').hidden = false
  $('signin-reason').textContent = reason
  app.user = null
  app.chat?.signedOut(reason)
  setUploadEnabled(false)
  renderAccount()
}

async function signIn(email, password) {
  $('signin-error').textContent = ''
  const r = await call('/api/auth/sign-in/email', {
    method: 'POST',
    json: { email, password },
    credentials: 'same-origin',
    timeoutMs: CONTROL_TIMEOUT_MS,
  })
  if (r.kind !== 'ok') {
    const text =
      r.kind === 'http' && r.status < 500
        ? r.message || describeOutcome(r)
        : `auth-service unavailable (${describeOutcome(r)})`
    $('signin-error').textContent = text
    log(`sign-in failed: ${describeOutcome(r)}`, 'warn')
    return
  }
  app.user = r.data.user
  log(`signed in as ${app.user?.email}`)
  startSession()
}

async function signOut() {
  const r = await call('/api/auth/sign-out', {
    method: 'POST',
    json: {},
    credentials: 'same-origin',
    timeoutMs: CONTROL_TIMEOUT_MS,
  })
  if (r.kind !== 'ok') log(`sign-out: ${describeOutcome(r)}`, 'warn')
  showSignIn('Signed out.')
}

// ---- chat ----

function startSession() {
  $('signin-panel').hidden = true
  renderAccount()
  setUploadEnabled(true)
  if (!app.services.chat) {
    $('chat-state').textContent = 'chat-service not configured'
    return
  }
  const mine = app.channels.filter((c) => !app.user || c.members.includes(app.user.id))
  const wanted = params.get('channel')
  const channel = mine.find((c) => c.id === wanted)?.id ?? mine[0]?.id ?? 'general'
  const select = /** @type {HTMLSelectElement} */ ($('channel'))
  select.replaceChildren(
    ...(mine.length ? mine : [{ id: channel, name: channel }]).map((c) => new Option(`#${c.name}`, c.id)),
  )
  select.value = channel

  app.chat?.stop()
  const chat = new ChatClient({ chatUrl: app.services.chat, channel, getToken, checkSession, log })
  app.chat = chat
  chat.addEventListener('state', () => {
    renderChatState()
    if (chat.state.name === 'signed-out' && $('signin-panel').hidden)
      showSignIn('Your session is no longer valid: sign in again.')
  })
  chat.addEventListener('messages', renderMessages)
  chat.addEventListener('presence', renderPresence)
  chat.addEventListener('typing', renderTyping)
  chat.addEventListener('history', renderHistory)
  chat.addEventListener('notice', (e) => {
    $('chat-notice').textContent = /** @type {CustomEvent} */ (e).detail
  })
  chat.start()
  clearInterval(presenceTimer)
  if (PRESENCE_STORE) {
    void pollPresence()
    presenceTimer = setInterval(() => void pollPresence(), PRESENCE_POLL_MS)
  }
  renderPresence()
  renderMessages()
}

async function pollPresence() {
  const chat = app.chat
  if (!chat || !PRESENCE_STORE) return
  const q = `channel=${encodeURIComponent(chat.channel)}&store=${PRESENCE_STORE}`
  const opts = {
    credentials: /** @type {RequestCredentials} */ ('same-origin'),
    timeoutMs: CONTROL_TIMEOUT_MS,
  }
  const beat = await call(`/api/presence/heartbeat?${q}`, { ...opts, method: 'POST' })
  const r = beat.kind === 'ok' ? await call(`/api/presence?${q}`, opts) : beat
  if (r.kind === 'ok' && Array.isArray(r.data?.online)) {
    serverPresence.online = new Set(r.data.online)
    serverPresence.error = ''
  } else {
    if (!serverPresence.error) log(`presence (${PRESENCE_STORE}): ${describeOutcome(r)}`, 'warn')
    serverPresence.online = null
    serverPresence.error = describeOutcome(r)
  }
  renderPresence()
}

const seconds = (until) => `${Math.max(0, (until - Date.now()) / 1000).toFixed(1)} s`

function renderChatState() {
  const chat = app.chat
  if (!chat) return
  const s = chat.state
  const el = $('chat-state')
  el.dataset.state = s.name
  const every = `every ${formatSeconds(s.nominalMs ?? 0)}`
  el.textContent =
    s.name === 'connecting'
      ? 'connecting…'
      : s.name === 'connected'
        ? 'connected'
        : s.name === 'reconnecting'
          ? `reconnecting in ${formatSeconds(s.nominalMs ?? 0)} (attempt ${s.attempt})`
          : s.name === 'polling'
            ? `polling ${every}`
            : s.name === 'offline'
              ? `offline · polling ${every}`
              : s.name === 'signed-out'
                ? 'signed out'
                : 'stopped'
  const connected = chat.connected
  control('message-input').disabled = !connected
  control('send').disabled = !connected
  $('presence').classList.toggle('stale', !connected)
  if (connected) $('chat-notice').textContent = ''
  tick()
}

function renderMessages() {
  const chat = app.chat
  if (!chat) return
  const rows = [...chat.messages.values()]
    .filter((m) => m.channel === chat.channel)
    .sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id))
    .slice(-100)
  const list = $('messages')
  if (!rows.length) {
    const li = document.createElement('li')
    li.className = 'muted empty'
    li.textContent = 'No messages to show yet.'
    list.replaceChildren(li)
    return
  }
  list.replaceChildren(
    ...rows.map((m) => {
      const li = document.createElement('li')
      li.dataset.id = m.id
      const who = document.createElement('strong')
      who.textContent = nameOf(m.sender)
      const when = document.createElement('time')
      when.dateTime = m.at
      when.textContent = new Date(m.at).toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'short' })
      const text = document.createElement('span')
      text.textContent = m.content
      li.append(who, ' ', when, document.createElement('br'), text)
      return li
    }),
  )
  list.scrollTop = list.scrollHeight
}

function renderPresence() {
  const chat = app.chat
  if (!chat) return
  const members = app.channels.find((c) => c.id === chat.channel)?.members ?? [...chat.presence.keys()]
  $('presence').dataset.store = PRESENCE_STORE ?? 'chat'
  $('presence').replaceChildren(
    ...members.map((id) => {
      const li = document.createElement('li')
      li.dataset.user = id
      if (PRESENCE_STORE && serverPresence.online === null) {
        li.className = 'unknown'
        li.textContent = `${nameOf(id)} — unknown (presence unavailable)`
        li.title = serverPresence.error
        return li
      }
      const online = PRESENCE_STORE ? Boolean(serverPresence.online?.has(id)) : chat.presence.get(id) === true
      li.className = online ? 'online' : 'offline'
      li.textContent = `${nameOf(id)} — ${online ? 'online' : 'offline'}`
      return li
    }),
  )
}

function renderTyping() {
  const chat = app.chat
  if (!chat) return
  const names = [...chat.typing].filter((id) => id !== app.user?.id).map(nameOf)
  $('typing').textContent =
    names.length === 0 ? '' : `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'} typing…`
}

function renderHistory() {
  const h = app.chat?.history
  if (!h) return
  const el = $('history-status')
  el.dataset.state = h.status
  el.className = h.status === 'error' ? 'error' : 'muted'
  el.textContent = h.status === 'loading' ? 'loading history…' : (h.text ?? '')
  $('history-retry').hidden = !(h.status === 'error' && h.retryAt)
  tick()
}

// ---- uploads ----

function setUploadEnabled(on) {
  control('upload').disabled = !on || !app.services.media
}

async function doUpload(file, type) {
  $('upload-error').hidden = true
  $('upload-result').hidden = true
  control('upload').disabled = true
  control('upload-retry').disabled = true
  app.lastUpload = { file, type }
  app.uploadStarted = Date.now()
  tick()
  log(`uploading ${file.name} (${formatBytes(file.size)}) as ${type}`)
  const r = await upload({ mediaUrl: app.services.media ?? '', file, type, timeoutMs: UPLOAD_MS })
  app.uploadStarted = 0
  $('upload-progress').textContent = ''
  control('upload').disabled = false
  control('upload-retry').disabled = false
  if (r.kind !== 'ok') {
    const failure = describeUploadFailure(r, { limits: app.limits, type })
    $('upload-error-text').textContent = failure.message
    $('upload-retry').hidden = !failure.retriable
    $('upload-error').hidden = false
    log(`upload failed: ${failure.message} [${describeOutcome(r)}, request ${r.requestId}]`, 'error')
    return
  }
  const up = r.data
  log(`uploaded ${file.name}: ${up.id}`)
  const box = $('upload-result')
  box.replaceChildren()
  const title = document.createElement('p')
  title.textContent = `uploaded ${file.name} (${formatBytes(up.size_bytes)}) · sha256 ${String(up.sha256).slice(0, 12)}…`
  box.append(title)
  const meta = document.createElement('p')
  meta.dataset.testid = 'upload-meta'
  meta.textContent = 'checking the stored file…'
  box.append(meta)
  box.hidden = false
  const { result, attempts } = await getWithRetry(
    `${app.services.media}/api/v1/files/${encodeURIComponent(up.id)}`,
    'file metadata',
  )
  meta.textContent =
    result.kind === 'ok'
      ? `stored: ${result.data.content_type}, ${formatBytes(result.data.size_bytes)}${attempts > 1 ? ` (after ${attempts} attempts)` : ''}`
      : `stored file could not be read back (${describeOutcome(result)})`
  if (up.thumbnail_url) {
    // Fetched (not an <img src>) so this request carries X-Request-ID like every other.
    const thumb = new URL(up.thumbnail_url)
    const { result: t } = await getWithRetry(
      `${serviceUrl(thumb.origin)}${thumb.pathname}${thumb.search}`,
      'thumbnail',
      true,
    )
    if (t.kind === 'ok') {
      const img = document.createElement('img')
      img.src = URL.createObjectURL(t.data)
      img.alt = `thumbnail of ${file.name}`
      img.className = 'thumb'
      box.insertBefore(img, meta)
    }
  }
}

/** Reads are idempotent: retried with backoff on 5xx and network errors (uploads never are). */
function getWithRetry(url, label, blob = false) {
  return retrying(() => call(url, { credentials: 'include', timeoutMs: 10_000, blob }), {
    // Today's family-hub: "single failure = user error".
    attempts: CURRENT ? 1 : 3,
    baseMs: 1000,
    shouldRetry: (m) => m.kind === 'network' || (m.kind === 'http' && m.status >= 500),
    onRetry: ({ attempt, delayMs, result: m }) =>
      log(`${label}: ${describeOutcome(m)}; retry ${attempt} in ${delayMs} ms`, 'warn'),
  })
}

// ---- V01T ----

function startV01t() {
  const base = app.services.v01t
  if (!base) {
    $('articles-status').textContent = 'V01T not configured'
    return
  }
  const common = { baseUrl: base, timeoutMs: V01T_MS, log }
  const articles = new ListLoader({
    ...common,
    label: 'articles',
    path: '/trace/flight-path/artefact/',
    query: 'page=1&page_size=20&order_by=-priority',
    map: mapArticle,
    staticItems: STATIC_ARTICLES,
    cacheKey: 'casa.v01t.articles',
  })
  const orgs = new ListLoader({
    ...common,
    label: 'orgs',
    path: '/trace/devarno-ecosystem/node/',
    query: 'page=1&page_size=50',
    map: mapOrg,
    staticItems: STATIC_ORGS,
    cacheKey: 'casa.v01t.orgs',
  })
  articles.addEventListener('state', () => renderList(articles, 'articles'))
  orgs.addEventListener('state', () => renderList(orgs, 'orgs'))
  app.lists = [articles, orgs]
  void loadLists()
}

/** One list after the other: each call's retries stay together in the journal. */
async function loadLists() {
  for (const list of app.lists) await list.load()
}

function renderList(loader, kind) {
  const s = loader.state
  const status = $(`${kind}-status`)
  const list = $(kind)
  status.dataset.state = s.status
  status.className = `list-status ${s.status}`
  if (s.status === 'loading') status.textContent = 'loading…'
  else if (s.status === 'live')
    status.textContent = `${s.items.length} ${kind} · ${s.ms} ms${s.slow ? ` · slow response: ${formatSeconds(s.ms)} (over the 2 s alert threshold)` : ''}${s.note ? ` · ${s.note}` : ''}`
  else if (s.status === 'not-found') status.textContent = `not found (${s.reason})`
  else {
    const copy =
      s.source === 'cache'
        ? `saved ${new Date(s.cachedAt ?? '').toLocaleTimeString('en-GB')}`
        : 'built-in copy'
    status.textContent = `showing cached data (${copy}): V01T ${s.reason}`
  }
  const items = s.status === 'live' || s.status === 'stale' ? s.items : []
  list.dataset.source = s.status === 'stale' ? s.source : s.status === 'live' ? 'live' : 'none'
  list.classList.toggle('stale', s.status === 'stale')
  list.replaceChildren(
    ...items.map((item) => {
      const li = document.createElement('li')
      const title = document.createElement('strong')
      title.textContent = item.title
      li.append(title)
      if (kind === 'articles') {
        const meta = document.createElement('span')
        meta.className = 'muted'
        meta.textContent = ` · ${item.readTime} · ${item.status}`
        const ex = document.createElement('p')
        ex.textContent = item.excerpt
        li.append(meta, ex)
      } else {
        li.title = item.description
        li.dataset.status = item.status
      }
      return li
    }),
  )
  tick()
}

// ---- household: family-hub's Postgres, read by its server (GET /api/household) ----

// The server queries the database with a 2 s timeout and retries a cut read once; whatever
// fails, this part of the page shows the matrix's graceful degradation message (never a 500,
// never a spinner forever) and the rest of the page keeps working. It reads on Load, and on
// page load with ?db=1: PGlite starts on the first connection, in the mocks' own process.
const HOUSEHOLD_TIMEOUT_MS = 10_000
const DB_DEGRADED = "We can't reach your household data right now, try again in a moment."
const household = { reads: 0, busy: false }

async function loadHousehold() {
  if (household.busy) return
  household.busy = true
  const status = $('household-status')
  status.dataset.state = 'loading'
  status.className = 'list-status'
  status.textContent = 'loading…'
  $('household-detail').textContent = ''
  const r = await call('/api/household', { timeoutMs: HOUSEHOLD_TIMEOUT_MS })
  household.busy = false
  household.reads++
  /** @type {{ outcome: string, ms: number, detail?: string }[]} */
  const attempts =
    (r.kind === 'ok' || r.kind === 'http') && Array.isArray(r.data?.attempts) ? r.data.attempts : []
  const tried = attempts.map((a) => `${a.outcome} after ${a.ms} ms`)
  const box = $('household')
  let state
  if (r.kind === 'ok') {
    state = 'live'
    const h = r.data.household
    status.textContent = `${h.name} · ${h.members.length} members · ${h.events.length} upcoming${attempts.length > 1 ? ' · answered after a retry' : ''}`
    const members = document.createElement('p')
    members.className = 'household-members'
    members.textContent = h.members.map((m) => `${m.name} (${m.role})`).join(', ')
    const events = document.createElement('ul')
    events.className = 'articles'
    events.replaceChildren(
      ...h.events.map((e) => {
        const li = document.createElement('li')
        li.textContent = `${new Date(e.startsAt).toLocaleString('en-GB', { timeZone: 'UTC', dateStyle: 'medium', timeStyle: 'short' })} · ${e.title}`
        return li
      }),
    )
    box.replaceChildren(members, events)
    log(`household: ${h.name} (${tried.join(', then ')})`)
  } else if (r.kind === 'http' && r.code === 'no_household_data') {
    state = 'empty'
    status.textContent = r.message
    box.replaceChildren()
  } else {
    state = 'degraded'
    status.textContent = DB_DEGRADED
    const why = r.kind === 'http' ? (r.data?.reason ?? r.message) : describeOutcome(r)
    $('household-detail').textContent =
      `database ${why}${attempts.length ? ` · ${attempts.length} attempt${attempts.length > 1 ? 's' : ''}: ${tried.join(', then ')}` : ''}`
    box.replaceChildren()
    log(`household unavailable: ${why}`, 'warn')
  }
  status.dataset.state = state
  status.className = `list-status ${state}`
  status.dataset.attempts = attempts.map((a) => a.outcome).join(',')
  status.dataset.ms = String(Math.round(r.ms))
  box.dataset.reads = String(household.reads)
}

// ---- countdowns ----

function tick() {
  const chat = app.chat
  const cd = $('chat-countdown')
  if (chat?.state.name === 'reconnecting' && chat.state.until)
    cd.textContent = `next try in ${seconds(chat.state.until)}`
  else if ((chat?.state.name === 'polling' || chat?.state.name === 'offline') && chat.state.until)
    cd.textContent = `next poll in ${seconds(chat.state.until)} · WebSocket retry in ${seconds(chat.state.probeAt ?? 0)}`
  else cd.textContent = ''
  const h = chat?.history
  $('history-countdown').textContent =
    h?.status === 'error' && h.retryAt ? `retrying in ${seconds(h.retryAt)}` : ''
  for (const loader of app.lists) {
    const s = loader.state
    $(`${loader.opts.label}-countdown`).textContent =
      s.status === 'stale' && Number.isFinite(s.retryAt) ? `retrying in ${seconds(s.retryAt)}` : ''
  }
  if (app.uploadStarted)
    $('upload-progress').textContent = `uploading… ${((Date.now() - app.uploadStarted) / 1000).toFixed(0)} s`
}

// ---- wiring ----

function wire() {
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const email = /** @type {HTMLSelectElement} */ ($('signin-user')).value
    const u = app.users.find((x) => x.email === email)
    if (u) void signIn(u.email, u.password)
    else $('signin-error').textContent = 'Choose a user first.'
  })
  $('channel').addEventListener('change', (e) => {
    app.chat?.switchChannel(/** @type {HTMLSelectElement} */ (e.target).value)
  })
  const input = /** @type {HTMLInputElement} */ ($('message-input'))
  input.addEventListener('input', () => app.chat?.setTyping(input.value.length > 0))
  input.addEventListener('blur', () => app.chat?.setTyping(false))
  $('send-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const text = input.value.trim()
    if (!text) return
    if (app.chat?.send(text)) input.value = ''
  })
  $('history-retry').addEventListener('click', () => app.chat?.retryHistoryNow())
  $('upload-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const file = /** @type {HTMLInputElement} */ ($('file-input')).files?.[0]
    if (!file) return
    void doUpload(
      file,
      /** @type {'file' | 'avatar'} */ (/** @type {HTMLSelectElement} */ ($('upload-type')).value),
    )
  })
  $('upload-retry').addEventListener('click', () => {
    if (app.lastUpload) void doUpload(app.lastUpload.file, app.lastUpload.type)
  })
  $('v01t-reload').addEventListener('click', () => void loadLists())
  $('household-reload').addEventListener('click', () => void loadHousehold())
  setInterval(tick, 200)
}

async function main() {
  wire()
  const badge = $('behavior')
  badge.dataset.behavior = BEHAVIOR
  badge.textContent = CURRENT
    ? 'behaviour: current (the matrix’s "Current Behavior": no request ids, no timeouts, polling every 3 s)'
    : 'behaviour: correct (the matrix’s "Correct Behavior")'
  badge.classList.toggle('current', CURRENT)
  setUploadEnabled(false)
  // With the page's cookies: the demo server reads its tenant from them.
  const cfg = await call('/api/config', { credentials: 'same-origin', timeoutMs: CONTROL_TIMEOUT_MS })
  if (cfg.kind !== 'ok') {
    $('account').textContent = `demo server unreachable (${describeOutcome(cfg)})`
    return
  }
  app.services = {
    chat: serviceUrl(cfg.data.services.chat),
    media: serviceUrl(cfg.data.services.media),
    v01t: serviceUrl(cfg.data.services.v01t),
  }
  app.limits = cfg.data.limits
  app.tenant = cfg.data.tenant ?? ''
  setTenant(app.tenant)
  if (params.get('db') === '1') void loadHousehold()
  await loadDirectory()
  startV01t()
  const verdict = await checkSession()
  if (verdict === 'signed-out') showSignIn('Sign in to chat and upload files.')
  else startSession()
}

void main()
