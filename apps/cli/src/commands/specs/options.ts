import type { OptionSpec } from '../../args/spec.js'

/** Options shared by many commands. */

export const DATA_DIR: OptionSpec = {
  name: 'data-dir',
  kind: 'string',
  value: 'path',
  description:
    "the node's data directory (else P2P_AI_DATA_DIR, else `dataDir` of the config file, else ~/.local/share/p2p-ai on Linux, ~/.p2p-ai elsewhere)",
}

export const CONFIG: OptionSpec = {
  name: 'config',
  short: 'c',
  kind: 'string',
  value: 'file',
  description: 'YAML config file (else P2P_AI_CONFIG, else ~/.config/p2p-ai/config.yaml if it exists)',
}

export const JSON_OUT: OptionSpec = {
  name: 'json',
  kind: 'boolean',
  description: 'print JSON for scripts instead of text',
}

/** Where the running node is found: every client command takes these. */
export const NODE_LOCATION: readonly OptionSpec[] = [DATA_DIR, CONFIG]

export const DEMO_DIR: OptionSpec = {
  name: 'demo-dir',
  kind: 'string',
  value: 'path',
  description: 'directory of the demo nodes (else P2P_AI_DEMO_DIR, else <default data directory>/demo)',
}
