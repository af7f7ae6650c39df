// A request URL's query string without parsing the URL: `new URL()` on every request was a
// visible share of a fake's CPU, and the URL a handler sees is already normalised (the Request
// constructor, or @hono/node-server, made it `href`-shaped), so slicing gives what `.search`
// gives.

/** `new URL(url).search`: `?` and what follows, or '' when the query is absent or empty. */
export function searchOf(url: string): string {
  const hash = url.indexOf('#')
  const end = hash < 0 ? url.length : hash
  const at = url.indexOf('?')
  return at < 0 || at >= end - 1 ? '' : url.slice(at, end)
}
