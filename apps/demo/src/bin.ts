#!/usr/bin/env node
/** `pnpm --filter demo start [-- options]`: the narrated demo, or `--json` for a report. */
import { main } from './main.js'

process.exitCode = await main(process.argv.slice(2))
