import { existsSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** Package root of a source file (the nearest directory with a `package.json`), by directory. */
const roots = new Map<string, string | undefined>()

function packageRoot(dir: string): string | undefined {
  if (roots.has(dir)) return roots.get(dir)
  const parent = dirname(dir)
  const root = existsSync(join(dir, 'package.json')) ? dir : parent === dir ? undefined : packageRoot(parent)
  roots.set(dir, root)
  return root
}

/**
 * The URL a worker thread can import for `url`. Worker threads run plain Node.js, which cannot load
 * TypeScript; when a package runs from its sources (its own tests under vitest or tsx), a module
 * under its `src/` maps to the compiled twin in its `dist/` — this package's and a plug-in's alike
 * — provided that twin exists, so the package must be built first. Anything else is returned
 * unchanged.
 */
export function runnableModuleUrl(url: string): string {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return url
  const file = fileURLToPath(url)
  const root = packageRoot(dirname(file))
  if (root === undefined) return url
  const inside = relative(root, file)
  if (!inside.startsWith(`src${sep}`)) return url
  const twin = join(root, 'dist', `${inside.slice(`src${sep}`.length, -'.ts'.length)}.js`)
  return existsSync(twin) ? pathToFileURL(twin).href : url
}

/** Turns a module given as a path or URL into a specifier `import()` accepts in any thread. */
export function toModuleSpecifier(module: string): string {
  if (module.startsWith('/') || /^[A-Za-z]:[\\/]/.test(module)) return pathToFileURL(module).href
  return module
}

/** The worker entry point, resolved to something a worker can run. */
export function workerEntryUrl(): URL {
  // In the sources the sibling is `entry.ts`; in `dist` it is `entry.js`.
  const sibling = import.meta.url.endsWith('.ts') ? './entry.ts' : './entry.js'
  return new URL(runnableModuleUrl(new URL(sibling, import.meta.url).href))
}

/** Exposed for error messages: the file a specifier points at, when it is a file URL. */
export function describeModule(module: string): string {
  return module.startsWith('file:') ? fileURLToPath(module) : module
}
