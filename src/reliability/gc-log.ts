import { PerformanceObserver } from 'node:perf_hooks'
import { GC_LINE_PREFIX } from './cpu-wait.js'

/*
 * Preloaded into the exchange's own process by the fault suite (`NODE_OPTIONS=--import …`): writes
 * every garbage-collection pause of its event loop to stderr, one line each,
 * `fault-suite-gc <start, epoch ms> <duration ms>`, so that the suite can tell an answer late
 * because the exchange was collecting garbage from one its deadline logic let run late (gcPauses
 * in cpu-wait.ts reads them back). Nothing else in the exchange changes.
 */
new PerformanceObserver((list) => {
  let lines = ''
  for (const entry of list.getEntries()) {
    lines += `${GC_LINE_PREFIX} ${(performance.timeOrigin + entry.startTime).toFixed(2)} ${entry.duration.toFixed(2)}\n`
  }
  process.stderr.write(lines)
}).observe({ entryTypes: ['gc'] })
