import type { TaskRecord } from '../types.js'

/** `workerData` of the store's writer thread. */
export interface WriterBoot {
  readonly path: string
  readonly synchronous: 'NORMAL' | 'FULL'
}

export type ToWriter =
  | { readonly kind: 'put'; readonly seq: number; readonly record: TaskRecord; readonly expiresAt: number }
  /** Records `seq`, `seq + 1`, …: `records[i]` expires at `expiresAt[i]`. */
  | {
      readonly kind: 'put-many'
      readonly seq: number
      readonly records: readonly TaskRecord[]
      readonly expiresAt: readonly number[]
    }
  | { readonly kind: 'close' }

export type FromWriter =
  /** Committed: durable as `synchronous` says. */
  | { readonly kind: 'done'; readonly seqs: readonly number[] }
  /** The output of this record is not JSON (a BigInt, say). */
  | { readonly kind: 'not-json'; readonly seq: number; readonly message: string }
  /** The transaction holding these records failed. */
  | {
      readonly kind: 'failed'
      readonly seqs: readonly number[]
      readonly code: string
      readonly message: string
    }
  | { readonly kind: 'closed' }
