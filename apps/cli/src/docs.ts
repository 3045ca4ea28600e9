import { commandHelp, EXIT_CODES, groupHelp, rootHelp } from './args/help.js'
import { COMMANDS, GROUPS } from './commands/table.js'
import { BIN_NAME, CONTROL_FILE, LOG_FILE, MODELS_FILE, PID_FILE, TOKEN_FILE } from './constants.js'

/**
 * docs/cli.md, generated from the same command table that answers `--help`, so the two cannot
 * drift apart (test/docs.test.ts fails when the file differs from this text).
 */
export function cliReference(version = 'VERSION'): string {
  const out: string[] = [
    `# The \`${BIN_NAME}\` command`,
    '',
    "<!-- Generated from the CLI's own help by `pnpm --filter @p2p-ai/cli docs`. Do not edit by hand:",
    '     change apps/cli/src/commands/table.ts (or src/docs.ts) and run the script again. -->',
    '',
    `\`${BIN_NAME}\` runs a p2p-ai node, sends it tasks, manages its models and runs a small demo`,
    'network on one machine. Every command has `--help` with examples; this page collects them.',
    '',
    '## Contents',
    '',
    '- [How commands find the node](#how-commands-find-the-node)',
    '- [Output, colour and scripts](#output-colour-and-scripts)',
    '- [Exit codes](#exit-codes)',
    '- [Environment variables](#environment-variables)',
    ...GROUPS.map((g) => `- [\`${g.name}\`: ${g.summary}](#${g.name})`),
    '',
    '## How commands find the node',
    '',
    `\`${BIN_NAME} node start\` runs a node on a **data directory** (its identity key, result store and`,
    'models). While it runs, the node keeps three files there:',
    '',
    `| file | what |`,
    '| --- | --- |',
    `| \`${PID_FILE}\` | the node's process id; a second node on the same directory is refused |`,
    `| \`${CONTROL_FILE}\` | where its control API listens (\`http://127.0.0.1:<port>\`), with the pid |`,
    `| \`${TOKEN_FILE}\` | the control API's bearer token: 32 random bytes, mode 0600, new on every start |`,
    '',
    `A node started with \`--detach\` also writes its log to \`${LOG_FILE}\`; \`models add\` records models in`,
    `\`${MODELS_FILE}\`.`,
    '',
    'Every other command is a client of that control API ([docs/control-api.md](control-api.md)). It',
    'picks the data directory the way the node does: `--data-dir`, else `P2P_AI_DATA_DIR`, else',
    '`dataDir` in the config file (`--config`, else `P2P_AI_CONFIG`, else',
    '`~/.config/p2p-ai/config.yaml` when it exists), else `~/.local/share/p2p-ai` on Linux',
    '(`$XDG_DATA_HOME/p2p-ai`) and `~/.p2p-ai` elsewhere. Several nodes on one machine each get their',
    'own `--data-dir`.',
    '',
    'Client commands never load the network stack, so they answer in a fraction of a second',
    '([docs/benchmarks/cli.md](benchmarks/cli.md)). Files left by a node that died (a pid that no',
    'longer runs) are noticed and removed.',
    '',
    '## Output, colour and scripts',
    '',
    '- `--json` prints JSON on stdout (one document; `node monitor --json` prints one per line).',
    '  Messages, hints and spinners go to stderr, so stdout stays clean for pipes.',
    '- Colour only when the stream is a terminal, and never with `NO_COLOR` set or `--no-color`;',
    '  `FORCE_COLOR=1` forces it for a pipe (but not over `NO_COLOR`).',
    '- Spinners show while something is waited for, on a terminal only.',
    '- Errors say what went wrong and what to do next (`hint:`), without a stack trace. Set',
    '  `P2P_AI_CLI_DEBUG=1` to get the stack of an unexpected error.',
    '- The first Ctrl-C lets a command finish cleanly (a foreground node shuts down gracefully);',
    '  a second one ends it at once.',
    '',
    '## Exit codes',
    '',
    '| code | meaning |',
    '| --- | --- |',
    ...EXIT_CODES.map(([code, text]) => `| ${code} | ${text} |`),
    '',
    '## Environment variables',
    '',
    '| variable | effect |',
    '| --- | --- |',
    '| `P2P_AI_DATA_DIR` | the data directory (see above) |',
    '| `P2P_AI_CONFIG` | the config file |',
    '| `P2P_AI_*` | any node setting, for `node start` ([docs/configuration.md](configuration.md)) |',
    '| `P2P_AI_DEMO_DIR` | the directory of the demo nodes |',
    '| `HF_ENDPOINT` | the model hub `models pull` downloads from |',
    '| `NO_COLOR`, `FORCE_COLOR` | colour off / on (see above) |',
    '| `P2P_AI_CLI_DEBUG` | print stacks of unexpected errors |',
    '',
    `## \`${BIN_NAME} --help\``,
    '',
    '```text',
    rootHelp(GROUPS, COMMANDS, version).trimEnd(),
    '```',
  ]
  for (const g of GROUPS) {
    out.push('', `## ${g.name}`, '', '```text', groupHelp(g, COMMANDS).trimEnd(), '```')
    for (const cmd of COMMANDS.filter((c) => c.name.startsWith(`${g.name} `))) {
      out.push('', `### ${cmd.name}`, '', '```text', commandHelp(cmd).trimEnd(), '```')
    }
  }
  return `${out.join('\n')}\n`
}
