/**
 * The memory budget as a backend in a worker thread sees it: reservations and releases go to the
 * budget on the main thread, and its requests to free idle models come back here.
 */

import { toError } from '../engine/task-error.js'
import type { MemoryAccount, MemoryReservation, PressureHandler } from '../memory/budget.js'
import type { FromWorker, ToWorker } from './protocol.js'

/** The account, and what the worker entry feeds it from the main thread's messages. */
export interface RemoteMemory {
  readonly account: MemoryAccount
  /** Handles a memory message; false for any other message. */
  receive(message: ToWorker): boolean
}

export function remoteMemory(post: (message: FromWorker) => void): RemoteMemory {
  let seq = 0
  let handler: PressureHandler | undefined
  const pending = new Map<number, { resolve: () => void; reject: (err: unknown) => void }>()

  const account: MemoryAccount = {
    reserve(bytes, options = {}) {
      const { signal } = options
      signal?.throwIfAborted()
      const req = seq++
      return new Promise<MemoryReservation>((resolve, reject) => {
        const onAbort = (): void => {
          pending.delete(req)
          post({ kind: 'memory-cancel', req })
          reject(signal?.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        pending.set(req, {
          resolve: () => {
            signal?.removeEventListener('abort', onAbort)
            let released = false
            resolve({
              bytes,
              release: () => {
                if (released) return
                released = true
                post({ kind: 'memory-release', req })
              },
            })
          },
          reject: (err) => {
            signal?.removeEventListener('abort', onAbort)
            reject(err)
          },
        })
        post({
          kind: 'memory-reserve',
          req,
          bytes,
          ...(options.what === undefined ? {} : { what: options.what }),
        })
      })
    },
    onPressure(h) {
      handler = h
    },
  }

  return {
    account,
    receive(message) {
      switch (message.kind) {
        case 'memory-granted': {
          const p = pending.get(message.req)
          pending.delete(message.req)
          // Given up meanwhile: the grant goes straight back.
          if (p === undefined) post({ kind: 'memory-release', req: message.req })
          else p.resolve()
          return true
        }
        case 'memory-refused': {
          pending.get(message.req)?.reject(toError(message.error))
          pending.delete(message.req)
          return true
        }
        case 'memory-pressure': {
          const { req, bytes } = message
          void (async () => {
            let freed = 0
            try {
              freed = handler === undefined ? 0 : await handler(bytes)
            } catch {
              // Nothing freed.
            }
            post({ kind: 'memory-relieved', req, bytes: freed })
          })()
          return true
        }
        default:
          return false
      }
    },
  }
}
