import { readFileSync } from 'node:fs'

/** docs/protocol.md, the specification these tests hold to its word. */
export const PROTOCOL_MD = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')

/** Every fenced block whose info string is `json <tag>`, in document order. */
export function jsonBlocks(markdown: string): Array<{ tag: string; value: unknown }> {
  return [...markdown.matchAll(/^```json ([a-z.-]+)\n([\s\S]*?)^```$/gm)].map((match) => ({
    tag: match[1] as string,
    value: JSON.parse(match[2] as string) as unknown,
  }))
}

/** The rows of the markdown table under the given heading, as arrays of cell texts. */
export function tableUnder(markdown: string, heading: string): string[][] {
  const start = markdown.indexOf(`\n${heading}\n`)
  if (start < 0) {
    throw new Error(`heading ${heading} not found in docs/protocol.md`)
  }
  const rows: string[][] = []
  let inTable = false
  for (const line of markdown.slice(start + heading.length + 2).split('\n')) {
    if (line.startsWith('|')) {
      inTable = true
      rows.push(
        line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      )
    } else if (inTable || line.startsWith('#')) {
      break
    }
  }
  // Drop the header and the |---| separator.
  return rows.slice(2)
}

/**
 * Every markdown table between the given heading and the next heading, each as its rows of cell
 * texts without the header and the |---| separator.
 */
export function tablesUnder(markdown: string, heading: string): string[][][] {
  const start = markdown.indexOf(`\n${heading}\n`)
  if (start < 0) {
    throw new Error(`heading ${heading} not found in docs/protocol.md`)
  }
  const tables: string[][][] = []
  let current: string[][] | undefined
  for (const line of markdown.slice(start + heading.length + 2).split('\n')) {
    if (line.startsWith('#')) break
    if (line.startsWith('|')) {
      if (current === undefined) {
        current = []
        tables.push(current)
      }
      current.push(
        line
          .slice(1, -1)
          .split('|')
          .map((cell) => cell.trim()),
      )
    } else {
      current = undefined
    }
  }
  return tables.map((rows) => rows.slice(2))
}

/** The member names a table lists in its first column (`` `name` `` cells, backticks dropped). */
export function memberNames(rows: readonly string[][]): string[] {
  return rows.map((row) => (row[0] ?? '').replaceAll('`', ''))
}

/**
 * The shape of a JSON value: its type, with objects reduced to their members' shapes and arrays
 * to the shapes their elements have. Two values of one shape differ only in their numbers, strings
 * and array lengths, which is what a documented example shares with a real output of a model.
 */
export function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) {
    const shapes = new Map(value.map((element) => [JSON.stringify(shapeOf(element)), shapeOf(element)]))
    return [...shapes.values()]
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, shapeOf((value as Record<string, unknown>)[key])]),
    )
  }
  return value === null ? 'null' : typeof value
}

/** The `json <type>.input` and `json <type>.output` examples of a built-in task type (§5.10). */
export function taskTypeExample(markdown: string, type: string): { input: unknown; output: unknown } {
  const blocks = jsonBlocks(markdown)
  const input = blocks.find((block) => block.tag === `${type}.input`)
  const output = blocks.find((block) => block.tag === `${type}.output`)
  if (input === undefined || output === undefined) {
    throw new Error(`docs/protocol.md has no ${type}.input / ${type}.output example`)
  }
  return { input: input.value, output: output.value }
}
