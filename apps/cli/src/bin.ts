#!/usr/bin/env node
// The `p2p-ai-agents` binary. Kept tiny: it loads the command table, and each command loads only
// what it needs (`node status` answers without loading libp2p).
import './young-generation.js'
import { EXIT } from './constants.js'
import { main } from './main.js'

const controller = new AbortController()
let interrupts = 0
const onSignal = (signal: NodeJS.Signals): void => {
  interrupts++
  // The first Ctrl-C lets the command finish cleanly (a node shuts down gracefully); a second one
  // means "now".
  if (interrupts > 1) process.exit(EXIT.INTERRUPTED)
  controller.abort(Object.assign(new Error(`interrupted by ${signal}`), { name: 'AbortError' }))
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

process.exitCode = await main(process.argv.slice(2), { signal: controller.signal })
process.off('SIGINT', onSignal)
process.off('SIGTERM', onSignal)
