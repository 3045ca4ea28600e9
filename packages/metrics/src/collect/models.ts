/**
 * Models this node serves, from the engine's capabilities: loaded or not, their size, and the
 * memory the loaded ones hold, estimated by their file size (ONNX Runtime and llama.cpp map or
 * copy the weights; their working memory comes on top and shows in the process's resident size).
 */
import type { P2PNode } from '@p2p-ai/node'
import type { Registry } from 'prom-client'
import { METRICS } from '../catalog.js'
import { gauge } from './build.js'

export function collectModels(registry: Registry, node: P2PNode): void {
  const models = () => node.engine.capabilities().models
  gauge(registry, METRICS.modelLoaded, function () {
    this.reset()
    for (const m of models()) this.set({ model: m.name }, m.loaded ? 1 : 0)
  })
  gauge(registry, METRICS.modelSize, function () {
    this.reset()
    for (const m of models()) this.set({ model: m.name }, m.sizeBytes)
  })
  gauge(registry, METRICS.modelsLoadedBytes, function () {
    let bytes = 0
    for (const m of models()) if (m.loaded) bytes += m.sizeBytes
    this.set(bytes)
  })
}
