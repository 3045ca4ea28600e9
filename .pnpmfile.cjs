// Workspace-only install hook (never published: it only affects installs of this repository).
//
// @chainsafe/libp2p-quic declares `engines: { node: '>= 22' }`, and pnpm (like npm) silently skips
// an optional dependency whose engines do not match, so on the Node 20 machines this repository is
// developed and tested on, @p2p-ai/transport would never get its QUIC transport and the hole-punching
// tests could not run. The package works on Node 20.19+ (it only needs `Promise.withResolvers`,
// which @p2p-ai/transport installs before libp2p starts), so here we state the range it really
// supports. Users of the published packages are not affected by this file: see the QUIC section of
// packages/transport/README.md.
module.exports = {
  hooks: {
    readPackage(manifest) {
      if (manifest.name === '@chainsafe/libp2p-quic' && manifest.engines?.node === '>= 22') {
        manifest.engines = { ...manifest.engines, node: '>=20.19' }
      }
      return manifest
    },
  },
}
