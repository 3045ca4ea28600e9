/**
 * `debug stress` on the node's side: a controlled load on the swarm. Tasks are submitted at a fixed
 * rate for a fixed time, through the node's own exchange (routed, failed over and verified like
 * any task); once `maxInFlight` are unfinished, new ones are skipped and counted rather than
 * queued, so the load stays what was asked for and the node stays responsive. The report says what
 * was sent, what came back, how fast, and who ran it.
 */
import type { NetworkTaskHandle, P2PNode } from '@p2p-ai/node'
import type { StressReportJson, StressRequest } from '../control/debug-types.js'
import { DEFAULT_STRESS_MAX_IN_FLIGHT, STRESS_DRAIN_MS, STRESS_TICK_MS } from './constants.js'

/** Runs the load until `durationMs` passed (or `signal` aborts), then waits for what is unfinished. */
export async function stress(
  node: P2PNode,
  request: StressRequest,
  signal?: AbortSignal,
): Promise<StressReportJson> {
  const type = request.type ?? 'mock'
  const input = request.input ?? (type === 'mock' ? { text: 'p2p-ai stress' } : {})
  const maxInFlight = request.maxInFlight ?? DEFAULT_STRESS_MAX_IN_FLIGHT
  const target = request.target === undefined ? 'auto' : request.target === 'self' ? 'local' : request.target
  const pending = new Set<Promise<void>>()
  const latencies: number[] = []
  const errors: Record<string, number> = {}
  const byProvider: Record<string, number> = {}
  let submitted = 0
  let skipped = 0
  let completed = 0
  let failed = 0
  let retries = 0

  const follow = (handle: NetworkTaskHandle, started: number): Promise<void> => {
    const done = handle.result().then((record) => {
      retries += record.attempts.length
      if (record.status === 'COMPLETED') {
        completed++
        latencies.push(performance.now() - started)
        const ranOn = record.provider ?? record.peer ?? node.peerId
        byProvider[ranOn] = (byProvider[ranOn] ?? 0) + 1
      } else {
        failed++
        const code = record.error?.code ?? record.status
        errors[code] = (errors[code] ?? 0) + 1
      }
    })
    const tracked = done.finally(() => pending.delete(tracked))
    pending.add(tracked)
    return tracked
  }

  const begin = performance.now()
  const end = begin + request.durationMs
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      // Every task due by now at the requested rate, whatever the timer's jitter.
      const due = Math.min(request.durationMs, now - begin) * (request.ratePerSecond / 1000)
      while (submitted + skipped < Math.floor(due)) {
        if (pending.size >= maxInFlight) {
          skipped++
          continue
        }
        const started = performance.now()
        try {
          follow(node.submit({ type, input }, { target }), started)
          submitted++
        } catch (err) {
          // A submission the exchange refuses outright (a bad input): counted like a failure.
          submitted++
          failed++
          const code = (err as { code?: string }).code ?? 'ERR_INTERNAL'
          errors[code] = (errors[code] ?? 0) + 1
        }
      }
      if (now >= end || signal?.aborted === true) {
        clearInterval(timer)
        resolve()
      }
    }
    const timer = setInterval(tick, STRESS_TICK_MS)
    tick()
  })
  const submittedFor = performance.now() - begin
  // What is still running gets a while to finish; what is left then counts as unfinished.
  let drainTimer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled([...pending]),
    new Promise((resolve) => {
      drainTimer = setTimeout(resolve, STRESS_DRAIN_MS)
    }),
  ])
  clearTimeout(drainTimer)
  if (pending.size > 0) errors.UNFINISHED = pending.size
  const durationMs = performance.now() - begin
  latencies.sort((a, b) => a - b)
  const at = (q: number): number =>
    latencies.length === 0
      ? 0
      : round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number)
  return {
    type,
    requested: { durationMs: request.durationMs, ratePerSecond: request.ratePerSecond, maxInFlight },
    durationMs: round(durationMs),
    submitted,
    skipped,
    completed,
    failed,
    errors,
    throughputPerSecond: round(completed / (Math.max(submittedFor, durationMs) / 1000)),
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(latencies.at(-1) ?? 0) },
    byProvider,
    retries,
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100
}
