/**
 * Who may see the dashboard, as Jupyter does it: the URL printed for a person carries a login
 * token; the first request with it trades it for a session cookie (HttpOnly, SameSite=Strict) and
 * is sent on to the same page without it, so the token leaves the address bar and cannot be used
 * again. Only SHA-256 digests of tokens and session ids are kept: a heap dump of the node holds no
 * credential.
 */
import { createHash, randomBytes } from 'node:crypto'
import {
  LOGIN_TOKEN_TTL_MS,
  MAX_LOGIN_TOKENS,
  MAX_SESSIONS,
  SECRET_BYTES,
  SESSION_IDLE_MS,
} from '../constants.js'

export interface AccessInit {
  /** @default Date.now */
  readonly now?: () => number
  /** @default LOGIN_TOKEN_TTL_MS */
  readonly loginTtlMs?: number
  /** @default SESSION_IDLE_MS */
  readonly sessionIdleMs?: number
}

/** A session a login token was traded for. */
export interface Session {
  /** The cookie's value: shown once, to be set in the browser. */
  readonly id: string
}

export class Access {
  readonly #now: () => number
  readonly #loginTtlMs: number
  readonly #sessionIdleMs: number
  /** Digest → expiry, oldest first (a Map keeps insertion order). */
  readonly #logins = new Map<string, number>()
  /** Digest → last use. */
  readonly #sessions = new Map<string, number>()

  constructor(init: AccessInit = {}) {
    this.#now = init.now ?? Date.now
    this.#loginTtlMs = init.loginTtlMs ?? LOGIN_TOKEN_TTL_MS
    this.#sessionIdleMs = init.sessionIdleMs ?? SESSION_IDLE_MS
  }

  /** A new one-time login token. */
  issueLogin(): { readonly token: string; readonly expiresAt: number } {
    this.#sweep()
    const token = secret()
    const expiresAt = this.#now() + this.#loginTtlMs
    this.#logins.set(digest(token), expiresAt)
    trim(this.#logins, MAX_LOGIN_TOKENS)
    return { token, expiresAt }
  }

  /** Trades a login token for a session; `undefined` for a token unknown, used or expired. */
  redeem(token: string): Session | undefined {
    const key = digest(token)
    const expiresAt = this.#logins.get(key)
    this.#logins.delete(key)
    if (expiresAt === undefined || expiresAt < this.#now()) return undefined
    const id = secret()
    this.#sessions.set(digest(id), this.#now())
    trim(this.#sessions, MAX_SESSIONS)
    return { id }
  }

  /** Whether a session id is good; a good one is kept alive. */
  check(id: string | undefined): boolean {
    if (id === undefined || id === '') return false
    const key = digest(id)
    const last = this.#sessions.get(key)
    if (last === undefined) return false
    if (last + this.#sessionIdleMs < this.#now()) {
      this.#sessions.delete(key)
      return false
    }
    // Moved to the end: the least recently used session is the first to go when there are too many.
    this.#sessions.delete(key)
    this.#sessions.set(key, this.#now())
    return true
  }

  revoke(id: string): void {
    this.#sessions.delete(digest(id))
  }

  #sweep(): void {
    const now = this.#now()
    for (const [key, expiresAt] of this.#logins) if (expiresAt < now) this.#logins.delete(key)
  }
}

function secret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url')
}

/** Looked up by digest: comparing digests of secrets leaks nothing of the secrets through timing. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

function trim(map: Map<string, number>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return
    map.delete(key)
  }
}
