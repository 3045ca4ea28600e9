/** How a task's result was checked, in words. */
import type { TaskDetailJson } from '../../wire.js'
import { shortId } from '../format.js'

export function Verified({ detail }: { detail: TaskDetailJson }) {
  const t = detail.task
  if (t.status !== 'COMPLETED') {
    return <span class="muted">{t.finishedAt === undefined ? 'not yet' : 'no result'}</span>
  }
  if (t.side === 'served') return <span>sent to its requester, signed by this node</span>
  if (detail.verified === 'agreed' && detail.redundancy !== undefined) {
    const agreed = detail.redundancy.answers.filter((a) => a.agreed).length
    return (
      <span class="verified" data-verified="agreed">
        ✔ verified: {agreed} of {detail.redundancy.k} signed results agree
      </span>
    )
  }
  if (detail.verified === 'signed') {
    return (
      <span class="verified" data-verified="signed">
        ✔ verified: signed by <code>{shortId(detail.provider ?? t.peer ?? '')}</code>, signature and request
        digest checked
      </span>
    )
  }
  return (
    <span class="verified" data-verified="local">
      ✔ ran on this node
    </span>
  )
}
