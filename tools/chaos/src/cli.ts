#!/usr/bin/env node
/**
 * `p2p-chaos`: one chaos run from the command line.
 *
 *   node tools/chaos/dist/cli.js [--seed N] [--duration 60s] [--providers 3] [--clients 24]
 *                                [--testnet] [--kinds kill-provider,freeze] [--keep] [--json]
 *
 * Exit code: 0 when every invariant held, 1 when the run found violations, 2 for a usage error or
 * when the harness could not run.
 */
import { parseArgs } from 'node:util'
import { InvalidChaosOptionError } from './errors.js'
import type { FaultKind } from './plan.js'
import { formatReport } from './report.js'
import { runChaos } from './run.js'

const USAGE = `usage: p2p-chaos [--seed N] [--duration 60s] [--providers N] [--clients N] [--testnet]
                 [--kinds kind,...] [--settle 45s] [--keep] [--json]`

/** `60s`, `10m`, `1500ms` or plain milliseconds. */
function duration(text: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim())
  if (m === null)
    throw new InvalidChaosOptionError(`--${name}: expected a duration like 60s, 10m or 1500ms, got "${text}"`)
  const n = Number(m[1])
  return Math.round(m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : n)
}

function integer(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined
  if (!/^\d+$/.test(text)) throw new InvalidChaosOptionError(`--${name}: expected an integer, got "${text}"`)
  return Number(text)
}

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({
      options: {
        seed: { type: 'string' },
        duration: { type: 'string' },
        providers: { type: 'string' },
        clients: { type: 'string' },
        settle: { type: 'string' },
        kinds: { type: 'string' },
        testnet: { type: 'boolean' },
        keep: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const controller = new AbortController()
  process.once('SIGINT', () => controller.abort())
  try {
    const seed = integer(values.seed as string | undefined, 'seed')
    const providers = integer(values.providers as string | undefined, 'providers')
    const clients = integer(values.clients as string | undefined, 'clients')
    const report = await runChaos({
      ...(seed === undefined ? {} : { seed }),
      ...(providers === undefined ? {} : { providers }),
      ...(clients === undefined ? {} : { clients }),
      ...(values.duration === undefined
        ? {}
        : { durationMs: duration(values.duration as string, 'duration') }),
      ...(values.settle === undefined ? {} : { settleMs: duration(values.settle as string, 'settle') }),
      ...(values.kinds === undefined ? {} : { kinds: (values.kinds as string).split(',') as FaultKind[] }),
      testnet: values.testnet === true,
      keep: values.keep === true,
      signal: controller.signal,
      log: (line) => process.stderr.write(`${line}\n`),
    })
    process.stdout.write(
      values.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n`,
    )
    return report.ok ? 0 : 1
  } catch (err) {
    const code = (err as { code?: string }).code
    process.stderr.write(`error: ${(err as Error).message}${code === undefined ? '' : ` [${code}]`}\n`)
    return 2
  }
}

process.exitCode = await main()
