import type { Handler } from '../args/spec.js'

// Each `load` imports one module on demand: `node status` never loads the node package or libp2p.
export const nodeCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./node.js')).handlers[name]!
}
export const taskCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./task.js')).handlers[name]!
}
export const modelsCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./models.js')).handlers[name]!
}
export const demoCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('../demo/commands.js')).handlers[name]!
}
export const jobCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./job.js')).handlers[name]!
}
export const dashboardCmd = async (): Promise<Handler> => (await import('./dashboard.js')).dashboard
export const serviceCmd = (name: string): (() => Promise<Handler>) => {
  return async () => (await import('./service.js')).handlers[name]!
}
