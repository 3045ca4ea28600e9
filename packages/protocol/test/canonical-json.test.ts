import { describe, expect, it } from 'vitest'
import { canonicalize, formatPath } from '../src/canonical-json.js'
import { InvalidJsonValueError } from '../src/errors.js'

function hexOf(text: string): string {
  return Buffer.from(text, 'utf8').toString('hex')
}

function float64(hex: string): number {
  return Buffer.from(hex, 'hex').readDoubleBE(0)
}

describe('canonicalize (RFC 8785)', () => {
  it('serializes the RFC 8785 §3.2.2 example byte for byte', () => {
    const input = `{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
      "literals": [null, true, false]
    }`
    const canonical = canonicalize(JSON.parse(input))
    expect(canonical).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],' +
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    )
    // The RFC's UTF-8 rendering of the same output (§3.2.4).
    expect(hexOf(canonical)).toBe(
      '7b226c69746572616c73223a5b6e756c6c2c747275652c66616c73655d2c226e756d62657273223a5b3333333333' +
        '333333332e333333333333332c31652b33302c342e352c302e3030322c31652d32375d2c22737472696e67223a22' +
        'e282ac245c75303030665c6e4127425c225c5c5c5c5c222f227d',
    )
  })

  it('sorts members by UTF-16 code units as in RFC 8785 §3.2.3', () => {
    const input = `{
      "\\u20ac": "Euro Sign",
      "\\r": "Carriage Return",
      "\\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\\ud83d\\ude00": "Emoji: Grinning Face",
      "\\u0080": "Control",
      "\\u00f6": "Latin Small Letter O With Diaeresis"
    }`
    const canonical = canonicalize(JSON.parse(input))
    // Read the member order from the text: Object.values would put the integer-like key first.
    const order = [...canonical.matchAll(/:"([^"]*)"/g)].map((match) => match[1])
    expect(order).toEqual([
      'Carriage Return',
      'One',
      'Control',
      'Latin Small Letter O With Diaeresis',
      'Euro Sign',
      'Emoji: Grinning Face',
      'Hebrew Letter Dalet With Dagesh',
    ])
    // U+1F600 (surrogates D83D DE00) sorts before U+FB33 by code unit, though not by code point.
    expect(canonical.indexOf('\u{1F600}')).toBeLessThan(canonical.indexOf('\uFB33'))
  })

  // RFC 8785 Appendix B: IEEE-754 bit patterns and their canonical text.
  const numbers: Array<[string, string]> = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ]
  it.each(numbers)('serializes the double %s as %s (Appendix B)', (bits, expected) => {
    expect(canonicalize(float64(bits))).toBe(expected)
  })

  it.each([
    ['7fffffffffffffff', 'NaN'],
    ['7ff0000000000000', 'Infinity'],
    ['fff0000000000000', '-Infinity'],
  ])('rejects the non-finite double %s (%s)', (bits) => {
    expect(() => canonicalize({ n: [float64(bits)] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_JSON_VALUE', path: 'n[0]' }),
    )
  })

  it('escapes control characters in lowercase and leaves U+007F and non-ASCII as they are', () => {
    expect(canonicalize('\u0000\u0008\u0009\u000a\u000c\u000d\u001f\u007f\u00e9')).toBe(
      '"\\u0000\\b\\t\\n\\f\\r\\u001f\u007f\u00e9"',
    )
  })

  it('keeps surrogate pairs and rejects lone surrogates, in values and in keys', () => {
    expect(canonicalize('\uD83D\uDE00')).toBe('"\uD83D\uDE00"')
    expect(() => canonicalize({ a: ['ok', 'x\uD800'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_JSON_VALUE', path: 'a[1]' }),
    )
    expect(() => canonicalize({ '\uDC00': 1 })).toThrow(InvalidJsonValueError)
  })

  it('refuses values JSON cannot represent, naming where they are', () => {
    const cases: Array<[unknown, string]> = [
      [{ a: undefined }, 'a'],
      [{ a: { b: () => 1 } }, 'a.b'],
      [[1n], '[0]'],
      [{ when: new Date(0) }, 'when'],
      [{ bytes: new Uint8Array(2) }, 'bytes'],
      [{ m: new Map() }, 'm'],
      [Symbol('s'), ''],
    ]
    for (const [value, path] of cases) {
      expect(() => canonicalize(value)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_JSON_VALUE', path }),
      )
    }
  })

  it('bounds nesting depth, which also stops cycles', () => {
    let deep: unknown = 1
    for (let i = 0; i < 64; i++) {
      deep = [deep]
    }
    expect(() => canonicalize(deep)).not.toThrow()
    expect(() => canonicalize([deep])).toThrow(/nested deeper than 64/)
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(() => canonicalize(cycle)).toThrow(InvalidJsonValueError)
  })

  it('accepts objects without a prototype and keys named __proto__ from JSON.parse', () => {
    const bare = Object.create(null) as Record<string, unknown>
    bare.b = 1
    bare.a = 2
    expect(canonicalize(bare)).toBe('{"a":2,"b":1}')
    expect(canonicalize(JSON.parse('{"__proto__":{"x":1},"a":0}'))).toBe('{"__proto__":{"x":1},"a":0}')
  })

  it('is the identity on its own output (idempotent)', () => {
    const value = JSON.parse('{"z":[1.50,{"y":"\\u00e9","x":-0}],"a":1e-7}')
    const once = canonicalize(value)
    expect(once).toBe('{"a":1e-7,"z":[1.5,{"x":0,"y":"é"}]}')
    expect(canonicalize(JSON.parse(once))).toBe(once)
  })
})

describe('canonicalize, members already in canonical order (received envelopes)', () => {
  /** The same value with every object's members in reverse order, which takes the general path. */
  function reordered(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(reordered)
    if (typeof value !== 'object' || value === null) return value
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(value).reverse()) {
      // defineProperty: an own `__proto__` member stays a member.
      Object.defineProperty(out, key, {
        value: reordered((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return out
  }

  /** A random JSON value whose objects' members are in canonical order, as JSON.parse gives them. */
  function randomJson(seed: { n: number }, depth = 0): unknown {
    const next = (): number => {
      seed.n = (seed.n * 1103515245 + 12345) % 2 ** 31
      return seed.n / 2 ** 31
    }
    const pick = next()
    const strings = ['', 'a', 'é', '\u20ac', '\uD83D\uDE00', '"\\\n\u0001', 'x y', '10', '9', '__proto__']
    if (depth > 3 || pick < 0.3) {
      const leaves = [null, true, false, 0, -0, 1.5, 1e21, 1e-7, -333333333.3333333, 2 ** 53]
      return next() < 0.5
        ? leaves[Math.floor(next() * leaves.length)]
        : strings[Math.floor(next() * strings.length)]
    }
    if (pick < 0.5) return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(seed, depth + 1))
    const members = new Map<string, unknown>()
    for (let i = Math.floor(next() * 5); i > 0; i--) {
      members.set(strings[Math.floor(next() * strings.length)] as string, randomJson(seed, depth + 1))
    }
    return JSON.parse(
      `{${[...members.keys()]
        .sort()
        .map((key) => `${JSON.stringify(key)}:${JSON.stringify(members.get(key))}`)
        .join(',')}}`,
    )
  }

  it('writes the same bytes as for the same value in any other member order', () => {
    const seed = { n: 7 }
    for (let i = 0; i < 1_000; i++) {
      const value = randomJson(seed)
      expect(canonicalize(value)).toBe(canonicalize(reordered(value)))
    }
    expect(canonicalize({ a: 1, b: [-0, 1e21, 'é'] })).toBe('{"a":1,"b":[0,1e+21,"é"]}')
    // Integer-like keys: JSON.parse puts them first in numeric order, which is not canonical.
    expect(canonicalize(JSON.parse('{"10":1,"9":2,"a":3}'))).toBe('{"10":1,"9":2,"a":3}')
  })

  it('refuses the same values, at the same paths, as in any other order', () => {
    const sparse: unknown[] = [1]
    sparse[2] = 3
    const cases: Array<[unknown, string]> = [
      [{ a: 1, b: { c: undefined } }, 'b.c'],
      [{ a: [1, Number.NaN] }, 'a[1]'],
      [{ a: 'x\uD800' }, 'a'],
      [{ a: sparse }, 'a[1]'],
      [{ a: new Date(0) }, 'a'],
    ]
    for (const [value, path] of cases) {
      expect(() => canonicalize(value)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_JSON_VALUE', path }),
      )
    }
  })

  it('ignores a toJSON that someone put on every object', () => {
    const proto = Object.prototype as { toJSON?: () => unknown }
    proto.toJSON = () => 'polluted'
    try {
      expect(canonicalize({ a: { b: 1 } })).toBe('{"a":{"b":1}}')
    } finally {
      delete proto.toJSON
    }
  })
})

describe('formatPath', () => {
  it('writes dotted identifiers, bracketed indices and quoted odd keys', () => {
    expect(formatPath(['payload', 'models', 0, 'sha256'])).toBe('payload.models[0].sha256')
    expect(formatPath(['input', 'a b', 2])).toBe('input["a b"][2]')
    expect(formatPath([])).toBe('')
  })
})
