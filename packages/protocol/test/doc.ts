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
