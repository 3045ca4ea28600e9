/**
 * A task's input or output as content (docs/protocol.md §2.9): the UTF-8 JSON text of the value.
 * This node writes RFC 8785 canonical JSON, so equal values give equal bytes and equal CIDs (two
 * providers of a redundant run that agree produce one output CID); it reads any JSON text.
 */
import { type ContentRef, canonicalize, type JsonValue } from '@p2p-ai/protocol'
import { InvalidContentError } from './errors.js'
import type { ContentGetOptions, ContentPutOptions, ContentService } from './types.js'

/** Stores `value` as canonical JSON; throws `ERR_INVALID_JSON_VALUE` for what JSON cannot carry. */
export function putJson(
  content: ContentService,
  value: unknown,
  options: ContentPutOptions = {},
): Promise<ContentRef> {
  return content.put(Buffer.from(canonicalize(value as JsonValue), 'utf8'), options)
}

/**
 * Fetches `ref` and parses it. Never holds more than `ref.size` bytes: a DAG that yields more is
 * refused as it arrives. Throws `ERR_INVALID_CONTENT` for bytes that are not one JSON text.
 */
export async function getJson(
  content: ContentService,
  ref: ContentRef,
  options: ContentGetOptions = {},
): Promise<unknown> {
  // Held as it arrives, never allocated up front: `size` is what the sender claims, not what it sent.
  const chunks: Uint8Array[] = []
  let offset = 0
  for await (const chunk of content.get(ref, options)) {
    if (offset + chunk.byteLength > ref.size) {
      throw new InvalidContentError(`${ref.cid} holds more than the ${ref.size} bytes its reference says`)
    }
    chunks.push(chunk)
    offset += chunk.byteLength
  }
  if (offset !== ref.size) {
    throw new InvalidContentError(`${ref.cid} holds ${offset} bytes, not the ${ref.size} its reference says`)
  }
  const buffer = Buffer.concat(chunks, offset)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buffer)
  } catch {
    throw new InvalidContentError(`${ref.cid} is not UTF-8 text`)
  }
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    throw new InvalidContentError(`${ref.cid} is not one JSON text: ${(err as Error).message}`)
  }
}
