/**
 * What an agent process and the demo say to each other: the agent writes one JSON object per
 * line on stdout (events), the demo writes one command per line on its stdin. stderr carries the
 * agent's own log, kept for error messages.
 */

/** The agent's configuration, passed as its single argument (JSON). */
export interface AgentConfig {
  /** `agent-1`, `agent-2`... */
  readonly name: string
  readonly dataDir: string
  /** The demo's own mDNS service tag, so only its nodes find each other. */
  readonly serviceTag: string
  /** The locally built embedding model this agent serves. */
  readonly embedModel: { readonly name: string; readonly path: string }
  /** Tasks its engine runs at once. */
  readonly concurrency: number
  /**
   * Its TMPDIR, inside the demo's directory: ONNX Runtime leaves files in the temporary directory
   * (`mat-debug-<pid>.log`, `.ses`), which then go with the rest.
   */
  readonly tmpDir: string
}

export interface ModelAnnouncement {
  readonly name: string
  readonly sha256: string
  readonly taskTypes: readonly string[]
}

/** Every event carries `at`: `Date.now()` in the agent (one clock: all processes share the machine). */
export type AgentEvent =
  | {
      readonly event: 'ready'
      readonly at: number
      readonly pid: number
      readonly peerId: string
      readonly addresses: readonly string[]
      readonly taskTypes: readonly string[]
      readonly models: readonly ModelAnnouncement[]
    }
  | { readonly event: 'peer:connect'; readonly at: number; readonly peerId: string }
  | { readonly event: 'peer:failed'; readonly at: number; readonly peerId: string; readonly reason: string }
  | { readonly event: 'peer:remove'; readonly at: number; readonly peerId: string; readonly reason: string }
  /** The engine started a task a peer sent (`taskId` is the requester's id). */
  | {
      readonly event: 'task:started'
      readonly at: number
      readonly taskId: string
      readonly requester: string
    }
  | { readonly event: 'task:finished'; readonly at: number; readonly taskId: string; readonly status: string }
  | { readonly event: 'stopped'; readonly at: number; readonly durationMs: number; readonly goodbyes: number }
  | { readonly event: 'error'; readonly at: number; readonly code?: string; readonly message: string }

/** Commands on the agent's stdin, one per line. Closing stdin also stops it. */
export type AgentCommand = 'stop'
