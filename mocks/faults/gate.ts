// Scenario switches: new requests wait here while state is replaced, so none sees a
// half-applied switch. Pauses nest: each release lets the next queued pause go.

export class SwitchGate {
  private gate: Promise<void> | undefined

  /** The promise a new request waits on, or undefined when nothing is paused. */
  get held(): Promise<void> | undefined {
    return this.gate
  }

  /** Holds new requests until the returned release is called. */
  pause(): () => void {
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const previous = this.gate
    this.gate = previous ? previous.then(() => gate) : gate
    const mine = this.gate
    return () => {
      release()
      if (this.gate === mine) this.gate = undefined
    }
  }
}
