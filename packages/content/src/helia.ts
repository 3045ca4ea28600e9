/**
 * Helia on the node's own libp2p: the `Helia` of `@helia/utils` (what `createHelia` of `helia`
 * builds) with Bitswap as its one block broker, no content routers (blocks are asked of connected
 * swarm peers only, never of the public IPFS network or a gateway), the node's block store, and a
 * datastore in memory (Helia keeps nothing there that must outlive the process: the plug-in keeps
 * its own index of what to keep).
 */
import { type Bitswap, createBitswap } from '@helia/bitswap'
import type { BlockBroker } from '@helia/interface/blocks'
import { Helia } from '@helia/utils'
import type { ComponentLogger, Libp2p } from '@libp2p/interface'
import { MemoryDatastore } from 'datastore-core'
import type { Blockstore } from 'interface-blockstore'
import { BITSWAP_MAX_STREAMS } from './constants.js'

export interface ContentHelia {
  readonly helia: Helia<Libp2p>
  readonly bitswap: Bitswap
}

/** Bitswap as a Helia block broker: `retrieve` asks connected peers, `announce` tells those waiting. */
function bitswapBroker(bitswap: Bitswap): BlockBroker {
  return {
    name: 'bitswap',
    retrieve: (cid, options) => bitswap.want(cid, options),
    announce: (cid, options) => bitswap.notify(cid, options),
  }
}

/** Builds (does not start) Helia on `libp2p`, which the caller owns and has gated. */
export function contentHelia(libp2p: Libp2p, blockstore: Blockstore, logger: ComponentLogger): ContentHelia {
  let bitswap: Bitswap | undefined
  const helia = new Helia({
    libp2p,
    logger,
    blockstore,
    datastore: new MemoryDatastore(),
    routers: [],
    blockBrokers: [
      (components: Parameters<typeof createBitswap>[0]) => {
        bitswap = createBitswap(components, {
          maxInboundStreams: BITSWAP_MAX_STREAMS,
          maxOutboundStreams: BITSWAP_MAX_STREAMS,
        })
        const broker = bitswapBroker(bitswap)
        // Helia starts and stops its brokers: Bitswap registers its protocol then.
        return Object.assign(broker, {
          start: () => bitswap?.start(),
          stop: () => bitswap?.stop(),
        })
      },
    ],
  })
  return { helia, bitswap: bitswap as unknown as Bitswap }
}
