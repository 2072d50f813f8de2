import { parseArgs } from 'node:util'
import { DEMO_DSPS, type RunningDsp, type SimulatedDspSpec, startSimulatedDsp } from './simulated-dsp.js'

const USAGE = `usage: node dist/src/demo/simulated-dsp-main.js [options]
  --id ID                  DSP id (default dsp-a)
  --port N                 listen port, 0 = any free one (default 9001); --count/--demo use N, N+1, ...
  --host ADDR              listen address (default 127.0.0.1; 0.0.0.0 in containers)
  --latency-median-ms MS   median answer delay, log-normal; 0 = answer at once (default 5)
  --latency-sigma S        log-normal sigma; 0 = always the median (default 0.5)
  --bid-rate P             probability of bidding per imp, 0..1 (default 0.8)
  --price-min CPM          lowest bid price (default 0.5)
  --price-max CPM          highest bid price (default 2.5)
  --seat NAME              seat id on bids (default: the id)
  --adomain DOMAIN         advertiser domain on bids (default <id>.example)
  --seed N                 PRNG seed for repeatable runs (default: random)
  --notice-base-url URL    base of nurl/burl as the exchange reaches this DSP, single DSP only
                           (default http://host:port)
  --count N                start N DSPs with these settings, ids <id>-1..N, seeds seed+i (default 1)
  --demo                   start the three demo DSPs instead (fast, medium, slow)
  --specs-json JSON        start DSPs from a JSON array of SimulatedDspSpec objects instead
On SIGTERM or SIGINT: closes every DSP, prints each one's counters, exits 0.`

const OPTIONS = {
  id: { type: 'string', default: 'dsp-a' },
  port: { type: 'string', default: '9001' },
  host: { type: 'string', default: '127.0.0.1' },
  'latency-median-ms': { type: 'string', default: '5' },
  'latency-sigma': { type: 'string', default: '0.5' },
  'bid-rate': { type: 'string', default: '0.8' },
  'price-min': { type: 'string', default: '0.5' },
  'price-max': { type: 'string', default: '2.5' },
  seat: { type: 'string' },
  adomain: { type: 'string' },
  seed: { type: 'string' },
  'notice-base-url': { type: 'string' },
  count: { type: 'string', default: '1' },
  demo: { type: 'boolean', default: false },
  'specs-json': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values']

function number(values: Values, name: keyof typeof OPTIONS): number {
  const raw = values[name]
  const n = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n)) fail(`--${name} must be a number`)
  return n
}

function fail(message: string): never {
  console.error(`simulated-dsp: ${message}\n${USAGE}`)
  process.exit(2)
}

/** Turns the command line into the specs to start. */
function specsFrom(values: Values): SimulatedDspSpec[] {
  const host = values.host
  const basePort = number(values, 'port')
  const atPort = (i: number): number => (basePort === 0 ? 0 : basePort + i)
  if (values['specs-json'] !== undefined) {
    const parsed: unknown = JSON.parse(values['specs-json'])
    if (!Array.isArray(parsed)) fail('--specs-json must be a JSON array of specs')
    return (parsed as SimulatedDspSpec[]).map((s) => ({ host, ...s }))
  }
  if (values.demo) return DEMO_DSPS.map((s, i) => ({ ...s, host, port: atPort(i) }))
  const count = number(values, 'count')
  const seed = values.seed === undefined ? undefined : number(values, 'seed')
  const specs: SimulatedDspSpec[] = []
  for (let i = 0; i < count; i++) {
    specs.push({
      id: count === 1 ? values.id : `${values.id}-${i + 1}`,
      port: atPort(i),
      host,
      latencyMs: { median: number(values, 'latency-median-ms'), sigma: number(values, 'latency-sigma') },
      bidRate: number(values, 'bid-rate'),
      priceCpm: { min: number(values, 'price-min'), max: number(values, 'price-max') },
      ...(values.seat === undefined ? {} : { seat: values.seat }),
      ...(values.adomain === undefined ? {} : { adomain: values.adomain }),
      ...(seed === undefined ? {} : { seed: seed + i }),
      ...(values['notice-base-url'] === undefined || count > 1
        ? {}
        : { noticeBaseUrl: values['notice-base-url'] }),
    })
  }
  return specs
}

function describe(spec: SimulatedDspSpec, dsp: RunningDsp): string {
  const { median, sigma } = spec.latencyMs
  return (
    `${dsp.id} listening on ${dsp.url}: latency median ${median} ms sigma ${sigma}, ` +
    `bid rate ${spec.bidRate}, price ${spec.priceCpm.min}-${spec.priceCpm.max} CPM`
  )
}

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>
  try {
    parsed = parseArgs({ options: OPTIONS, strict: true, allowPositionals: false })
  } catch (err) {
    fail((err as Error).message)
  }
  if (parsed.values.help) {
    console.log(USAGE)
    return
  }
  const specs = specsFrom(parsed.values)
  const running: RunningDsp[] = []
  let isStopping = false
  const stop = async (): Promise<void> => {
    if (isStopping) return
    isStopping = true
    await Promise.all(running.map((d) => d.close()))
    for (const d of running) console.log(`${d.id} stopped: ${JSON.stringify(d.stats)}`)
    // Idle keep-alive connections would hold the process for uWS's idle timeout: exit now.
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop())
  process.on('SIGINT', () => void stop())
  for (const spec of specs) {
    const dsp = await startSimulatedDsp(spec)
    running.push(dsp)
    console.log(describe(spec, dsp))
  }
}

main().catch((err: unknown) => {
  console.error(`simulated-dsp: ${(err as Error).message}`)
  process.exit(1)
})
