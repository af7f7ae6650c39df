import { createHmac, randomBytes } from 'node:crypto'

// Deterministic ids for seeded data (same scenario + seed => same ids) and random ones for
// data made at runtime, in better-auth's alphabet.

const ALPHANUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

function toAlphabet(bytes: Uint8Array, length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += ALPHANUM[(bytes[i % bytes.length] ?? 0) % ALPHANUM.length]
  return out
}

/** A stable [a-zA-Z0-9] string from the seed and a label. */
export function seededId(seed: number, label: string, length = 32): string {
  const bytes = createHmac('sha256', `devarno-mocks:${seed}`).update(label).digest()
  const more =
    length > bytes.length
      ? createHmac('sha256', `devarno-mocks:${seed}:2`).update(label).digest()
      : Buffer.alloc(0)
  return toAlphabet(Buffer.concat([bytes, more]), length)
}

export function randomId(length = 32): string {
  return toAlphabet(randomBytes(length), length)
}
