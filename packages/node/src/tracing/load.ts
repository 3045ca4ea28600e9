/**
 * Which tracing a node records with: the one given in code, none, or `@p2p-ai/tracing` configured
 * by the `tracing.*` settings when it is installed (an optional dependency, like QUIC's).
 */
import type { Logger } from 'pino'
import type { NodeConfig } from '../config/types.js'
import { TRACING_MODULE } from './constants.js'
import type { NodeTracing, TracingContext, TracingFactory } from './types.js'

/** The part of `@p2p-ai/tracing` the node uses, as it loads it. */
interface TracingModule {
  tracing(init: {
    sampleRate: number
    retentionMs: number
    otlp?: { endpoint: string; headers: Record<string, string> }
  }): TracingFactory
}

/**
 * The node's tracing: `given` when code passed a factory (whatever `tracing.enabled` says), none
 * for `false` or `tracing.enabled: false`, else the plug-in configured from `config.tracing`; a
 * node without the plug-in installed runs untraced and says so once.
 */
export async function loadTracing(
  given: TracingFactory | false | undefined,
  config: NodeConfig,
  context: TracingContext,
  log: Logger,
): Promise<NodeTracing | undefined> {
  if (given === false) return undefined
  if (given !== undefined) return given(context)
  const settings = config.tracing
  if (!settings.enabled) return undefined
  let module: TracingModule
  try {
    // Through a variable: the node neither bundles nor type-checks against the optional plug-in.
    const name: string = TRACING_MODULE
    module = (await import(name)) as TracingModule
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const missing =
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      (err as Error).message.includes(`'${TRACING_MODULE}'`)
    // Found but broken (a dependency of its own missing) is a real error, not an absent plug-in.
    if (!missing) throw err
    const level = settings.otlp.endpoint === '' ? 'debug' : 'warn'
    log[level](
      { module: TRACING_MODULE },
      `tracing is on but ${TRACING_MODULE} is not installed: no spans are recorded (npm install ${TRACING_MODULE})`,
    )
    return undefined
  }
  return module.tracing({
    sampleRate: settings.samplePercent / 100,
    retentionMs: settings.retentionHours * 3_600_000,
    ...(settings.otlp.endpoint === ''
      ? {}
      : { otlp: { endpoint: settings.otlp.endpoint, headers: headersOf(settings.otlp.headers) } }),
  })(context)
}

/** `name=value` items (validated by the config) as a header object. */
function headersOf(items: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const item of items) {
    const eq = item.indexOf('=')
    headers[item.slice(0, eq).trim().toLowerCase()] = item.slice(eq + 1).trim()
  }
  return headers
}
