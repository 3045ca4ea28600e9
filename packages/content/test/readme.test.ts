import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

// The README example runs as a user would run it: against the built package, imported by name.
it('runs the README example and prints the documented output', async () => {
  const example = /^```js readme-example\n([\s\S]*?)^```$/m.exec(readme)?.[1]
  const output = /^Output:\n\n```text\n([\s\S]*?)^```$/m.exec(readme)?.[1]
  expect(example).toBeDefined()
  expect(output).toBeDefined()
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', example as string],
    {
      cwd: packageDir,
    },
  )
  expect(stdout).toBe(output)
})
