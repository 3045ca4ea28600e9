import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'

/**
 * Reads a child process's output one line at a time, in order, for suites that drive a server
 * in a child process over a line protocol. Lines that arrive before anyone asks are queued.
 *
 * @param label - names the child in the error when it does not answer in time
 */
export function lineReader(output: Readable, label: string, timeoutMs = 30_000): () => Promise<string> {
  const lines = createInterface({ input: output })
  const queue: string[] = []
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (line) => {
    const next = waiting.shift()
    if (next !== undefined) next(line)
    else queue.push(line)
  })
  return () =>
    new Promise((resolve, reject) => {
      const queued = queue.shift()
      if (queued !== undefined) return resolve(queued)
      const timer = setTimeout(() => reject(new Error(`${label} did not answer`)), timeoutMs)
      waiting.push((line) => {
        clearTimeout(timer)
        resolve(line)
      })
    })
}

/**
 * In a child server: answers each `cpu` line on stdin with the CPU time (µs) the process used
 * since the previous one, and exits when stdin ends (the parent is done).
 */
export function answerCpu(): void {
  let last = process.cpuUsage()
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line !== 'cpu') return
    const used = process.cpuUsage(last)
    last = process.cpuUsage()
    process.stdout.write(`${JSON.stringify({ cpuUs: used.user + used.system })}\n`)
  })
  process.stdin.on('end', () => process.exit(0))
}

/** In the parent: asks a child that runs {@link answerCpu} for its CPU time since the last ask. */
export async function askCpu(input: Writable, nextLine: () => Promise<string>): Promise<number> {
  input.write('cpu\n')
  return (JSON.parse(await nextLine()) as { cpuUs: number }).cpuUs
}
