import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { commandHelp } from '../src/args/help.js'
import { COMMANDS } from '../src/commands/table.js'
import { cliReference } from '../src/docs.js'

describe('docs/cli.md', () => {
  it('is exactly what the CLI generates from its own help (run `pnpm --filter @p2p-ai/cli docs`)', () => {
    const file = readFileSync(new URL('../../../docs/cli.md', import.meta.url), 'utf8')
    expect(file).toBe(cliReference())
  })

  it('holds the --help of every command', () => {
    const reference = cliReference()
    for (const cmd of COMMANDS) expect(reference).toContain(commandHelp(cmd).trimEnd())
  })

  it('gives every command at least one example and documents every option', () => {
    for (const cmd of COMMANDS) {
      expect(cmd.examples.length, cmd.name).toBeGreaterThan(0)
      for (const o of cmd.options ?? [])
        expect(o.description.length, `${cmd.name} --${o.name}`).toBeGreaterThan(5)
    }
  })
})
