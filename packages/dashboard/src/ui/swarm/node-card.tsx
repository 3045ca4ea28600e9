/** What one node is: the card beside the graph for the node chosen there or in the list. */
import type { GraphNode } from '../../wire.js'
import { duration, percent, shortId } from '../format.js'

export function NodeCard({ node, onClose }: { node: GraphNode | undefined; onClose: () => void }) {
  if (node === undefined) {
    return (
      <section class="panel node-card" aria-labelledby="node-card-title">
        <h2 id="node-card-title">Node</h2>
        <p class="muted">Choose a node in the graph or the list to see what it runs and how it is doing.</p>
      </section>
    )
  }
  const what = node.kind === 'self' ? 'This node' : node.kind === 'peer' ? 'Peer' : 'Reached through a peer'
  return (
    <section class="panel node-card" aria-labelledby="node-card-title" data-peer={node.id}>
      <div class="panel-head">
        <h2 id="node-card-title">
          {what} <code>{shortId(node.id)}</code>
        </h2>
        <button type="button" class="link" onClick={onClose}>
          Close
        </button>
      </div>
      <dl class="facts">
        <dt>PeerId</dt>
        <dd>
          <code class="wrap">{node.id}</code>
        </dd>
        <dt>State</dt>
        <dd>
          <span class={`badge state-${node.state}`}>{node.state}</span>
        </dd>
        {node.via !== undefined && (
          <>
            <dt>Announced by</dt>
            <dd>
              <code>{shortId(node.via)}</code> ({node.hops} links away)
            </dd>
          </>
        )}
        {node.connection !== undefined && (
          <>
            <dt>Connection</dt>
            <dd>{node.connection}</dd>
          </>
        )}
        {node.rttMs !== undefined && (
          <>
            <dt>Latency</dt>
            <dd>{duration(node.rttMs)} round trip</dd>
          </>
        )}
        {node.load !== undefined && (
          <>
            <dt>Load</dt>
            <dd>
              {node.load.running} of {node.concurrency ?? '?'} slots running, {node.load.queued} queued
            </dd>
          </>
        )}
        {node.outstanding !== undefined && node.kind === 'peer' && (
          <>
            <dt>Our tasks there</dt>
            <dd>{node.outstanding}</dd>
          </>
        )}
        {node.successRate !== undefined && (
          <>
            <dt>Success rate</dt>
            <dd>{percent(node.successRate)}</dd>
          </>
        )}
        <dt>{node.kind === 'reached' ? 'Reached for' : 'Runs'}</dt>
        <dd>{node.taskTypes.length === 0 ? 'nothing announced yet' : node.taskTypes.join(', ')}</dd>
        {node.models.length > 0 && (
          <>
            <dt>Models</dt>
            <dd>{node.models.join(', ')}</dd>
          </>
        )}
        {node.agentVersion !== undefined && (
          <>
            <dt>Agent</dt>
            <dd>{node.agentVersion}</dd>
          </>
        )}
        {node.addresses !== undefined && node.addresses.length > 0 && (
          <>
            <dt>Addresses</dt>
            <dd>
              <ul class="plain">
                {node.addresses.slice(0, 4).map((a) => (
                  <li key={a}>
                    <code class="wrap">{a}</code>
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
    </section>
  )
}
