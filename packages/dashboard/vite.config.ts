import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// The page is built into dist/ui, beside the compiled server that serves it (src/server/assets.ts).
// Relative asset URLs, no source maps, no inline assets: everything is a file of the page's own
// origin, as its Content-Security-Policy requires.
export default defineConfig({
  root: fileURLToPath(new URL('./src/ui', import.meta.url)),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('./dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
})
