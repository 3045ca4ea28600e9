/**
 * The result stores' size on disk, each a SQLite database with its write-ahead log: the engine's
 * (tasks run here) and that of the tasks submitted here, where the node lays it out
 * (`<dataDir>/store/submitted`).
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { STORE_FILE_NAME } from '@p2p-ai/engine'
import { type P2PNode, STORE_DIR_NAME, SUBMITTED_STORE_DIR_NAME } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { gauge } from './build.js'

const SUFFIXES = ['', '-wal', '-shm'] as const

/** Bytes of a database and its companion files; 0 for one in memory or not written yet. */
async function sizeOf(database: string | undefined): Promise<number> {
  if (database === undefined || database === ':memory:') return 0
  const sizes = await Promise.all(
    SUFFIXES.map((suffix) =>
      stat(`${database}${suffix}`).then(
        (s) => s.size,
        () => 0,
      ),
    ),
  )
  return sizes.reduce((a, b) => a + b, 0)
}

export function collectStore(registry: Registry, node: P2PNode): void {
  const submitted = join(node.config.dataDir, STORE_DIR_NAME, SUBMITTED_STORE_DIR_NAME, STORE_FILE_NAME)
  gauge(registry, METRICS.storeSize, async function () {
    const [r, s] = await Promise.all([sizeOf(node.engine.store?.path), sizeOf(submitted)])
    this.set({ store: 'results' }, r)
    this.set({ store: 'submitted' }, s)
  })
}
