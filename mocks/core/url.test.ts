import { describe, expect, it } from 'vitest'
import { searchOf } from './url.ts'

describe('searchOf', () => {
  it('gives what URL#search gives', () => {
    for (const url of [
      'http://127.0.0.1:8000/trace/a/b/?page_size=20',
      'http://127.0.0.1:8000/trace/a/b/',
      'http://127.0.0.1:8000/trace/a/b/?',
      'http://127.0.0.1:8000/x?a=1&b=%20c&a=2',
      'http://127.0.0.1:8000/x?q=a?b',
      'http://127.0.0.1:8000/x?q=1#frag',
      'http://127.0.0.1:8000/x?#frag',
      'http://127.0.0.1:8000/x#frag?not=query',
      // @hono/node-server leaves a raw `'` in the URL it hands over; URL#search encodes it.
      "http://127.0.0.1:8000/trace/a/b/?search=o'neil",
    ]) {
      expect(searchOf(url), url).toBe(new URL(url).search)
    }
  })
})
