/**
 * The axe-core accessibility check, run inside the page: the rules of WCAG 2.0 and 2.1 at levels
 * A and AA. axe-core's own script is injected from the installed package (nothing is fetched).
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  /** CSS selectors of the offending elements. */
  readonly targets: readonly string[]
}

const WCAG_AA = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']

let source: Promise<string> | undefined

/** The WCAG 2.1 A/AA violations of the page as it is now. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  source ??= readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
  // The page's Content-Security-Policy allows its own scripts only: inject past it.
  await page.evaluate(await source)
  return page.evaluate(async (tags) => {
    const axe = (
      globalThis as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<AxeResults> } }
    ).axe
    interface AxeResults {
      violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }[]
    }
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags } })
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.map(String).join(' ')),
    }))
  }, WCAG_AA)
}
