/**
 * Release checks for the p2p-ai workspace.
 *
 * @packageDocumentation
 */
export * from './pack-check.js'
