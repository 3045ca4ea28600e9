/** Messages between the span store and its thread (store.ts, store-worker.ts). */
import type { TraceSpan } from '@p2p-ai/protocol'
import type { SpanBatch, SpanTable } from './span-table.js'

/** What a request answers: a trace's spans, a count, or nothing. */
export type StoreValue = TraceSpan[] | number | undefined

/** A request to the store's thread; `id` 0 asks for no reply (writes). */
export type StoreRequest =
  | {
      readonly id: number
      readonly op: 'write'
      readonly batch: SpanBatch
      readonly expiresAt: number
    }
  | {
      readonly id: number
      readonly op: 'read'
      readonly traceId: string
      readonly now: number
      /** The first and last batch that hold the trace, as far as the store remembers; [] when it does not. */
      readonly hint: readonly number[]
    }
  | { readonly id: number; readonly op: 'count'; readonly now: number }
  | { readonly id: number; readonly op: 'purge'; readonly now: number }
  | { readonly id: number; readonly op: 'close' }

export type StoreReply =
  | { readonly id: number; readonly ok: true; readonly value: StoreValue }
  | { readonly id: number; readonly ok: false; readonly message: string }

/** Carries out one request on the table, wherever it lives (the store's thread, or memory). */
export function serve(table: SpanTable, request: StoreRequest): StoreValue {
  switch (request.op) {
    case 'write':
      table.write(request.batch, request.expiresAt)
      return undefined
    case 'read':
      return table.read(request.traceId, request.now, request.hint)
    case 'count':
      return table.count(request.now)
    case 'purge':
      return table.purge(request.now)
    case 'close':
      table.close()
      return undefined
  }
}
