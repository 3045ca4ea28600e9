/**
 * RFC 8785 JSON Canonicalization Scheme (JCS), the bytes envelope signatures cover.
 *
 * JCS is ECMAScript's own JSON serialization with object members sorted, so the engine does
 * the delicate parts: `JSON.stringify` escapes strings exactly as RFC 8785 §3.2.2.2 asks and
 * `String(number)` is the Number::toString algorithm §3.2.2.3 names. What is left for us is
 * ordering members by UTF-16 code units (the default `Array.prototype.sort`) and refusing
 * everything that is not I-JSON, so that no two implementations can disagree on the bytes.
 */
import { MAX_JSON_DEPTH } from './constants.js'
import { InvalidJsonValueError } from './errors.js'

/** A JSON value as JSON.parse produces it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject

/** A JSON object. */
export interface JsonObject {
  [key: string]: JsonValue
}

/** `String.prototype.isWellFormed` (ES2024, in every Node.js this package supports): no lone surrogates. */
const isWellFormed = (value: string): boolean => (value as unknown as WellFormed).isWellFormed()
interface WellFormed {
  isWellFormed(): boolean
}

// Member names repeat from message to message (`from`, `payload`, `taskType`...): remembering
// their serialization saves a check and a JSON.stringify per member. Bounded, so hostile input
// with endless distinct names costs nothing but the misses.
const KEY_MEMO_LIMIT = 1024
const serializedKeys = new Map<string, string>()

/**
 * Serializes `value` as RFC 8785 canonical JSON.
 *
 * @throws {InvalidJsonValueError} for non-finite numbers, strings with lone surrogates,
 * `undefined`, functions, bigints, symbols, non-plain objects (Date, Map, typed arrays...),
 * and nesting deeper than {@link MAX_JSON_DEPTH} (which also catches cycles). The error's
 * `path` points at the offending value.
 */
export function canonicalize(value: unknown): string {
  // Received envelopes were written canonically, and JSON.parse keeps their members' order; the
  // node builds its own hot-path messages in that order too. Then JSON.stringify, native and
  // allocating one string, writes exactly the bytes `serialize` would.
  if (!toJsonPolluted() && inCanonicalOrder(value, 0)) return JSON.stringify(value)
  const path: Array<string | number> = []
  return serialize(value, path)
}

/**
 * Whether `JSON.stringify(value)` is the canonical JSON of `value`: I-JSON values only (finite
 * numbers, well-formed strings, no `undefined`, holes, functions or non-plain objects), nesting
 * within MAX_JSON_DEPTH, and every object's own keys already in canonical (UTF-16 code unit)
 * order, since JSON.stringify keeps that order and escapes strings and writes numbers exactly as
 * RFC 8785 asks. Anything else (or doubtful) is false: the general serializer then decides,
 * with its errors.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value)
    case 'number':
      return Number.isFinite(value)
    case 'boolean':
      return true
    case 'object': {
      if (value === null) return true
      if (depth >= MAX_JSON_DEPTH) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!inCanonicalOrder(value[i], depth + 1)) return false
        }
        return true
      }
      if (!isPlainObject(value)) return false
      const keys = Object.keys(value)
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string
        if (i > 0 && !((keys[i - 1] as string) < key)) return false
        if (!isWellFormed(key)) return false
        if (!inCanonicalOrder((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

/** A `toJSON` inherited by every object or array would make JSON.stringify write something else. */
function toJsonPolluted(): boolean {
  return 'toJSON' in Object.prototype || 'toJSON' in Array.prototype
}

function serialize(value: unknown, path: Array<string | number>): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value, path)
    case 'number':
      if (!Number.isFinite(value)) {
        throw fail(path, `${value} is not a JSON number`)
      }
      // Number::toString: shortest round-trip digits, exponent from 1e21 and below 1e-6, -0 as "0".
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'object':
      if (value === null) {
        return 'null'
      }
      if (path.length >= MAX_JSON_DEPTH) {
        throw fail(path, `nested deeper than ${MAX_JSON_DEPTH} levels (or cyclic)`)
      }
      if (Array.isArray(value)) {
        return serializeArray(value, path)
      }
      if (!isPlainObject(value)) {
        throw fail(path, `${describe(value)} is not a plain JSON object`)
      }
      return serializeObject(value as Record<string, unknown>, path)
    default:
      throw fail(path, `${typeof value} is not a JSON value`)
  }
}

function serializeString(value: string, path: Array<string | number>): string {
  if (!isWellFormed(value)) {
    throw fail(path, 'string contains a lone surrogate (not valid Unicode)')
  }
  return JSON.stringify(value)
}

function serializeKey(key: string, path: Array<string | number>): string {
  let serialized = serializedKeys.get(key)
  if (serialized === undefined) {
    serialized = serializeString(key, path)
    if (serializedKeys.size < KEY_MEMO_LIMIT) {
      serializedKeys.set(key, serialized)
    }
  }
  return serialized
}

function serializeArray(value: readonly unknown[], path: Array<string | number>): string {
  let out = '['
  for (let i = 0; i < value.length; i++) {
    path.push(i)
    out += (i === 0 ? '' : ',') + serialize(value[i], path)
    path.pop()
  }
  return `${out}]`
}

function serializeObject(value: Record<string, unknown>, path: Array<string | number>): string {
  const keys = Object.keys(value)
  if (!sorted(keys)) keys.sort()
  let out = '{'
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    path.push(key)
    out += `${i === 0 ? '' : ','}${serializeKey(key, path)}:${serialize(value[key], path)}`
    path.pop()
  }
  return `${out}}`
}

function sorted(keys: readonly string[]): boolean {
  for (let i = 1; i < keys.length; i++) {
    if (!((keys[i - 1] as string) < (keys[i] as string))) return false
  }
  return true
}

/** True for `{}` literals, JSON.parse output and `Object.create(null)`. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false
  }
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function describe(value: object): string {
  return value.constructor?.name ?? 'object'
}

function fail(path: ReadonlyArray<string | number>, reason: string): InvalidJsonValueError {
  return new InvalidJsonValueError(formatPath(path), reason)
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** Formats a path like `payload.models[0].sha256`; odd keys are quoted: `input["a b"]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`
    } else if (typeof segment === 'string' && IDENTIFIER.test(segment)) {
      out += out === '' ? segment : `.${segment}`
    } else {
      out += `[${JSON.stringify(String(segment))}]`
    }
  }
  return out
}
