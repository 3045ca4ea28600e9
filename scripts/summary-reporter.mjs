// Prints one plain closing line, `N passed, N failed`, after vitest's own summary, so that any
// CI log reader can tell how many tests ran without parsing vitest's coloured output. Before it,
// the slowest test files: the vitest phase has a time budget (under 5 minutes on a 2-core
// machine), and this says where it goes.
const SLOWEST = 12

export default class SummaryReporter {
  onTestRunEnd(testModules, unhandledErrors) {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const mod of testModules) {
      // A module that failed to load has no test cases; count it as a failure.
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed++
      for (const test of mod.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
      }
    }
    failed += unhandledErrors.length
    const timed = testModules
      .map((mod) => ({ file: mod.relativeModuleId ?? mod.moduleId, ms: mod.diagnostic().duration ?? 0 }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, SLOWEST)
    if (timed.length > 1) {
      process.stdout.write(`\nslowest test files:\n`)
      for (const { file, ms } of timed)
        process.stdout.write(`${(ms / 1000).toFixed(1).padStart(7)} s  ${file}\n`)
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`)
  }
}
