import { generateIdentity, verifySignature } from '@p2p-ai/identity'
const id = generateIdentity()
const data = new Uint8Array(400)
const sig = id.sign(data)
let t = performance.now(); let n = 0
while (performance.now() - t < 1000) { id.sign(data); n++ }
console.log('sign/s', n)
t = performance.now(); n = 0
while (performance.now() - t < 1000) { verifySignature(id.publicKey, data, sig); n++ }
console.log('verify/s', n)
