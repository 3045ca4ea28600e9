/** The page's calls to its node (same origin; the session cookie goes along by itself). */
import type { ErrorJson } from '../wire.js'

/** An error answer of the API, with its code. */
export class ApiError extends Error {
  readonly code: string
  readonly status: number

  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { headers: { accept: 'application/json' }, ...(signal ? { signal } : {}) })
  return answer<T>(res)
}

export async function postJson<T>(path: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  })
  return answer<T>(res)
}

async function answer<T>(res: Response): Promise<T> {
  let body: unknown
  try {
    body = await res.json()
  } catch (err) {
    // Cut short (the page moved on and aborted), or not JSON: either way no answer to use.
    if (res.ok) throw err
  }
  if (!res.ok) {
    const error = (body as ErrorJson | undefined)?.error
    if (res.status === 401) window.dispatchEvent(new CustomEvent('dashboard:signed-out'))
    throw new ApiError(res.status, error?.code ?? 'ERR_HTTP', error?.message ?? `HTTP ${res.status}`)
  }
  return body as T
}
