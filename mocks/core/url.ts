// A request URL's query string without parsing the URL: `new URL()` on every request was a
// visible share of a fake's CPU. The URL a handler sees is nearly normalised already (the
// Request constructor, or @hono/node-server, made it `href`-shaped), except that
// @hono/node-server passes a raw `'` through, which URL's query encoding turns into `%27`.

/** `new URL(url).search`: `?` and what follows, or '' when the query is absent or empty. */
export function searchOf(url: string): string {
  const hash = url.indexOf('#')
  const end = hash < 0 ? url.length : hash
  const at = url.indexOf('?')
  if (at < 0 || at >= end - 1) return ''
  const search = url.slice(at, end)
  return search.includes("'") ? search.replaceAll("'", '%27') : search
}

/**
 * A query parameter decoded without turning `+` into a space: a session cookie value placed
 * in `?token=` unencoded keeps the `+` of its base64 signature. `search` is a URL's `search`.
 */
export function rawQueryParam(search: string, name: string): string | undefined {
  for (const part of search.replace(/^\?/, '').split('&')) {
    const eq = part.indexOf('=')
    const key = eq < 0 ? part : part.slice(0, eq)
    if (key !== name) continue
    const value = eq < 0 ? '' : part.slice(eq + 1)
    try {
      return decodeURIComponent(value)
    } catch {
      return value
    }
  }
  return undefined
}
