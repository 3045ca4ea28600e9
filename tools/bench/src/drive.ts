/**
 * Drives a call from `inFlight` concurrent loops for a time budget: the measured part of the
 * suites that compare task exchanges (exchange, tracing).
 */

/** One call of the system under test: resolves when the answer is in (and checked). */
export type Call = () => Promise<void>

/** Runs `call` from `inFlight` loops for `budgetMs`; latencies in ms, throughput per second. */
export async function drive(call: Call, inFlight: number, budgetMs: number) {
  const latencies: number[] = []
  const started = performance.now()
  const end = started + budgetMs
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = performance.now()
      await call()
      latencies.push(performance.now() - t0)
    }
  }
  const cpu0 = process.cpuUsage()
  await Promise.all(Array.from({ length: inFlight }, loop))
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpu0)
  latencies.sort((a, b) => a - b)
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0
  return {
    tasks: latencies.length,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    tasksPerSec: latencies.length / seconds,
    clientCpuUs: cpu.user + cpu.system,
  }
}
