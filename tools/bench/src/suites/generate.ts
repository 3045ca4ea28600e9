/**
 * @p2p-ai/llama: the `generate` task on llama.cpp (node-llama-cpp's prebuilt CPU binary), on two
 * synthetic llama-architecture models written by `writeSyntheticLlamaModel` (no weights are
 * downloaded): the tiny one the tests use (131k parameters, F32) and a "small" one of 26M
 * parameters in Q8_0 (dim 512, 8 blocks, 8 heads / 4 KV heads, SwiGLU 1536), which costs a
 * realistic share of compute per token. Both are built so that greedy decoding never ends on its
 * own (`endless`), so every run generates exactly `maxTokens`.
 *
 * Measured: model load time; time to first token and tokens/s; how long a cancelled generation
 * takes to stop and give its sequence back (during decoding, and in the middle of reading a long
 * prompt, the worst case); and the event-loop delay while a generation runs on the main thread.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import type { TaskProgress } from '@p2p-ai/engine'
import {
  type GenerateInput,
  type GenerateOutput,
  type LlamaBackend,
  llamaBackend,
  type SyntheticLlamaOptions,
  writeSyntheticLlamaModel,
} from '@p2p-ai/llama'
import { defineSuite, type Measurements, measure } from '../runner.js'

const SMALL_SHAPE: SyntheticLlamaOptions = {
  embeddingLength: 512,
  blockCount: 8,
  headCount: 8,
  headCountKv: 4,
  feedForwardLength: 1536,
  contextLength: 4096,
  tensorType: 'Q8_0',
  endless: true,
}

interface State {
  root: string
  backend: LlamaBackend
}

let runs = 0

/** Runs `generate` on the backend directly (no engine queue), reporting when each delta arrives. */
function generate(
  backend: LlamaBackend,
  input: GenerateInput,
  options: { signal?: AbortSignal; onDelta?: () => void } = {},
): Promise<GenerateOutput> {
  const onProgress = (progress: TaskProgress): void => {
    if (progress.delta !== undefined) options.onDelta?.()
  }
  return backend.run(
    { id: `bench-${runs++}`, type: 'generate', input },
    { signal: options.signal ?? new AbortController().signal, onProgress },
  ) as Promise<GenerateOutput>
}

/** Loads `model` in a fresh backend, so the load is not a cache hit. */
async function loadRound(state: State, model: string): Promise<Measurements> {
  const backend = llamaBackend({
    models: [{ name: model, path: join(state.root, `${model}.gguf`) }],
    threads: 1,
  })
  await backend.load()
  try {
    const out = await generate(backend, { prompt: 'Once upon a time', maxTokens: 1 })
    return { loadMs: out.timings.loadMs }
  } finally {
    await backend.unload()
  }
}

async function speedRound(state: State, model: string, maxTokens: number): Promise<Measurements> {
  const lag = monitorEventLoopDelay({ resolution: 1 })
  lag.enable()
  const cpu = process.cpuUsage()
  const out = await generate(state.backend, { model, prompt: 'Once upon a time', maxTokens })
  const used = process.cpuUsage(cpu)
  lag.disable()
  return {
    timeToFirstTokenMs: out.timings.timeToFirstTokenMs,
    tokensPerSec: out.timings.tokensPerSecond,
    totalMs: out.timings.totalMs,
    completionTokens: out.usage.completionTokens,
    // Every thread of the process (llama.cpp's included), per generated token.
    cpuMsPerToken: (used.user + used.system) / 1000 / out.usage.completionTokens,
    loopDelayMaxMs: lag.max / 1e6,
    loopDelayP99Ms: lag.percentile(99) / 1e6,
  }
}

/**
 * Cancels a generation once it has streamed `afterDeltas` deltas (0: 150 ms into reading the prompt)
 * and measures until its run settled, which is when its context sequence is free again.
 */
async function cancelRound(state: State, model: string, input: GenerateInput, afterDeltas: number) {
  const controller = new AbortController()
  let deltas = 0
  let abortedAt = 0
  const abort = (): void => {
    abortedAt = performance.now()
    controller.abort(Object.assign(new Error('cancelled'), { code: 'ERR_TASK_CANCELLED' }))
  }
  const running = generate(
    state.backend,
    { ...input, model },
    {
      signal: controller.signal,
      onDelta: () => {
        if (++deltas === afterDeltas) abort()
      },
    },
  )
  // While it reads the prompt: abort in the middle of it, before any token.
  if (afterDeltas === 0) setTimeout(abort, 150)
  await running.then(
    () => {
      throw new Error('the generation finished before it was cancelled; give it more to do')
    },
    () => {},
  )
  const stoppedMs = performance.now() - abortedAt
  const free = state.backend.loadedModels().find((m) => m.name === model)?.activeTasks === 0
  if (!free) throw new Error('the cancelled run settled without giving its sequence back')
  return { stopMs: stoppedMs }
}

export default defineSuite<State>({
  name: 'generate',
  description: '@p2p-ai/llama: generate on llama.cpp, synthetic tiny (131k) and small (26M, Q8_0) models',
  setup: async ({ quick }) => {
    const root = await mkdtemp(join(tmpdir(), 'p2p-ai-bench-generate-'))
    await writeSyntheticLlamaModel(join(root, 'tiny.gguf'), { endless: true, contextLength: 4096 })
    await writeSyntheticLlamaModel(
      join(root, 'small.gguf'),
      quick ? { ...SMALL_SHAPE, blockCount: 2 } : SMALL_SHAPE,
    )
    const backend = llamaBackend({
      models: ['tiny', 'small'].map((name) => ({ name, path: join(root, `${name}.gguf`) })),
      // One thread: what the 2-core benchmark machine can give without contention. `threads`
      // defaults to cores − 1.
      threads: 1,
      contextSize: 4096,
      idleUnloadMs: 0,
    })
    await backend.load()
    return { root, backend }
  },
  teardown: async (state) => {
    await state.backend.unload()
    await rm(state.root, { recursive: true, force: true })
  },
  cases: (state) => [
    measure('load tiny', () => loadRound(state, 'tiny'), {
      description: 'fresh backend: read and hash the GGUF, estimate memory, load, create the context',
    }),
    measure('load small', () => loadRound(state, 'small')),
    measure('generate tiny, 128 tokens', ({ quick }) => speedRound(state, 'tiny', quick ? 16 : 128), {
      units: { completionTokens: 'tokens', cpuMsPerToken: 'ms' },
    }),
    measure('generate small, 64 tokens', ({ quick }) => speedRound(state, 'small', quick ? 8 : 64), {
      units: { completionTokens: 'tokens', cpuMsPerToken: 'ms' },
    }),
    measure(
      'cancel while decoding, small',
      () => cancelRound(state, 'small', { prompt: 'Once upon a time', maxTokens: 2000 }, 3),
      { description: 'abort after 3 streamed deltas → run settled and sequence free' },
    ),
    measure(
      'cancel while reading a 2000-token prompt, small',
      () => cancelRound(state, 'small', { prompt: 'x'.repeat(2000), maxTokens: 100 }, 0),
      {
        description:
          'abort 150 ms into the prompt: the wait is for the slice llama.cpp is reading (about 150 ms of work)',
      },
    ),
  ],
})
