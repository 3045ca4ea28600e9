import { readFileSync } from 'node:fs'

function readVersion(): string {
  try {
    // dist/version.js and src/version.ts both sit one level below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: unknown
    }
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** The version of `@p2p-ai/cli`. */
export const CLI_VERSION: string = readVersion()
