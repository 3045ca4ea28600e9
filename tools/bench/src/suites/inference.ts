/**
 * The ONNX side of @p2p-ai/engine: `embed` latency and throughput by batch size on two synthetic
 * BERT-shaped models (a tiny one, and one the size of all-MiniLM-L6-v2: 22.6M parameters, 90 MB,
 * random weights), `ocr` per text line on the real PaddleOCR v4 recognizer, model load time, peak
 * memory against model size (in a child process), and event-loop lag while inference runs on the
 * main thread versus in the engine's worker pool.
 *
 * Targets from the product documents: embed p99 < 500 ms, model load < 2 s, peak memory <= 1.5 x
 * model size.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Backend, taskEngine } from '@p2p-ai/engine'
import {
  type EmbedOutput,
  MINILM_SHAPE,
  type OcrOutput,
  onnxBackend,
  type SyntheticBertOptions,
  writeSyntheticBertModel,
} from '@p2p-ai/onnx'
import { type BenchCase, defineSuite, type Measurements, measure } from '../runner.js'

const SENTENCES = [
  'Peer-to-peer agents discover each other on the local network.',
  'Each task request is signed with the Ed25519 key of its requester.',
  'The engine keeps a priority queue and runs tasks with a timeout.',
  'Results are stored in SQLite and expire after a day.',
  'A node that goes offline is detected by missed heartbeats within seconds.',
  'Embeddings turn sentences into vectors so that similar meanings end up close together.',
  'Optical character recognition reads the text in an image of a printed line.',
  'Volunteers contribute idle compute from laptops, servers and small boards.',
  'The quick brown fox jumps over the lazy dog.',
  'Models are verified by their sha256 before they are loaded.',
  'Chunking splits long documents into pieces that fit a model context.',
  'Task results travel back to the requester in a signed envelope.',
]

const OCR_LINES = ['Hello world', '1234567890', 'MixedCase Text 42', 'p2p-ai agents', 'Peer 7 sent 3 tasks']

interface State {
  root: string
  backend: Backend
  tinyBytes: number
  miniBytes: number
  ocrImages: string[]
  ocrPage: string
  quick: boolean
}

const engineRoot = dirname(dirname(fileURLToPath(import.meta.resolve('@p2p-ai/engine'))))
const engineRequire = createRequire(join(engineRoot, 'package.json'))

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

function texts(n: number, offset: number): string[] {
  return Array.from({ length: n }, (_, i) => SENTENCES[(offset + i) % SENTENCES.length]!)
}

async function run(backend: Backend, type: string, input: unknown): Promise<unknown> {
  return backend.run({ id: 'bench', type, input }, { signal: new AbortController().signal })
}

/**
 * Renders each text line, and a page holding all of them, with sharp and the engine's test font
 * (DejaVu Sans from npm).
 */
async function renderLines(): Promise<{ lines: string[]; page: string }> {
  // sharp is the engine's dependency, not the bench's: resolved from there, typed as far as used here.
  interface Image {
    png(): Image
    extend(options: object): Image
    flatten(options: object): Image
    toBuffer(): Promise<Buffer>
  }
  const sharp = (
    (await import(engineRequire.resolve('sharp'))) as { default: (input: object | Buffer) => Image }
  ).default
  const font = join(dirname(engineRequire.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf')
  const render = async (text: string, margin: number): Promise<string> => {
    const glyphs = await sharp({
      text: {
        text: `<span foreground="black">${text}</span>`,
        font: 'DejaVu Sans 32',
        fontfile: font,
        dpi: 72,
        rgba: true,
        spacing: 24,
      },
    })
      .png()
      .toBuffer()
    const png = await sharp(glyphs)
      .extend({
        top: margin,
        bottom: margin,
        left: margin,
        right: margin,
        background: { r: 255, g: 255, b: 255, alpha: 0 },
      })
      .flatten({ background: '#ffffff' })
      .png()
      .toBuffer()
    return png.toString('base64')
  }
  const lines: string[] = []
  for (const line of OCR_LINES) lines.push(await render(line, 8))
  return { lines, page: await render(OCR_LINES.join('\n'), 40) }
}

function embedCase(state: State, model: 'tiny' | 'minilm', batch: number): BenchCase {
  const calls = model === 'tiny' ? 60 : batch === 1 ? 40 : batch === 8 ? 15 : 6
  return measure(
    `embed ${model} batch ${batch}`,
    async ({ quick }) => {
      const n = quick ? Math.min(calls, 5) : calls
      const latencies: number[] = []
      let tokens = 0
      const start = performance.now()
      const cpu = process.cpuUsage()
      for (let i = 0; i < n; i++) {
        const t0 = performance.now()
        const out = (await run(state.backend, 'embed', { model, texts: texts(batch, i) })) as EmbedOutput
        latencies.push(performance.now() - t0)
        tokens += out.tokens
      }
      const seconds = (performance.now() - start) / 1000
      const used = process.cpuUsage(cpu)
      latencies.sort((a, b) => a - b)
      return {
        latencyP50Ms: percentile(latencies, 50),
        latencyP99Ms: percentile(latencies, 99),
        textsPerSec: (n * batch) / seconds,
        // CPU time of every thread of the process (ONNX Runtime's included) per text: what the work
        // costs, whatever share of the machine other processes take.
        cpuMsPerText: (used.user + used.system) / 1000 / (n * batch),
        tokensPerText: tokens / (n * batch),
      }
    },
    { description: `${calls} calls of ${batch} sentence(s); p99 of ${calls} samples is close to the max` },
  )
}

/** Peak RSS of a fresh process that loads the MiniLM-sized model and embeds batches of 32. */
async function memoryRound(
  state: State,
  session: { mapWeights: boolean; prepackWeights: boolean },
): Promise<Measurements> {
  const script = `
    const { onnxBackend } = await import(${JSON.stringify(import.meta.resolve('@p2p-ai/onnx'))})
    const models = ['tiny', 'minilm'].map((name) => ({ name, path: ${JSON.stringify(state.root)} + '/' + name }))
    const backend = onnxBackend({ worker: false, builtinModels: false, models, cache: { session: ${JSON.stringify(session)} } })
    const signal = new AbortController().signal
    const embed = (model) => backend.run({ id: model, type: 'embed', input: { model, texts: ${JSON.stringify(texts(32, 0))} } }, { signal })
    // The baseline holds everything but the model: ONNX Runtime, the tokenizer and V8, warmed on
    // the tiny model.
    for (let i = 0; i < 2; i++) await embed('tiny')
    globalThis.gc()
    const baseline = process.memoryUsage().rss
    // One short text: the session load dominates this peak.
    await backend.run({ id: 'load', type: 'embed', input: { model: 'minilm', text: 'load' } }, { signal })
    const loadPeakKb = process.resourceUsage().maxRSS
    const loaded = process.memoryUsage().rss
    for (let i = 0; i < 5; i++) await embed('minilm')
    console.log(JSON.stringify({ baseline, loaded, loadPeakKb, peakKb: process.resourceUsage().maxRSS }))
  `
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--input-type=module', '-e', script],
    {
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    },
  )
  const r = JSON.parse(stdout) as { baseline: number; loaded: number; loadPeakKb: number; peakKb: number }
  const peakMb = r.peakKb / 1024
  const baselineMb = r.baseline / 1024 ** 2
  const modelMb = state.miniBytes / 1024 ** 2
  return {
    modelMb,
    rssBaselineMb: baselineMb,
    rssPeakMb: peakMb,
    loadPeakOverModelRatio: (r.loadPeakKb / 1024 - baselineMb) / modelMb,
    loadedOverModelRatio: (r.loaded / 1024 ** 2 - baselineMb) / modelMb,
    // What the model costs on top of the warmed process; the documents' budget is 1.5 x model size.
    peakOverModelRatio: (peakMb - baselineMb) / modelMb,
    peakRssOverModelRatio: peakMb / modelMb,
  }
}

/** Event-loop delay on the main thread while `work` runs. */
async function lagDuring(work: () => Promise<unknown>): Promise<{ maxMs: number; p99Ms: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  await work()
  h.disable()
  return { maxMs: h.max / 1e6, p99Ms: h.percentile(99) / 1e6 }
}

export default defineSuite<State>({
  name: 'inference',
  description: 'onnx backend: embed by batch size, ocr per line, model load, peak memory, event-loop lag',
  setup: async ({ quick }) => {
    const root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-inference-'))
    const tinyShape: SyntheticBertOptions = {
      words: SENTENCES.join(' ').toLowerCase().split(/\W+/),
      hidden: 32,
    }
    // --quick is a smoke test: a MiniLM-like model with fewer layers keeps it fast.
    const miniShape: SyntheticBertOptions = quick ? { ...MINILM_SHAPE, layers: 1 } : MINILM_SHAPE
    const tiny = await writeSyntheticBertModel(join(root, 'tiny'), tinyShape)
    const mini = await writeSyntheticBertModel(join(root, 'minilm'), miniShape)
    const backend = onnxBackend({
      worker: false,
      models: [
        { name: 'tiny', path: join(root, 'tiny') },
        { name: 'minilm', path: join(root, 'minilm') },
      ],
    })
    await backend.load()
    return {
      root,
      backend,
      tinyBytes: tiny.model.length,
      miniBytes: mini.model.length,
      ...(await renderLines().then((r) => ({ ocrImages: r.lines, ocrPage: r.page }))),
      quick,
    }
  },
  teardown: async (state) => {
    await state.backend.unload()
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => [
    ...[1, 8, 32].map((b) => embedCase(state, 'tiny', b)),
    ...[1, 8, 32].map((b) => embedCase(state, 'minilm', b)),
    measure(
      'ocr line',
      async () => {
        const latencies: number[] = []
        let correct = 0
        const cpu = process.cpuUsage()
        for (const [i, image] of state.ocrImages.entries()) {
          const t0 = performance.now()
          const out = (await run(state.backend, 'ocr', { image })) as OcrOutput
          latencies.push(performance.now() - t0)
          if (out.text === OCR_LINES[i]) correct++
        }
        const used = process.cpuUsage(cpu)
        latencies.sort((a, b) => a - b)
        return {
          latencyP50Ms: percentile(latencies, 50),
          latencyMaxMs: latencies.at(-1)!,
          // sharp's decode and resize run on libuv threads of this process, so they count too.
          cpuMsPerLine: (used.user + used.system) / 1000 / OCR_LINES.length,
          correctPct: (100 * correct) / OCR_LINES.length,
        }
      },
      { description: `${OCR_LINES.length} rendered lines: decode + resize + PP-OCRv4 rec + CTC decode` },
    ),
    measure(
      'ocr page',
      async () => {
        const cpu = process.cpuUsage()
        const t0 = performance.now()
        const out = (await run(state.backend, 'ocr', { image: state.ocrPage, layout: 'page' })) as OcrOutput
        const latencyMs = performance.now() - t0
        const used = process.cpuUsage(cpu)
        const read = out.lines?.map((l) => l.text) ?? []
        return {
          latencyMs,
          cpuMs: (used.user + used.system) / 1000,
          linesFound: read.length,
          linesReadExactly: read.filter((t, i) => t === OCR_LINES[i]).length,
        }
      },
      { description: `one page of ${OCR_LINES.length} lines: PP-OCRv4 det + rec per line` },
    ),
    measure(
      'model load minilm',
      async () => {
        // A fresh backend: sha256 (cached by file stat after the first round) + session creation.
        const backend = onnxBackend({
          worker: false,
          builtinModels: false,
          models: [{ name: 'minilm', path: join(state.root, 'minilm') }],
        })
        const t0 = performance.now()
        await run(backend, 'embed', { model: 'minilm', text: SENTENCES[0] })
        const t1 = performance.now()
        await run(backend, 'embed', { model: 'minilm', text: SENTENCES[0] })
        const t2 = performance.now()
        await backend.unload()
        return { firstEmbedMs: t1 - t0, warmEmbedMs: t2 - t1, loadMs: t1 - t0 - (t2 - t1) }
      },
      { description: 'first embed on a fresh backend minus a warm one = session creation (+ hash check)' },
    ),
    ...(
      [
        ['', { mapWeights: true, prepackWeights: true }],
        [' unmapped', { mapWeights: false, prepackWeights: true }],
        [' unmapped no-prepack', { mapWeights: false, prepackWeights: false }],
      ] as const
    ).map(([suffix, session]) =>
      measure(`peak memory minilm${suffix}`, () => memoryRound(state, session), {
        rounds: 3,
        warmupRounds: 0,
        units: {
          peakOverModelRatio: 'x',
          peakRssOverModelRatio: 'x',
          loadPeakOverModelRatio: 'x',
          loadedOverModelRatio: 'x',
        },
        description: `child process, ${JSON.stringify(session)}: load, then 5 embeds of 32; peak RSS from getrusage`,
      }),
    ),
    measure(
      'event-loop lag',
      async () => {
        const work = (b: Backend) => async () => {
          for (let i = 0; i < 3; i++) await run(b, 'embed', { model: 'minilm', texts: texts(32, i) })
        }
        const main = await lagDuring(work(state.backend))
        const engine = taskEngine({
          builtins: false,
          backends: [
            onnxBackend({
              builtinModels: false,
              models: [{ name: 'minilm', path: join(state.root, 'minilm') }],
            }),
          ],
        })
        await engine.backends.load('onnx')
        await engine.run({ type: 'embed', input: { model: 'minilm', text: 'warm up' } })
        const hosted = await lagDuring(async () => {
          for (let i = 0; i < 3; i++)
            await engine.run({ type: 'embed', input: { model: 'minilm', texts: texts(32, i) } })
        })
        await engine.stop()
        return {
          mainThreadLagMaxMs: main.maxMs,
          mainThreadLagP99Ms: main.p99Ms,
          workerHostedLagMaxMs: hosted.maxMs,
          workerHostedLagP99Ms: hosted.p99Ms,
        }
      },
      {
        rounds: 3,
        description: '3 embeds of 32 sentences on minilm: in-process vs in the engine worker pool',
      },
    ),
  ],
})
