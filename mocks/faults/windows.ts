import type { ServiceName } from '../core/config.ts'
import type { Logger } from '../core/logger.ts'
import type { Compiled, FaultRegistry } from './registry.ts'

// Outage windows and listeners. A fault whose effect acts on the whole service (`service`
// target) closes the service's listener while it is in force; `afterMs` / `forMs` are its
// window's edges, counted from install. Other faults check their window per request, so only
// service-wide ones need timers.

export interface ServiceControls {
  /** Close the listener: connections are refused. */
  down(): Promise<void>
  /** Listen again. */
  up(): Promise<void>
  /**
   * False when no listener closes (a tenant's outage on a shared listener): `down`/`up` only
   * act on what the tenant holds, and requests that reach the app are cut one by one.
   */
  closesListener?: boolean
}

export class OutageWindows {
  private readonly controls = new Map<ServiceName, ServiceControls>()
  private readonly isDown = new Map<ServiceName, boolean>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private sync: Promise<void> = Promise.resolve()

  constructor(
    private readonly registry: FaultRegistry,
    private readonly logger: Logger,
  ) {}

  attach(service: ServiceName, controls: ServiceControls): void {
    this.controls.set(service, controls)
  }

  /**
   * Stops driving the service's listener. One that a fault keeps down is brought up first
   * (queued after pending changes): faults in force then act per request (`stray`).
   */
  detach(service: ServiceName): void {
    const controls = this.controls.get(service)
    const wasDown = this.isDown.get(service) ?? false
    this.controls.delete(service)
    this.isDown.delete(service)
    if (!controls || !wasDown) return
    this.sync = this.sync.then(async () => {
      try {
        await controls.up()
        this.logger.info({ target: service }, 'listener up again (outages now act per request)')
      } catch (err) {
        this.logger.error({ target: service, err: (err as Error).message }, 'could not reopen listener')
      }
    })
  }

  /** Whether the service has a listener to close (false in-process: msw, app.request). */
  hasListener(service: ServiceName): boolean {
    const controls = this.controls.get(service)
    return controls !== undefined && controls.closesListener !== false
  }

  /** The service-wide fault in force for the service, if any. */
  inForce(service: ServiceName): Compiled | undefined {
    return this.registry.inForce(service, 'service')
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  /** Timers at the window edges of these faults (default: every installed one). */
  schedule(list: readonly Compiled[] = this.registry.all()): void {
    for (const c of list) {
      if (c.module.acts.service === undefined) continue
      const { afterMs, forMs } = c.fault.spec
      for (const at of [
        afterMs,
        afterMs !== undefined || forMs !== undefined ? (afterMs ?? 0) + (forMs ?? 0) : undefined,
      ]) {
        if (!at) continue
        const t = setTimeout(() => {
          this.timers.delete(t)
          this.update()
        }, at + 1)
        t.unref?.()
        this.timers.add(t)
      }
    }
  }

  /** Brings every attached listener to the state the faults ask for (queued, in order). */
  update(): void {
    this.sync = this.sync.then(async () => {
      for (const [service, controls] of this.controls) {
        const fault = this.inForce(service)
        const want = fault !== undefined
        if ((this.isDown.get(service) ?? false) === want) continue
        this.isDown.set(service, want)
        try {
          if (want) {
            if (fault) fault.fault.fired++
            await controls.down()
            this.logger.info({ target: service, fault: fault?.fault.id }, 'service down (listener closed)')
          } else {
            await controls.up()
            this.logger.info({ target: service }, 'service up again')
          }
        } catch (err) {
          this.logger.error(
            { target: service, err: (err as Error).message },
            'could not change listener state',
          )
        }
      }
    })
  }

  /** Resolves when every listener change asked for so far is done. */
  settled(): Promise<void> {
    return this.sync
  }
}
