#!/usr/bin/env node
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { importInProject, packAndInstall } from './pack-check.js'

// Packs every published package, installs the tarballs into an empty project with npm,
// and imports each one there. Prints what it found; exits non-zero on the first failure.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const result = await packAndInstall({ root, ...(process.argv[2] ? { workDir: process.argv[2] } : {}) })
for (const pkg of result.packages) {
  const exports = await importInProject(result.projectDir, pkg.name)
  console.log(`${pkg.name}@${pkg.version}: ${pkg.files.length} files, ${exports.length} exports`)
}
console.log(`installed and imported in ${result.projectDir}`)
