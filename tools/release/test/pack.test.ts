import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  importInProject,
  type PackCheckResult,
  packAndInstall,
  publishedPackages,
  runInProject,
} from '../src/index.js'

const root = join(import.meta.dirname, '..', '..', '..')
const EXPECTED = [
  '@p2p-ai/cli',
  '@p2p-ai/engine',
  '@p2p-ai/identity',
  '@p2p-ai/node',
  '@p2p-ai/onnx',
  '@p2p-ai/protocol',
  '@p2p-ai/transport',
]

// Installing the tarballs fetches third-party dependencies from the npm registry (onnxruntime-node
// alone is ~90 MB), so this suite gets minutes, not seconds.
describe('published packages install and import from their tarballs in an empty project', () => {
  let result: PackCheckResult

  beforeAll(async () => {
    result = await packAndInstall({ root })
  }, 600_000)

  afterAll(async () => {
    // Leave nothing behind in the temp dir.
    if (result !== undefined) await rm(result.workDir, { recursive: true, force: true })
  })

  it('packs exactly the public @p2p-ai packages', async () => {
    expect((await publishedPackages(root)).map((p) => p.name)).toEqual(EXPECTED)
    expect(result.packages.map((p) => p.name)).toEqual(EXPECTED)
  })

  it('ships built code, types and a README, and no sources, tests or build info', () => {
    for (const pkg of result.packages) {
      expect(pkg.files, pkg.name).toContain('package.json')
      expect(pkg.files, pkg.name).toContain('README.md')
      expect(pkg.files, pkg.name).toContain('dist/index.js')
      expect(pkg.files, pkg.name).toContain('dist/index.d.ts')
      const stray = pkg.files.filter(
        (f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.tsbuildinfo'),
      )
      expect(stray, pkg.name).toEqual([])
    }
  })

  it('rewrites workspace ranges to real versions in the packed manifests', async () => {
    for (const pkg of result.packages) {
      const manifest = await readFile(
        join(result.projectDir, 'node_modules', pkg.name, 'package.json'),
        'utf8',
      )
      expect(manifest, pkg.name).not.toContain('workspace:')
      const parsed = JSON.parse(manifest) as {
        type: string
        engines: { node: string }
        exports: Record<string, unknown>
      }
      expect(parsed.type).toBe('module')
      expect(parsed.engines.node).toBe('>=20.19')
      expect(parsed.exports['.']).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' })
    }
  })

  it('imports every package by name', async () => {
    for (const pkg of result.packages) {
      const names = await importInProject(result.projectDir, pkg.name)
      expect(Array.isArray(names), pkg.name).toBe(true)
    }
  })

  it('runs real code from the installed identity package', async () => {
    const out = await runInProject(
      result.projectDir,
      `import { generateIdentity } from '@p2p-ai/identity'
       const id = generateIdentity()
       const sig = id.sign(new TextEncoder().encode('hello'))
       process.stdout.write(JSON.stringify({ peerId: id.peerId, ok: id.verify(new TextEncoder().encode('hello'), sig) }))`,
    )
    const parsed = JSON.parse(out) as { peerId: string; ok: boolean }
    expect(parsed.peerId).toMatch(/^12D3KooW/)
    expect(parsed.ok).toBe(true)
  })
})
