/**
 * The page: the static files Vite built into `dist/ui`, read once when the dashboard starts and
 * served from memory, gzipped for browsers that take it. Nothing is fetched from anywhere else:
 * the page loads no font, script or style from the internet.
 */
import { readdir, readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { DashboardNotBuiltError } from '../errors.js'

export interface Asset {
  readonly type: string
  readonly body: Buffer
  readonly gzip: Buffer | undefined
  /** Vite puts a content hash in the names under `assets/`: they never change. */
  readonly immutable: boolean
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
}

/** Where the build puts the page: `dist/ui`, beside this module's `dist/server`. */
export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../ui', import.meta.url))

/** Reads every file of the built page; URL path (`/assets/index-abc.js`) → asset. */
export async function loadAssets(dir: string = DEFAULT_ASSETS_DIR): Promise<ReadonlyMap<string, Asset>> {
  let files: string[]
  try {
    files = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name))
  } catch (err) {
    throw new DashboardNotBuiltError(dir, err)
  }
  if (!files.some((f) => relative(dir, f) === 'index.html')) throw new DashboardNotBuiltError(dir)
  const assets = new Map<string, Asset>()
  for (const file of files) {
    const path = `/${relative(dir, file).split(sep).join('/')}`
    const body = await readFile(file)
    const type = TYPES[extname(file)] ?? 'application/octet-stream'
    const compressible = /^text\/|javascript|json|svg/.test(type) && body.length > 1024
    assets.set(path, {
      type,
      body,
      gzip: compressible ? gzipSync(body, { level: 9 }) : undefined,
      immutable: path.startsWith('/assets/'),
    })
  }
  return assets
}
