/**
 * The task exchange: serving and sending tasks over the network, routing, failover, custom task
 * types and verification by redundancy. Re-exported by the package index.
 */
export * from './constants.js'
export * from './errors.js'
export type { TaskAttempt, TaskDone, TaskExchangeEvents, TaskRefusal, TaskRetry } from './events.js'
export {
  type Availability,
  type ExchangeStopOptions,
  TaskExchange,
  type TaskExchangeComponents,
  taskExchange,
} from './exchange.js'
export { type AttemptEnd, FAILURE_POLICY, type Verdict, verdictOf } from './failures.js'
export type { ServingLimitsInit, TaskExchangeInit } from './init.js'
export { type Candidate, cost, hasFreeSlot, pickCandidate } from './route/cost.js'
export { FORWARDING_MINOR, type LocalAvailability, type Route, type RouteSpec } from './route/router.js'
export type { Refusal, ServingLimits } from './serve/admission.js'
export type { RegisteredTask, TaskDefinition, TaskRunContext } from './serve/custom-tasks.js'
export type { ProviderStats } from './serve/provider.js'
export { type AccessMode, AccessPolicy, type AccessPolicyInit } from './trust/access-policy.js'
export {
  type AgreementRule,
  cosineAgreement,
  DEFAULT_AGREEMENT_RULES,
  editDistanceAgreement,
  exactAgreement,
  generationAgreement,
  redundancyRefusal,
  type Tally,
  tally,
} from './trust/agreement.js'
export {
  countingEd25519,
  type EnvelopeChecks,
  envelopeChecks,
  type SignatureCounts,
} from './trust/checks.js'
export type * from './types.js'
