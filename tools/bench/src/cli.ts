#!/usr/bin/env node
// Entry point of `pnpm bench`; the logic lives in main.ts so tests can run it in-process.
import { main } from './main.js'

const controller = new AbortController()
// First Ctrl-C stops after the current batch and still writes the partial results; a second one exits.
process.once('SIGINT', () => {
  process.stderr.write('\ninterrupted: finishing the current batch and writing partial results\n')
  controller.abort(new Error('interrupted'))
  process.once('SIGINT', () => process.exit(130))
})

process.exitCode = await main(process.argv.slice(2), { signal: controller.signal })
