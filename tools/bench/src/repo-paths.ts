import { fileURLToPath } from 'node:url'

// Resolved from tools/bench/dist: the suites run the repository's own built programs.

/** The built `p2p-ai-agents` command (apps/cli/dist/bin.js). */
export const CLI_BIN = fileURLToPath(new URL('../../../apps/cli/dist/bin.js', import.meta.url))

/** The built @p2p-ai/node entry point, as the CLI resolves it. */
export const NODE_ENTRY = fileURLToPath(new URL('../../../packages/node/dist/index.js', import.meta.url))
