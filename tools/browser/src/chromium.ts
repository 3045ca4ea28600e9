/**
 * Chromium launched so that it reaches nothing beyond the pages it is sent to: no background
 * networking, no component updates, no sync, no QUIC, a fresh profile that is removed after. Run
 * as root on a machine without a GPU, hence --no-sandbox and --disable-gpu.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser (apt-get install chromium). */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--metrics-recording-only',
  '--no-default-browser-check',
]

export interface ChromiumInit {
  /** @default `CHROMIUM` from the environment, else Debian's /usr/bin/chromium */
  readonly executablePath?: string
}

/** The browser to drive, or a clear error saying how to install it. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.CHROMIUM
  if (given !== undefined && given !== '') return given
  const found = CANDIDATES.find((p) => existsSync(p))
  if (found === undefined) {
    throw Object.assign(
      new Error(
        `no Chromium at ${CANDIDATES.join(', ')}: install Debian's (apt-get install -y chromium) or set CHROMIUM`,
      ),
      { code: 'ERR_CHROMIUM_MISSING' },
    )
  }
  return found
}

/** A headless Chromium with its own throwaway profile; `await using` closes it and removes the profile. */
export async function launchChromium(init: ChromiumInit = {}): Promise<Browser & AsyncDisposable> {
  const profile = await mkdtemp(join(tmpdir(), 'p2p-ai-chromium-'))
  const executablePath = init.executablePath ?? chromiumPath()
  // launchPersistentContext would keep the profile; a plain launch with --user-data-dir does too.
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
    // Its own flags only: Playwright's defaults add nothing this needs.
    chromiumSandbox: false,
  })
  const close = async (): Promise<void> => {
    await browser.close().catch(() => {})
    await rm(profile, { recursive: true, force: true })
  }
  return Object.assign(browser, { [Symbol.asyncDispose]: close })
}
