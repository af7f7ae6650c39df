/**
 * How a service is reached: plain HTTP, HTTP with WebSocket upgrades, or a raw TCP listener
 * (a database wire protocol). A fake's descriptor declares it; the fault engine derives what the
 * service can be faulted on from it.
 */
export type Transport = 'http' | 'http+ws' | 'tcp'
