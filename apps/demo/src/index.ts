/**
 * `demo`: several p2p-ai agents on one machine, narrated. Run it with `pnpm --filter demo start`
 * (or `npm run demo` from a fresh clone); this module exports the pieces for tests and the
 * benchmark.
 *
 * ```ts
 * import { main } from 'demo'
 *
 * process.exitCode = await main(['--nodes', '3', '--tasks', '8', '--json'])
 * ```
 *
 * @packageDocumentation
 */

export type { AgentConfig, AgentEvent } from './agent-protocol.js'
export { type DemoOptions, HELP, parseDemoArgs } from './args.js'
export * from './constants.js'
export * from './errors.js'
export { main } from './main.js'
export { colourFor } from './narrate.js'
export type * from './report.js'
export { latencySummary, percentile } from './report.js'
export { runDemo } from './run.js'
