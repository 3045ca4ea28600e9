import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { writeSyntheticBertModel } from '@p2p-ai/onnx'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanUp, LOCAL_NODE, run, tempHome } from './helpers.js'

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
  await cleanUp()
})

/** A Hugging Face-like hub on 127.0.0.1 serving one repository from a directory. */
async function localHub(repo: string, dir: string): Promise<string> {
  const server = createServer(async (req, res) => {
    const prefix = `/${repo}/resolve/main/`
    const file = decodeURIComponent(req.url ?? '').startsWith(prefix)
      ? decodeURIComponent(req.url!).slice(prefix.length)
      : ''
    try {
      if (file === '' || file.includes('..')) throw new Error('no')
      const data = await readFile(join(dir, file))
      res.writeHead(200, { 'content-length': data.length })
      res.end(data)
    } catch {
      res.writeHead(404)
      res.end()
    }
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('models', () => {
  it('lists the built-in OCR models without a node', async () => {
    const home = await tempHome()
    const r = await run(['models', 'list', '--json'], { home })
    expect(r.code).toBe(0)
    const { models, nodeRunning } = JSON.parse(r.stdout) as {
      models: Array<{ name: string; source: string }>
      nodeRunning: boolean
    }
    expect(nodeRunning).toBe(false)
    expect(models).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'ppocr-v4-rec', source: 'builtin' })]),
    )
  })

  it('adds a local model with its sha256, and a node started afterwards embeds with it', async () => {
    const home = await tempHome()
    const modelDir = join(home, 'tiny-bert')
    await writeSyntheticBertModel(modelDir, { hidden: 16, layers: 1, heads: 2 })
    const dataDir = join(home, 'node-a')
    const added = await run(['models', 'add', 'tiny-bert', modelDir, '--json', '--data-dir', dataDir], {
      home,
    })
    expect(added.code).toBe(0)
    const info = JSON.parse(added.stdout) as { sha256: string; taskTypes: string[] }
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(info.taskTypes).toEqual(['embed', 'tokenize', 'onnx'])
    const stored = JSON.parse(await readFile(join(dataDir, 'models.json'), 'utf8')) as {
      models: Array<{ name: string; sha256: string }>
    }
    expect(stored.models).toEqual([expect.objectContaining({ name: 'tiny-bert', sha256: info.sha256 })])

    const start = await run(['node', 'start', '--detach', '--data-dir', dataDir, ...LOCAL_NODE], { home })
    expect(start.code).toBe(0)
    const embed = await run(
      [
        'task',
        'submit',
        '--type',
        'embed',
        '--input',
        'hello world',
        '--param',
        'model=tiny-bert',
        '--wait',
        '--json',
        '--data-dir',
        dataDir,
      ],
      { home },
    )
    expect(embed.stderr).toBe('')
    const task = JSON.parse(embed.stdout) as {
      status: string
      output: { model: string; dimensions: number; embeddings: number[][] }
    }
    expect(task.status).toBe('COMPLETED')
    expect(task.output.model).toBe('tiny-bert')
    expect(task.output.dimensions).toBe(16)
    const norm = Math.hypot(...task.output.embeddings[0]!)
    expect(norm).toBeCloseTo(1, 5)

    // The running node serves it, with the hash `models add` pinned.
    const listed = await run(['models', 'list', '--json', '--data-dir', dataDir], { home })
    const { models, nodeRunning } = JSON.parse(listed.stdout) as {
      models: Array<{ name: string; source: string; sha256?: string }>
      nodeRunning: boolean
    }
    expect(nodeRunning).toBe(true)
    expect(models).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'tiny-bert', source: 'added', sha256: info.sha256 }),
        expect.objectContaining({
          name: 'ppocr-v4-rec',
          source: 'builtin',
          sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        }),
      ]),
    )
  }, 90_000)

  it('refuses a bad name or a missing path with advice', async () => {
    const home = await tempHome()
    const badName = await run(['models', 'add', 'Tiny BERT', home], { home })
    expect(badName.code).toBe(2)
    expect(badName.stderr).toContain('must be lower-case letters')
    const missing = await run(['models', 'add', 'tiny', join(home, 'nowhere')], { home })
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`${join(home, 'nowhere')} does not exist`)
  })

  it('pulls a model from a hub (here one on 127.0.0.1) and lists it as pulled', async () => {
    const home = await tempHome()
    const source = join(home, 'hub-files')
    await writeSyntheticBertModel(source, { hidden: 16, layers: 1, heads: 2 })
    const endpoint = await localHub('acme/tiny-bert', source)
    const dataDir = join(home, 'node-a')
    const r = await run(['models', 'pull', 'acme/tiny-bert', '--endpoint', endpoint, '--data-dir', dataDir], {
      home,
    })
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`pulled tiny-bert`)
    const list = await run(['models', 'list', '--json', '--data-dir', dataDir], { home })
    const { models } = JSON.parse(list.stdout) as { models: Array<{ name: string; source: string }> }
    expect(models).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'tiny-bert', source: 'pulled' })]),
    )
  })

  it('says clearly when the hub cannot be reached', async () => {
    const home = await tempHome()
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    await new Promise((resolve) => server.close(resolve))
    const r = await run(['models', 'pull', 'all-minilm-l6-v2', '--endpoint', `http://127.0.0.1:${port}`], {
      home,
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`cannot reach 127.0.0.1:${port}`)
    expect(r.stderr).toContain('seems to be offline')
    expect(r.stderr).toContain('hint: models pull needs the internet')
  })

  it('names the known short names for an unknown one', async () => {
    const home = await tempHome()
    const r = await run(['models', 'pull', 'minilm'], { home })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('known short names: all-minilm-l6-v2')
  })
})
