/**
 * A config file's YAML text as a config layer, with the line and column of each value for the
 * validation's messages. Its own module so that the parser loads only with a config file.
 */
import { dirname } from 'node:path'
import { isAlias, LineCounter, parseDocument, visit } from 'yaml'
import { ConfigSyntaxError } from '../errors.js'
import type { ConfigLayer } from './validate.js'

/** Parses YAML text into a config layer, or throws `ConfigSyntaxError` at the first error. */
export function parseConfigText(text: string, file: string): ConfigLayer {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const first = doc.errors[0]
  if (first !== undefined) {
    const { line, col } = lineCounter.linePos(first.pos[0])
    throw new ConfigSyntaxError(file, line, col, first.message)
  }
  let values: unknown
  try {
    values = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    // Unresolved or exploding aliases are only found when the document is converted.
    let offset = 0
    visit(doc, {
      Alias(_, node) {
        if (isAlias(node) && node.range !== undefined && node.range !== null) {
          offset = node.range[0]
          return visit.BREAK
        }
        return undefined
      },
    })
    const { line, col } = lineCounter.linePos(offset)
    throw new ConfigSyntaxError(file, line, col, (err as Error).message)
  }
  return {
    source: 'file',
    values,
    baseDir: dirname(file),
    file,
    locate: (path) => {
      const node = doc.getIn(path, true) as { range?: [number, number, number] | null } | undefined
      if (node?.range === undefined || node.range === null) return undefined
      const { line, col } = lineCounter.linePos(node.range[0])
      return { line, column: col }
    },
  }
}
