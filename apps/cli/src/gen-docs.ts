// `pnpm --filter @p2p-ai/cli docs`: writes docs/cli.md from the CLI's own help.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { cliReference } from './docs.js'

const target = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url))
writeFileSync(target, cliReference())
console.log(`wrote ${target}`)
