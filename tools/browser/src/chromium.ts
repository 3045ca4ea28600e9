/**
 * Chromium launched so that it reaches nothing beyond the pages it is sent to: no background
 * networking, no component updates, no sync, no QUIC, and (Playwright's doing) a fresh profile in
 * a temporary directory, removed when it closes. Run as root on a machine without a GPU, hence
 * --no-sandbox and --disable-gpu; Playwright adds --headless.
 */
import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser (apt-get install chromium). */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  // With no GPU, WebGL (the topology graph) runs on SwiftShader, which Chromium now asks for by name.
  '--enable-unsafe-swiftshader',
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

/** A headless Chromium with a throwaway profile; `await using` closes it. */
export async function launchChromium(init: ChromiumInit = {}): Promise<Browser & AsyncDisposable> {
  const browser = await chromium.launch({
    executablePath: init.executablePath ?? chromiumPath(),
    headless: true,
    args: [...CHROMIUM_ARGS],
    chromiumSandbox: false,
  })
  return Object.assign(browser, {
    [Symbol.asyncDispose]: async () => {
      await browser.close().catch(() => {})
    },
  })
}
