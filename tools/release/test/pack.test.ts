import { readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  importInProject,
  installedPackages,
  installProject,
  type PackCheckResult,
  packAll,
  publishedPackages,
  reuseNativeBuild,
  runInProject,
} from '../src/index.js'

const root = join(import.meta.dirname, '..', '..', '..')
const EXPECTED = [
  '@p2p-ai/cli',
  '@p2p-ai/content',
  '@p2p-ai/dashboard',
  '@p2p-ai/engine',
  '@p2p-ai/identity',
  '@p2p-ai/llama',
  '@p2p-ai/metrics',
  '@p2p-ai/node',
  '@p2p-ai/onnx',
  '@p2p-ai/protocol',
  '@p2p-ai/tracing',
  '@p2p-ai/transport',
]

/**
 * A custom agent, as `@p2p-ai/node`'s README and examples/custom-agent.ts show: a node on
 * 127.0.0.1 that registers a task type of its own and runs one such task.
 */
const CUSTOM_AGENT = `
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNode } from '@p2p-ai/node'
import { z } from 'zod'

const dataDir = mkdtempSync(join(tmpdir(), 'p2p-ai-custom-agent-'))
const node = await createNode({ dataDir, network: { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: { enabled: false } } })
try {
  node.registerTask({
    name: 'shout',
    input: z.strictObject({ text: z.string().min(1) }),
    async run({ text }, { signal }) {
      signal.throwIfAborted()
      return { text: text.toUpperCase() + '!' }
    },
  })
  const handle = node.submit({ type: 'shout', input: { text: 'hello, peers' } }, { target: 'local' })
  const output = await handle.output()
  process.stdout.write(JSON.stringify({ output, taskTypes: node.engine.capabilities().taskTypes.map((t) => t.name), listening: node.getMultiaddrs().map(String) }))
} finally {
  await node.stop()
  rmSync(dataDir, { recursive: true, force: true })
}
`

// Installing the tarballs fetches third-party dependencies from the npm registry (onnxruntime-node
// alone is ~90 MB), so this suite gets minutes, not seconds.
describe('published packages install and import from their tarballs in an empty project', () => {
  let result: PackCheckResult
  /** A project of a custom agent, which depends on @p2p-ai/node alone. */
  let customAgentDir: string

  beforeAll(async () => {
    const { workDir, packages } = await packAll({ root })
    result = { workDir, projectDir: join(workDir, 'project'), packages }
    customAgentDir = join(workDir, 'custom-agent')
    const { version: zod } = JSON.parse(
      await readFile(join(root, 'packages', 'node', 'node_modules', 'zod', 'package.json'), 'utf8'),
    ) as { version: string }
    // Side by side: each install mostly waits on npm.
    await Promise.all([
      installProject(
        result.projectDir,
        packages,
        packages.map((p) => p.name),
      ),
      installProject(customAgentDir, packages, ['@p2p-ai/node', `zod@^${zod}`]),
    ])
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
    // One process per package, side by side.
    const imported = await Promise.all(
      result.packages.map(
        async (pkg) => [pkg.name, await importInProject(result.projectDir, pkg.name)] as const,
      ),
    )
    for (const [name, names] of imported) expect(Array.isArray(names), name).toBe(true)
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

  // Light installs: ONNX Runtime (~90 MB) and sharp (libvips) come with @p2p-ai/onnx only, the
  // OpenTelemetry SDK with @p2p-ai/tracing only.
  it('installs a custom agent from @p2p-ai/node alone, without onnxruntime-node or sharp, and runs it', async () => {
    const projectDir = customAgentDir
    const installed = await installedPackages(projectDir)
    expect(installed.has('@p2p-ai/node')).toBe(true)
    expect(installed.has('@p2p-ai/engine')).toBe(true)
    const heavy = [...installed].filter((name) =>
      /^(onnxruntime-node|onnxruntime-common|sharp|@img\/.*|@p2p-ai\/onnx|@huggingface\/tokenizers|@gutenye\/ocr-models|@p2p-ai\/tracing|@opentelemetry\/sdk-trace)$/.test(
        name,
      ),
    )
    expect(heavy).toEqual([])

    const engineDir = join(root, 'packages', 'engine')
    await reuseNativeBuild(
      projectDir,
      'better-sqlite3',
      dirname(createRequire(join(engineDir, 'package.json')).resolve('better-sqlite3/package.json')),
    )
    const out = JSON.parse(await runInProject(projectDir, CUSTOM_AGENT)) as {
      output: { text: string }
      taskTypes: string[]
      listening: string[]
    }
    expect(out.output).toEqual({ text: 'HELLO, PEERS!' })
    expect(out.taskTypes).toEqual(expect.arrayContaining(['shout', 'chunk']))
    expect(out.taskTypes).not.toContain('embed')
    expect(out.listening[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
  }, 300_000)
})
