// Node built-ins are reached through `process.getBuiltinModule` (Node >= 20.16) instead of static
// imports, so browser bundlers can include this package unchanged: there the lookups return
// undefined, signing falls back to @noble/curves, and only persistence reports it is unsupported.

interface Builtins {
  'node:crypto': typeof import('node:crypto')
  'node:fs/promises': typeof import('node:fs/promises')
  'node:path': typeof import('node:path')
}

/** The Node built-in module `id`, or undefined outside Node (browsers, old runtimes). */
export function builtin<K extends keyof Builtins>(id: K): Builtins[K] | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
  if (typeof proc?.getBuiltinModule !== 'function') return undefined
  try {
    return proc.getBuiltinModule(id) as Builtins[K] | undefined
  } catch {
    return undefined
  }
}
