/**
 * The job store's schema (docs/jobs.md, "State and resumption"): a store written by an earlier
 * version is migrated when it opens, its jobs and results kept; results kept by CID hold only
 * their reference.
 */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import {
  JOB_STORE_APPLICATION_ID,
  JOB_STORE_FILE_NAME,
  JOB_STORE_SCHEMA_VERSION,
} from '../src/jobs/constants.js'
import { type JobRow, JobStore } from '../src/jobs/store.js'
import { tempDir } from './helpers.js'

/** The schema version 1 wrote: items without `result_cid` and `result_size`. */
const SCHEMA_1 = `
CREATE TABLE jobs (
  id TEXT NOT NULL PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL, spec TEXT NOT NULL,
  created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, expires_at INTEGER,
  runs INTEGER NOT NULL DEFAULT 0, total INTEGER, done INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, emitted INTEGER NOT NULL DEFAULT 0,
  output_bytes INTEGER NOT NULL DEFAULT 0, input_size INTEGER, input_mtime INTEGER,
  error_code TEXT, error_message TEXT
);
CREATE INDEX jobs_by_created ON jobs (created_at);
CREATE TABLE items (
  job_id TEXT NOT NULL, idx INTEGER NOT NULL, failed INTEGER NOT NULL, emit_seq INTEGER,
  result TEXT, out_offset INTEGER, out_length INTEGER, PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE INDEX items_by_emit ON items (job_id, emit_seq) WHERE emit_seq IS NOT NULL;
CREATE INDEX items_unwritten ON items (job_id, idx) WHERE emit_seq IS NULL;
`

const row: JobRow = {
  id: 'job-store-1',
  type: 'mock',
  status: 'INTERRUPTED',
  spec: '{}',
  created_at: 1,
  started_at: 1,
  finished_at: null,
  expires_at: null,
  runs: 1,
  total: null,
  done: 1,
  failed: 0,
  emitted: 0,
  output_bytes: 0,
  input_size: null,
  input_mtime: null,
  error_code: null,
  error_message: null,
}

describe('the job store', () => {
  it('migrates a schema-1 store when it opens, keeping its jobs and results', async () => {
    await using dir = await tempDir('p2p-ai-job-store-')
    const old = new Database(join(dir.path, JOB_STORE_FILE_NAME))
    old.exec(`${SCHEMA_1}; PRAGMA application_id = ${JOB_STORE_APPLICATION_ID}; PRAGMA user_version = 1;`)
    old
      .prepare(
        'INSERT INTO jobs (id, type, status, spec, created_at, runs, done) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(row.id, row.type, row.status, row.spec, row.created_at, row.runs, row.done)
    old
      .prepare('INSERT INTO items (job_id, idx, failed, result) VALUES (?, 0, 0, ?)')
      .run(row.id, '{"index":0}')
    old.close()

    const store = new JobStore({ directory: dir.path, ttlMs: 60_000 })
    try {
      expect(store.getJob(row.id)?.done).toBe(1)
      expect(store.unwritten(row.id)).toEqual([
        { idx: 0, failed: 0, result: '{"index":0}', result_cid: null, result_size: null },
      ])
      // A result kept by CID: the row holds the reference, not the line.
      const ref = { cid: 'bafkreibg63qyi23hclgox33ejihlwbxctuuc5wrb54fyycsmpyte52qbg4', size: 1048576 }
      store.commit(
        row.id,
        [{ idx: 1, failed: false, result: null, ref, emitSeq: null, offset: null, length: null }],
        [],
        { emitted: 0, outputBytes: 0 },
      )
      expect(store.unwritten(row.id)[1]).toEqual({
        idx: 1,
        failed: 0,
        result: null,
        result_cid: ref.cid,
        result_size: ref.size,
      })
      // One forgotten (its content is gone): it counts as not done again.
      store.forget(row.id, [{ idx: 1, failed: false }])
      expect(store.unwritten(row.id)).toHaveLength(1)
      expect(store.getJob(row.id)?.done).toBe(1)
    } finally {
      store.close()
    }
    const reopened = new Database(join(dir.path, JOB_STORE_FILE_NAME), { readonly: true })
    expect(reopened.pragma('user_version', { simple: true })).toBe(JOB_STORE_SCHEMA_VERSION)
    reopened.close()
  })
})
