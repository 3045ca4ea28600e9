// Imported first by the binary, before any other module allocates.
//
// A node is a long-lived process that allocates little once it runs. V8 grows the young generation
// (two semi-spaces) to 2 × 16 MiB during the bursts of start-up and keeps it committed: about
// 45 MB of an idle node's 140 MB RSS. Held at its initial 2 × 1 MiB, an idle node stays near
// 97 MB, and the exchange's CPU per task does not move measurably (docs/benchmarks/node.md).
// Set at run time because the binary is started through its shebang; later than this, the young
// generation's pages have already been taken. Whoever sizes it themselves keeps their choice.
import { setFlagsFromString } from 'node:v8'

const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ')
if (!given.includes('semi-space')) setFlagsFromString('--semi-space-growth-factor=1')
