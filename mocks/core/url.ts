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
