/**
 * Letting go of content held with `hold` (a job's waiting result, a task's checkpoint): deleted
 * at once when nobody else keeps it. Never fails its caller: when the store cannot release it (it
 * stopped meanwhile), the content's expiry still deletes it.
 */
import type { ContentRef, ContentService } from './types.js'

export function releaseHeld(
  content: ContentService,
  ref: ContentRef,
  onError?: (err: unknown) => void,
): void {
  try {
    content.release?.(ref).catch((err: unknown) => onError?.(err))
  } catch (err) {
    onError?.(err)
  }
}
