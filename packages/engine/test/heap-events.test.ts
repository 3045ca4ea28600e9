import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type HeapItem, TaskHeap } from '../src/engine/heap.js'
import { estimateBytes } from '../src/engine/results.js'
import { TypedEventTarget } from '../src/events.js'

interface Item extends HeapItem {
  readonly name: string
}

const item = (name: string, priority: number, seq: number): Item => ({ name, priority, seq, heapIndex: -1 })

describe('TaskHeap', () => {
  it('pops by priority, then first-in first-out, and removes any item', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 3 }), { maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 50 }),
        (priorities, removals) => {
          const heap = new TaskHeap<Item>()
          const items = priorities.map((p, seq) => item(`i${seq}`, p, seq))
          for (const i of items) heap.push(i)
          const removed = new Set<Item>()
          for (const r of removals) {
            const victim = items[r % Math.max(1, items.length)]
            if (victim === undefined) continue
            expect(heap.remove(victim)).toBe(!removed.has(victim))
            removed.add(victim)
          }
          const expected = items
            .filter((i) => !removed.has(i))
            .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
          const popped: Item[] = []
          for (let next = heap.pop(); next !== undefined; next = heap.pop()) popped.push(next)
          expect(popped).toEqual(expected)
          expect(heap.size).toBe(0)
        },
      ),
    )
  })

  it('drains everything and forgets positions', () => {
    const heap = new TaskHeap<Item>()
    const a = item('a', 0, 0)
    heap.push(a)
    heap.push(item('b', 1, 1))
    expect(
      heap
        .drain()
        .map((i) => i.name)
        .sort(),
    ).toEqual(['a', 'b'])
    expect(a.heapIndex).toBe(-1)
    expect(heap.remove(a)).toBe(false)
    expect(heap.peek()).toBeUndefined()
  })
})

describe('TypedEventTarget', () => {
  interface Events {
    ping: number
  }

  it('counts listeners exactly through once, signal and removal', () => {
    const target = new TypedEventTarget<Events>()
    const seen: number[] = []
    const a = (event: CustomEvent<number>) => seen.push(event.detail)
    const b = { handleEvent: (event: CustomEvent<number>) => seen.push(event.detail * 10) }
    const controller = new AbortController()
    target.addEventListener('ping', a)
    target.addEventListener('ping', a)
    target.addEventListener('ping', b, { once: true })
    target.addEventListener('ping', () => seen.push(-1), { signal: controller.signal })
    expect(target.listenerCount('ping')).toBe(3)
    target.emit('ping', () => 1)
    expect(seen).toEqual([1, 10, -1])
    expect(target.listenerCount('ping')).toBe(2)
    controller.abort()
    expect(target.listenerCount('ping')).toBe(1)
    target.removeEventListener('ping', b)
    expect(target.listenerCount('ping')).toBe(1)
    target.removeEventListener('ping', a)
    expect(target.listenerCount('ping')).toBe(0)
  })

  it('does not build an event nobody listens to', () => {
    const target = new TypedEventTarget<Events>()
    let built = 0
    target.emit('ping', () => ++built)
    expect(built).toBe(0)
    target.addEventListener('ping', () => {}, { signal: AbortSignal.abort() })
    target.emit('ping', () => ++built)
    expect(built).toBe(0)
  })
})

describe('estimateBytes', () => {
  it('counts strings as UTF-16, numbers as 8 bytes, and stops at the cap', () => {
    expect(estimateBytes('abcd', 1e9)).toBe(16 + 8)
    expect(estimateBytes([1, 2, 3], 1e9)).toBe(16 + 3 * 8 + 3 * 8)
    expect(estimateBytes({ a: 'xy' }, 1e9)).toBe(16 + 2 + 16 + 4)
    expect(estimateBytes(new Float32Array(100), 1e9)).toBe(64 + 400)
    expect(estimateBytes(null, 1e9)).toBe(8)
    const big = Array.from({ length: 1_000_000 }, () => ({ text: 'some words' }))
    expect(estimateBytes(big, 1000)).toBeLessThan(10_000_000)
  })
})
