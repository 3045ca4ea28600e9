/** What any heap needs of an item: a slot for its position. */
export interface Positioned {
  /** Position in the heap, -1 when not in one. Maintained by the heap. */
  heapIndex: number
}

/** What the task heap needs of an item: its order and a slot for its position. */
export interface HeapItem extends Positioned {
  readonly priority: number
  /** Submission order; breaks priority ties first-in first-out. */
  readonly seq: number
}

/**
 * A binary heap in the order `before` gives (the first item is one no other comes before), that
 * also removes any item in O(log n) (a cancelled queued task leaves at once instead of lingering
 * as a tombstone).
 */
export class Heap<T extends Positioned> {
  readonly #items: T[] = []
  readonly #before: (a: T, b: T) => boolean

  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before
  }

  get size(): number {
    return this.#items.length
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    item.heapIndex = this.#items.length
    this.#items.push(item)
    this.#up(item.heapIndex)
  }

  pop(): T | undefined {
    const top = this.#items[0]
    if (top !== undefined) this.remove(top)
    return top
  }

  /** Restores the order after `item`'s key changed while in this heap. */
  update(item: T): void {
    const i = item.heapIndex
    if (i < 0 || this.#items[i] !== item) return
    this.#up(i)
    this.#down(item.heapIndex)
  }

  /** Removes `item` if it is in this heap; returns whether it was. */
  remove(item: T): boolean {
    const i = item.heapIndex
    if (i < 0 || this.#items[i] !== item) return false
    const last = this.#items.pop()!
    item.heapIndex = -1
    if (i < this.#items.length) {
      this.#items[i] = last
      last.heapIndex = i
      this.#down(i)
      this.#up(last.heapIndex)
    }
    return true
  }

  /** Empties the heap and returns its items in no particular order. */
  drain(): T[] {
    const items = this.#items.splice(0)
    for (const item of items) item.heapIndex = -1
    return items
  }

  #up(index: number): void {
    const items = this.#items
    let i = index
    const item = items[i]!
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = items[parent]!
      if (!this.#before(item, p)) break
      items[i] = p
      p.heapIndex = i
      i = parent
    }
    items[i] = item
    item.heapIndex = i
  }

  #down(index: number): void {
    const items = this.#items
    const n = items.length
    let i = index
    const item = items[i]!
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && this.#before(items[right]!, items[left]!) ? right : left
      const c = items[child]!
      if (!this.#before(c, item)) break
      items[i] = c
      c.heapIndex = i
      i = child
    }
    items[i] = item
    item.heapIndex = i
  }
}

/** Highest priority first, first-in first-out among equals. */
export function taskOrder(a: HeapItem, b: HeapItem): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.seq < b.seq)
}

/** A max-heap of tasks by `priority`, FIFO among equals. */
export class TaskHeap<T extends HeapItem> extends Heap<T> {
  constructor() {
    super(taskOrder)
  }
}
