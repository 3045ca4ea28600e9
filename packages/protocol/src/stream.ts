/**
 * Streamed output (minor 3, docs/protocol.md §2.6): the rule that ties the unsigned deltas of a
 * conversation's `task.progress` messages to its signed result.
 */

/**
 * The text a completed task's deltas must concatenate to: the `text` member of its output, when
 * the output is an object with a string `text` (as `generate`'s is). `undefined` for any other
 * output: such a task streams no text.
 */
export function streamedTextOf(output: unknown): string | undefined {
  if (typeof output !== 'object' || output === null || Array.isArray(output)) return undefined
  const text = (output as { text?: unknown }).text
  return typeof text === 'string' ? text : undefined
}
