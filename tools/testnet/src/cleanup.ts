/**
 * Last-resort teardown: when the process exits or is told to stop while testnets are still up,
 * their namespaces are deleted synchronously (no promise settles in an exit handler).
 */

interface Teardown {
  sync(): void
}

const live = new Set<Teardown>()
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
let installed = false

function teardownAll(): void {
  for (const testnet of live) {
    testnet.sync()
  }
  live.clear()
}

function onSignal(signal: NodeJS.Signals): void {
  teardownAll()
  uninstall()
  // Keep the usual meaning of the signal when nobody else handles it: terminate.
  if (process.listenerCount(signal) === 0) {
    process.kill(process.pid, signal)
  }
}

function install(): void {
  if (installed) {
    return
  }
  installed = true
  process.on('exit', teardownAll)
  for (const signal of SIGNALS) {
    process.on(signal, onSignal)
  }
}

function uninstall(): void {
  if (!installed) {
    return
  }
  installed = false
  process.off('exit', teardownAll)
  for (const signal of SIGNALS) {
    process.off(signal, onSignal)
  }
}

export function registerTeardown(testnet: Teardown): void {
  live.add(testnet)
  install()
}

export function unregisterTeardown(testnet: Teardown): void {
  live.delete(testnet)
  if (live.size === 0) {
    uninstall()
  }
}
