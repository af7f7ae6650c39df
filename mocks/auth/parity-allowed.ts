// The one list of accepted differences between the fake better-auth and a real better-auth 1.7
// (tests/parity and `pnpm mocks parity`). Each entry says why the fake may differ. `case` is a
// case name or '*'; `field` an observed field (`status`, `header pragma`, `body.user.id`...),
// a trailing '*' matching any field that starts so.

export interface ParityAllowance {
  case: string
  field: string
  reason: string
}

export const PARITY_ALLOWED: readonly ParityAllowance[] = []
