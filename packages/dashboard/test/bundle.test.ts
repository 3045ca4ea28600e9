/**
 * The page ships inside the package, built (`pnpm build`): its size is held to a budget, and it
 * loads nothing from anywhere but its own origin.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'

const UI = new URL('../dist/ui/', import.meta.url).pathname
/** Gzipped JavaScript of the page at most (the budget: 300 KB). */
const JS_BUDGET = 300 * 1024
const CSS_BUDGET = 20 * 1024

/**
 * The page's files of one kind: those `index.html` names and the chunks they import, so a stale
 * chunk a cached build left beside them (turbo restores outputs without clearing) is not counted.
 */
function files(ext: string): string[] {
  const html = readFileSync(join(UI, 'index.html'), 'utf8')
  const present = new Set(readdirSync(join(UI, 'assets')))
  const named = (text: string) =>
    [...text.matchAll(/([\w.-]+\.(?:js|css))\b/g)].map((m) => m[1]!).filter((f) => present.has(f))
  const seen = new Set<string>()
  const queue = named(html)
  for (let f = queue.pop(); f !== undefined; f = queue.pop()) {
    if (seen.has(f)) continue
    seen.add(f)
    if (f.endsWith('.js')) queue.push(...named(readFileSync(join(UI, 'assets', f), 'utf8')))
  }
  return [...seen].filter((f) => f.endsWith(ext)).map((f) => join(UI, 'assets', f))
}
const gzipped = (paths: string[]) =>
  paths.reduce((sum, p) => sum + gzipSync(readFileSync(p), { level: 9 }).length, 0)

describe('the built page', () => {
  it(`keeps its JavaScript under ${JS_BUDGET / 1024} KB gzipped and its CSS under ${CSS_BUDGET / 1024} KB`, () => {
    const js = files('.js')
    expect(js.length).toBeGreaterThan(0)
    expect(gzipped(js)).toBeLessThan(JS_BUDGET)
    expect(gzipped(files('.css'))).toBeLessThan(CSS_BUDGET)
  })

  it('loads its scripts and styles from its own origin only', () => {
    const html = readFileSync(join(UI, 'index.html'), 'utf8')
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    expect(refs.length).toBeGreaterThan(0)
    // Its own files, or an empty icon (`data:,`: no request for /favicon.ico).
    for (const ref of refs) expect(ref, ref).toMatch(/^(\.\/assets\/|data:,$)/)
    expect(html).not.toMatch(/<script>(?!<\/script>)/)
  })
})
