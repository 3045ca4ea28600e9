/**
 * The capability keys a node advertises on the swarm's DHT (see `provideCapability` of
 * `@p2p-ai/transport`: the DHT key is the CID of `sha256("p2p-ai/capability/v1\n" + key)`), so a
 * requester finds a provider of a task type, or of a model by its hash, without being connected to
 * it first. docs/protocol.md §6 gives the format.
 */

/** The key of a task type: `task/<type>`, e.g. `task/embed`. */
export function taskKey(type: string): string {
  return `task/${type}`
}

/** The key of a model by its hash: `model/<sha256 in lowercase hex>`. */
export function modelKey(sha256: string): string {
  return `model/${sha256}`
}

/** Every key of what a node runs: its task types and its models' hashes. */
export function capabilityKeys(caps: {
  readonly taskTypes: readonly string[]
  readonly models: readonly { readonly sha256: string }[]
}): string[] {
  return [...new Set([...caps.taskTypes.map(taskKey), ...caps.models.map((m) => modelKey(m.sha256))])]
}
