/**
 * The requester's sweep: attempts whose provider went quiet (no accept in time, no result in time,
 * no answer to a liveness ping) fail, so a silent death is noticed within seconds, not at the next
 * heartbeat; streams with nothing pending close after a while.
 */
import { PeerDisconnectedError, PeerUnresponsiveError, ResultTimeoutError } from './errors.js'
import type { Outbound, TaskRequester, TaskRequesterInit } from './requester.js'

/**
 * Deadlines, liveness pings and idle streams, twice a second. `streams` are the requester's
 * outbound streams by peer, `withdraw` is its own.
 */
export function sweep(
  streams: Map<string, Outbound>,
  init: TaskRequesterInit,
  withdraw: TaskRequester['withdraw'],
): void {
  const now = performance.now()
  for (const outbound of streams.values()) {
    if (outbound.attempts.size === 0) {
      if (now - outbound.idleSince > init.streamIdleMs && outbound.channel.writable) {
        streams.delete(outbound.peer)
        void outbound.channel.close()
      }
      continue
    }
    for (const attempt of [...outbound.attempts.values()]) {
      if (!attempt.accepted && now > attempt.acceptBy) {
        // Tell the provider too: should it wake up, it must not work for nobody.
        withdraw(attempt, true, 'not accepted in time')
        attempt.fail(
          new PeerUnresponsiveError(`${attempt.peer} did not accept task ${attempt.taskId} in time`),
        )
      } else if (now > attempt.resultBy) {
        withdraw(attempt, true, 'no result in time')
        attempt.fail(
          new ResultTimeoutError(`no result for task ${attempt.taskId} from ${attempt.peer} in time`),
        )
      }
    }
    if (
      outbound.attempts.size > 0 &&
      !outbound.pinging &&
      now - outbound.channel.lastHeard > init.livenessIdleMs
    ) {
      ping(outbound, init)
    }
  }
}

function ping(outbound: Outbound, init: TaskRequesterInit): void {
  const connection = init.transport.getConnections().find((c) => c.remotePeer.toString() === outbound.peer)
  if (connection === undefined) {
    outbound.channel.abort(new PeerDisconnectedError(`no connection to ${outbound.peer}`))
    return
  }
  outbound.pinging = true
  init.transport.services.ping
    .ping(connection.remotePeer, { signal: AbortSignal.timeout(init.livenessTimeoutMs) })
    .then(
      () => {
        outbound.channel.lastHeard = performance.now()
      },
      (err: unknown) => {
        outbound.channel.abort(
          new PeerUnresponsiveError(
            `${outbound.peer} did not answer a liveness ping: ${(err as Error).message}`,
          ),
        )
      },
    )
    .finally(() => {
      outbound.pinging = false
    })
}
