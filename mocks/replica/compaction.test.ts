import { describe, expect, it } from 'vitest'
import { Compactor } from './compaction.ts'

// What a snapshot keeps of the log: each entry while it still has a role (compaction.ts).

function run(
  entries: [kind: string, payload: Record<string, unknown>, ok?: boolean | 'untouched'][],
): string[] {
  const c = new Compactor()
  entries.forEach(([kind, payload, ok = true], i) => {
    c.note(
      { id: `${i + 1}-0`, kind, origin: 'a', nonce: String(i), payload: JSON.stringify(payload) },
      payload,
      ok === true,
      ok === 'untouched',
    )
  })
  return c.entries().map((e) => `${e.id} ${e.kind}`)
}

describe('Compactor', () => {
  it('drops what a reset or switch replaced, keeps the scenario a reset re-applies and the journal epoch', () => {
    expect(
      run([
        ['mocks.scenario', { tenant: 'default', request: { name: 's2' } }],
        ['chat.message', { tenant: 'default' }],
        ['mocks.fault.add', { tenant: 'default' }],
        ['mocks.journal.clear', { tenant: 'default' }],
        ['chat.typing', { tenant: 'default' }],
        ['mocks.reset', { tenant: 'default' }],
        ['auth.session', { tenant: 'default' }],
        ['mocks.journal.clear', { tenant: 'default' }],
        ['mocks.scenario', { tenant: 'default', request: { name: 'broken' } }, false],
      ]),
    ).toEqual([
      '1-0 mocks.scenario', // the scenario the reset re-applied
      '6-0 mocks.reset', // the state starts there (its id keys epochs)
      '7-0 auth.session',
      '8-0 mocks.journal.clear', // the journal's epoch
      '9-0 mocks.scenario', // refused: kept as it may have put the old scenario back
    ])
  })

  it('a switch replaces the earlier switch and reset; other tenants are untouched', () => {
    expect(
      run([
        ['mocks.reset', { tenant: 'default' }],
        ['chat.message', { tenant: 't1' }],
        ['mocks.scenario', { tenant: 'default' }],
        ['media.file.add', { tenant: 'default' }],
      ]),
    ).toEqual(['1-0 mocks.reset', '2-0 chat.message', '3-0 mocks.scenario', '4-0 media.file.add'])
    // The reset stays for its journal epoch only; a later clear takes that too.
    expect(
      run([
        ['mocks.reset', { tenant: 'default' }],
        ['mocks.scenario', { tenant: 'default' }],
        ['mocks.journal.clear', { tenant: 'default' }],
      ]),
    ).toEqual(['2-0 mocks.scenario', '3-0 mocks.journal.clear'])
  })

  it("a deleted tenant's late entries (raced against its deletion) are not kept", () => {
    expect(
      run([
        ['mocks.tenant.create', { id: 't1' }],
        ['mocks.tenant.delete', { id: 't1' }],
        ['auth.session', { tenant: 't1' }],
        ['mocks.fault.add', { tenant: 't1' }],
        ['chat.message', { tenant: 'default' }],
        ['mocks.tenant.create', { id: 't1' }],
        ['chat.message', { tenant: 't1' }],
      ]),
    ).toEqual(['5-0 chat.message', '6-0 mocks.tenant.create', '7-0 chat.message'])
  })

  it('a refusal that touched nothing is not kept, whatever its kind', () => {
    expect(
      run([
        ['mocks.scenario', { tenant: 'default' }],
        ['mocks.scenario', { tenant: 'default', request: { name: 'taken token' } }, 'untouched'],
        ['mocks.reset', { tenant: 't1' }, 'untouched'],
        ['mocks.fault.add', { tenant: 'gone' }, 'untouched'],
        ['mocks.scenario', { tenant: 'default', request: { name: 'broken' } }, false],
      ]),
    ).toEqual(['1-0 mocks.scenario', '5-0 mocks.scenario'])
  })

  it('a deleted tenant leaves nothing; a refused creation is not kept; an unknown kind is kept', () => {
    expect(
      run([
        ['mocks.tenant.create', { id: 't1' }],
        ['chat.message', { tenant: 't1' }],
        ['mocks.reset', { tenant: 't1' }],
        ['mocks.tenant.create', { id: 't2' }, false],
        ['db.something', { tenant: 'default' }],
        ['mocks.tenant.delete', { id: 't1' }],
        ['mocks.tenant.create', { id: 't1' }],
      ]),
    ).toEqual(['5-0 db.something', '7-0 mocks.tenant.create'])
  })
})
