/**
 * The task exchange: serving and sending tasks over the network, routing, failover, reputation,
 * capability announcements and custom task types. Re-exported by the package index.
 */
export { type AccessMode, AccessPolicy, type AccessPolicyInit } from './access-policy.js'
export {
  type AgreementRule,
  cosineAgreement,
  DEFAULT_AGREEMENT_RULES,
  editDistanceAgreement,
  exactAgreement,
  type Tally,
  tally,
} from './agreement.js'
export { capabilitiesOf } from './capabilities.js'
export * from './constants.js'
export * from './errors.js'
export { type ExchangePeer, TaskExchange, type TaskExchangeComponents, taskExchange } from './exchange.js'
export type { TaskExchangeInit } from './exchange-init.js'
export { FORWARDING_MINOR, type RelayHandle, type RelayUpstream } from './forwarding.js'
export type { ProviderStats } from './provider.js'
export type { RegisteredTask, TaskDefinition, TaskRunContext } from './register.js'
export { type CircuitState, type FailureKind, type PeerReputation, ReputationBook } from './reputation.js'
export { type Candidate, cost, hasFreeSlot, pickCandidate } from './router.js'
export type * from './types.js'
