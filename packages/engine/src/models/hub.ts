/**
 * The parts of the Hugging Face Hub's HTTP interface a pull uses, against any compatible server:
 * file URLs (`/<repo>/resolve/<revision>/<path>`) and the file listing
 * (`/api/models/<repo>/tree/<revision>?recursive=true`, paged with `Link: <...>; rel="next"`).
 */
import { MAX_LISTING_BYTES, MAX_LISTING_PAGES } from '../constants.js'
import { type DownloadOptions, failure, openUrl, statusFailure } from './download.js'

/** One file of a repository. */
export interface RepoFile {
  /** Path in the repository, forward slashes. */
  readonly path: string
  readonly sizeBytes: number
  /** sha256 of the content, for files stored in LFS (weights). */
  readonly sha256?: string
}

/** Where a file of a repository downloads from. */
export function fileUrl(endpoint: string, repo: string, revision: string, file: string): string {
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`
}

/** The next page of a listing, from its `Link` header. */
function nextPage(link: string | string[] | undefined, base: string): string | undefined {
  const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec([link ?? ''].flat().join(', '))
  return m === null ? undefined : new URL(m[1]!, base).href
}

/**
 * Every file of a repository at a revision. Fails with `ERR_MODEL_DOWNLOAD_FAILED`: `http-status`
 * (404: no such repository or revision, or a server without the listing), `bad-response` for an
 * answer that is not a listing.
 */
export async function listRepoFiles(
  endpoint: string,
  repo: string,
  revision: string,
  options: Omit<DownloadOptions, 'onBytes'>,
): Promise<RepoFile[]> {
  const files: RepoFile[] = []
  let url: string | undefined =
    `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true`
  for (let page = 0; url !== undefined && page < MAX_LISTING_PAGES; page++) {
    const current: string = url
    const { res } = await openUrl(current, options, { accept: 'application/json' })
    const status = res.statusCode ?? 0
    if (status < 200 || status > 299) throw statusFailure(current, res)
    const chunks: Buffer[] = []
    let size = 0
    try {
      for await (const chunk of res) {
        size += (chunk as Buffer).length
        if (size > MAX_LISTING_BYTES) {
          res.destroy()
          throw failure(current, 'bad-response', `a listing page larger than ${MAX_LISTING_BYTES} bytes`)
        }
        chunks.push(chunk as Buffer)
      }
    } catch (err) {
      options.signal?.throwIfAborted()
      if (err instanceof Error && 'reason' in err) throw err
      throw failure(current, 'network', (err as Error).message, { cause: err })
    }
    let entries: unknown
    try {
      entries = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    } catch {
      throw failure(current, 'bad-response', 'the listing is not JSON')
    }
    if (!Array.isArray(entries)) throw failure(current, 'bad-response', 'the listing is not a JSON array')
    for (const e of entries as Array<Record<string, unknown>>) {
      if (e?.type !== 'file' || typeof e.path !== 'string') continue
      const lfs = e.lfs as { oid?: unknown } | undefined
      const sha256 = typeof lfs?.oid === 'string' && /^[0-9a-f]{64}$/.test(lfs.oid) ? lfs.oid : undefined
      files.push({
        path: e.path,
        sizeBytes: typeof e.size === 'number' ? e.size : 0,
        ...(sha256 === undefined ? {} : { sha256 }),
      })
    }
    url = nextPage(res.headers.link, current)
  }
  return files
}
