import { join } from 'node:path'
import { expect, it } from 'vitest'
import { readmeExample, runAsModule } from '../../protocol/test/readme.js'

const packageDir = join(import.meta.dirname, '..')

// The README example runs as a user would run it: against the built package, imported by name.
it('runs the README example and prints the documented output', async () => {
  const { example, output } = readmeExample(packageDir)
  expect(example).toBeDefined()
  expect(output).toBeDefined()
  expect(await runAsModule(packageDir, example as string)).toBe(output)
})
