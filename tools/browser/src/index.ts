/**
 * Debian's Chromium driven by Playwright, for the dashboard's browser tests and its benchmark.
 *
 * ```ts
 * await using browser = await launchChromium()
 * const page = await browser.newPage()
 * await page.goto(loginUrl)
 * const violations = await axeViolations(page)
 * ```
 *
 * @packageDocumentation
 */

export type { Browser, Page } from 'playwright-core'
export { type AxeViolation, axeViolations } from './axe.js'
export { CHROMIUM_ARGS, type ChromiumInit, chromiumPath, launchChromium } from './chromium.js'
