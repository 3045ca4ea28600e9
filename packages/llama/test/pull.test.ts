import { createHash } from 'node:crypto'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { readManifest } from '@p2p-ai/engine'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Hub, listFiles, startHub } from '../../engine/test/fixtures/hub.js'
import { llamaBackend } from '../src/backend.js'
import { ggufModelName } from '../src/models.js'
import { chooseGgufFile, parseGgufReference, pullGgufModel } from '../src/pull.js'
import { modelDir } from './helpers.js'

describe('GGUF references', () => {
  it('reads the forms llama.cpp, Ollama, node-llama-cpp and a browser give', () => {
    const repo = 'bartowski/Llama-3.2-1B-Instruct-GGUF'
    for (const [text, expected] of [
      [`${repo}:Q4_K_M`, { repo, quantization: 'Q4_K_M' }],
      [`hf.co/${repo}:q8_0`, { repo, quantization: 'q8_0' }],
      [`huggingface.co/${repo}:Q4_K_M`, { repo, quantization: 'Q4_K_M' }],
      [`hf:${repo}:Q4_K_M`, { repo, quantization: 'Q4_K_M' }],
      [`hf:${repo}`, { repo }],
      [`${repo}:Llama-3.2-1B-Instruct-Q4_K_M.gguf`, { repo, file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf' }],
      [
        `hf:${repo}/sub/Llama-3.2-1B-Instruct-Q4_K_M.gguf`,
        { repo, file: 'sub/Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
      ],
      [
        `https://huggingface.co/${repo}/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf?download=true`,
        { repo, revision: 'main', file: 'Llama-3.2-1B-Instruct-Q4_K_M.gguf' },
      ],
      [`https://huggingface.co/${repo}/blob/v1/a%20b.gguf`, { repo, revision: 'v1', file: 'a b.gguf' }],
    ] as const) {
      expect(parseGgufReference(text), text).toEqual(expected)
    }
    // A plain repository may be an ONNX export: no GGUF reference without hf: or hf.co/.
    for (const text of [repo, 'all-minilm-l6-v2', 'a/b/c', 'a/b:', 'hf:../x:Q4', '']) {
      expect(parseGgufReference(text), text).toBeUndefined()
    }
  })

  it('finds the file of a quantization, Q4_K_M by default, and says what there is when it cannot', () => {
    const files = [
      'README.md',
      'm-Q4_K_M.gguf',
      'm-Q8_0.gguf',
      'm-IQ3_XXS.gguf',
      'mmproj-m-f16.gguf',
      'big/m-Q6_K-00001-of-00002.gguf',
      'big/m-Q6_K-00002-of-00002.gguf',
    ].map((path) => ({ path, sizeBytes: 1 }))
    expect(chooseGgufFile('r', files).path).toBe('m-Q4_K_M.gguf')
    expect(chooseGgufFile('r', files, 'q8_0').path).toBe('m-Q8_0.gguf')
    expect(chooseGgufFile('r', files, 'IQ3_XXS').path).toBe('m-IQ3_XXS.gguf')
    expect(() => chooseGgufFile('r', files, 'Q5_K_M')).toThrow(
      expect.objectContaining({
        code: 'ERR_GGUF_FILE_NOT_FOUND',
        message: 'r has no Q5_K_M GGUF file; it has IQ3_XXS, Q4_K_M, Q8_0',
      }),
    )
    expect(() => chooseGgufFile('r', files, 'Q6_K')).toThrow(/split into several files/)
    expect(() => chooseGgufFile('r', [{ path: 'README.md', sizeBytes: 1 }])).toThrow(/has no GGUF file/)
    // Alone, a file of any quantization is the default.
    expect(chooseGgufFile('r', [{ path: 'tiny-F32.gguf', sizeBytes: 1 }]).path).toBe('tiny-F32.gguf')
    expect(ggufModelName('sub/TinyLlama-1.1B-Chat-v1.0.Q4_K_M.gguf')).toBe('tinyllama-1.1b-chat-v1.0.q4_k_m')
  })
})

describe('pullGgufModel', () => {
  let models: Awaited<ReturnType<typeof modelDir>>
  let hub: Hub
  let sha: string
  let repo: string

  beforeAll(async () => {
    models = await modelDir()
    // A repository as GGUF publishers lay them out: one file per quantization.
    repo = join(models.dir, 'hub')
    await models.write('hub/tiny.Q4_K_M')
    await models.write('hub/tiny.Q8_0', { tensorType: 'Q8_0' })
    sha = createHash('sha256')
      .update(await readFile(join(repo, 'tiny.Q4_K_M.gguf')))
      .digest('hex')
    hub = await startHub({ 'acme/tiny-GGUF': { dir: repo, cuts: 1 } })
  })
  afterAll(async () => {
    await hub?.close()
    await models?.cleanup()
  })

  it('pulls the file of a quantization resumably, and the backend registers it from its models directory, with GGUF files dropped there', async () => {
    const modelsDir = join(models.dir, 'pulled')
    const options = { repo: 'acme/tiny-GGUF', endpoint: hub.endpoint, modelsDir, stallTimeoutMs: 5000 }
    // The hub cuts the first download halfway; the second pull continues it.
    await expect(pullGgufModel(options)).rejects.toMatchObject({ code: 'ERR_MODEL_DOWNLOAD_FAILED' })
    const pulled = await pullGgufModel(options)
    expect(pulled.name).toBe('tiny.q4_k_m')
    expect(pulled.manifest).toMatchObject({ format: 'gguf', model: 'tiny.Q4_K_M.gguf' })
    expect(pulled.entry.sha256).toBe(sha)
    expect(hub.requests.some((r) => r.headers.range !== undefined)).toBe(true)
    expect(await listFiles(join(modelsDir, 'tiny.q4_k_m'))).toEqual(['p2p-ai-model.json', 'tiny.Q4_K_M.gguf'])
    expect(await readManifest(join(modelsDir, 'tiny.q4_k_m'))).toMatchObject({
      source: { repo: 'acme/tiny-GGUF' },
    })

    await copyFile(join(repo, 'tiny.Q8_0.gguf'), join(modelsDir, 'Dropped-Tiny.Q8_0.gguf'))
    // Registered and read (hash, GGUF header) without starting llama.cpp; generate on a
    // registered model is the business of generate.test.ts.
    const backend = llamaBackend({ modelsDir })
    await backend.scanModels()
    expect(backend.models()).toMatchObject([
      { name: 'tiny.q4_k_m', sha256: sha, family: 'llama' },
      { name: 'dropped-tiny.q8_0', quantization: 'Q8_0' },
    ])
  })

  it('refuses a quantization the repository does not have, naming those it has', async () => {
    await expect(
      pullGgufModel({
        repo: 'acme/tiny-GGUF',
        quantization: 'Q2_K',
        endpoint: hub.endpoint,
        modelsDir: models.dir,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_GGUF_FILE_NOT_FOUND',
      message: expect.stringContaining('Q4_K_M, Q8_0'),
    })
  })
})
