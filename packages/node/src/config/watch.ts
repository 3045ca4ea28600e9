import { type FSWatcher, watch } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { DEFAULT_RELOAD_DEBOUNCE_MS, DEFAULT_RELOAD_POLL_INTERVAL_MS } from '../constants.js'
import { type LoadConfigOptions, loadConfig } from './load.js'
import type { NodeConfig } from './types.js'

/** How to watch a config file. */
export interface WatchConfigInit extends Omit<LoadConfigOptions, 'file'> {
  /** The YAML file to watch. */
  file: string
  /** Called with the new configuration after the file changed and loaded cleanly. */
  onChange: (config: NodeConfig) => void | Promise<void>
  /** Called when the changed file does not load (the previous configuration stays in force). */
  onError: (err: Error) => void
  /**
   * Changes within this window are loaded once (editors write a file in several steps).
   *
   * @default 250
   */
  debounceMs?: number
  /**
   * The file's size, mtime and inode are also polled this often, for file systems where
   * `fs.watch` misses changes (network mounts, some containers).
   *
   * @default 2000
   */
  pollIntervalMs?: number
  /**
   * Use `fs.watch` besides polling. Turn it off where watch events are known to be unreliable.
   *
   * @default true
   */
  fsWatch?: boolean
}

/** A running watcher; `close()` stops it. */
export interface ConfigWatcher {
  close(): void
}

interface Fingerprint {
  readonly mtimeMs: number
  readonly size: number
  readonly ino: number
}

async function fingerprint(file: string): Promise<Fingerprint | undefined> {
  try {
    const s = await stat(file)
    return { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino }
  } catch {
    return undefined
  }
}

function same(a: Fingerprint | undefined, b: Fingerprint | undefined): boolean {
  return a?.mtimeMs === b?.mtimeMs && a?.size === b?.size && a?.ino === b?.ino
}

/**
 * Watches a config file and reloads it when it changes: `fs.watch` on its directory (so editors
 * that replace the file by renaming are seen) plus polling as a fallback, debounced. Each change
 * is loaded with `loadConfig` (same environment) and reported through `onChange` or `onError`.
 * A reload takes at most `debounceMs` after an `fs.watch` event, or `pollIntervalMs + debounceMs`
 * when only polling sees it.
 */
export function watchConfig(init: WatchConfigInit): ConfigWatcher {
  const file = resolve(init.cwd ?? process.cwd(), init.file)
  const debounceMs = init.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS
  const pollIntervalMs = init.pollIntervalMs ?? DEFAULT_RELOAD_POLL_INTERVAL_MS
  let closed = false
  let last: Fingerprint | undefined
  let debounce: NodeJS.Timeout | undefined
  let loading: Promise<void> | undefined
  let again = false
  const ready = fingerprint(file).then((f) => {
    last ??= f
  })

  const reload = async (): Promise<void> => {
    if (loading !== undefined) {
      // A change during a load is loaded again afterwards, so the last write always wins.
      again = true
      return
    }
    loading = (async () => {
      do {
        again = false
        last = await fingerprint(file)
        try {
          const { onChange, onError: _e, debounceMs: _d, pollIntervalMs: _p, fsWatch: _w, ...options } = init
          const config = await loadConfig({ ...options, file })
          if (!closed) await onChange(config)
        } catch (err) {
          if (!closed) init.onError(err instanceof Error ? err : new Error(String(err)))
        }
      } while (again && !closed)
    })()
    try {
      await loading
    } finally {
      loading = undefined
    }
  }

  const schedule = (): void => {
    if (closed) return
    clearTimeout(debounce)
    debounce = setTimeout(() => void reload(), debounceMs)
    debounce.unref()
  }

  let watcher: FSWatcher | undefined
  if (init.fsWatch !== false) watcher = watchDirectory()

  function watchDirectory(): FSWatcher | undefined {
    try {
      const w = watch(dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || name === basename(file)) schedule()
      })
      w.on('error', () => {
        // The directory went away or the watch broke: polling still covers the file.
        w.close()
        watcher = undefined
      })
      return w
    } catch {
      return undefined
    }
  }

  const poll = setInterval(() => {
    void ready.then(async () => {
      const now = await fingerprint(file)
      if (!same(now, last)) {
        last = now
        schedule()
      }
    })
  }, pollIntervalMs)
  poll.unref()

  init.signal?.addEventListener('abort', () => close(), { once: true })

  function close(): void {
    closed = true
    clearTimeout(debounce)
    clearInterval(poll)
    watcher?.close()
  }

  return { close }
}
