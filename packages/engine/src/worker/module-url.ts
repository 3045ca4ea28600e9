import { fileURLToPath, pathToFileURL } from 'node:url'

// This file is `<package>/src/worker/module-url.ts` in the sources and
// `<package>/dist/worker/module-url.js` once built; two levels up is the package root either way.
const packageRoot = new URL('../../', import.meta.url).href

/**
 * The URL a worker thread can import for `url`. Worker threads run plain Node.js, which cannot load
 * TypeScript; when this package itself runs from its sources (vitest, tsx), a module of this
 * package's `src/` maps to its compiled twin in `dist/`, so the package must be built first.
 * Anything else is returned unchanged.
 */
export function runnableModuleUrl(url: string): string {
  if (!url.startsWith(packageRoot) || !url.endsWith('.ts')) return url
  const relative = url.slice(packageRoot.length)
  if (!relative.startsWith('src/')) return url
  return `${packageRoot}dist/${relative.slice('src/'.length, -'.ts'.length)}.js`
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
