import type { Config } from '../config/config.js'
import type { ExchangeMetrics, PacingMetrics } from '../metrics/metrics.js'
import type { PacingHooks } from '../stages/pace/pace-stage.js'
import { createPacingStore } from '../store/dragonfly-pacing-store.js'
import type { PacingStore } from '../store/pacing-store.js'
import type { ExchangeStore, StoreLog } from '../store/store.js'
import { LeaseManager, PACING_DEFAULTS, type PacingSettings } from './lease-manager.js'
import { createNoticeSigner, type NoticeSigner } from './notice-token.js'
import { createNoticeRewriter } from './notice-urls.js'

export interface PacingDeps {
  readonly config: Config
  readonly store: ExchangeStore
  readonly metrics: ExchangeMetrics
  readonly log: StoreLog & { error(obj: object, msg: string): void }
  /** The pacing store; by default Dragonfly at config.dragonflyUrl, or the embedded one. */
  readonly pacingStore?: PacingStore
}

/** Everything the app wires: the exchange's hooks, the notice and campaign routes' dependencies. */
export interface PacingRuntime {
  readonly leases: LeaseManager
  readonly store: PacingStore
  readonly hooks: PacingHooks
  readonly notices: {
    readonly signer: NoticeSigner
    readonly leases: LeaseManager
    readonly metrics: PacingMetrics
    readonly dedupeTtlMs: number
  }
  /** Gives unspent leases back and closes the pacing store (after in-flight auctions finished). */
  stop(): Promise<void>
}

/** Notices that commit no reservation are remembered past their token's life plus retries. */
const DEDUPE_SLACK_MS = 3_600_000

/**
 * Starts pacing for one instance: connects the pacing store, loads campaigns and joins the fleet
 * (one lease-manager tick), then keeps refilling in the background. A store that is down does not
 * stop the start: campaigns with a budget just do not serve until leases can be taken.
 */
export async function startPacing(deps: PacingDeps): Promise<PacingRuntime> {
  const { config, log } = deps
  const p = config.pacing
  if (p.isNoticeSecretGenerated) {
    log.warn(
      {},
      'pacing: NOTICE_SECRET is not set; notice URLs are signed with a random per-process key that no other ' +
        'instance can verify. Set the same NOTICE_SECRET on every instance behind one public URL.',
    )
  }
  if (config.dragonflyUrl === null && config.workers > 1) {
    log.warn(
      { workers: config.workers },
      'pacing: without DRAGONFLY_URL each worker thread has its own embedded budget store; run one worker or use Dragonfly',
    )
  }
  const store = deps.pacingStore ?? createPacingStore(config.dragonflyUrl, deps.store, log)
  await store.connect()
  const leases = new LeaseManager({
    store,
    settings: settingsFrom(config),
    metrics: deps.metrics.pacing,
    log,
  })
  await leases.start()
  const signer = createNoticeSigner(p.noticeSecret)
  let nonce = 0
  const rewriteNotices = createNoticeRewriter({
    publicUrl: config.publicUrl,
    signer,
    ttlMs: p.reservationTtlMs,
    nextKey: () => `${leases.instanceId}.n${++nonce}`,
    now: () => leases.now(),
  })
  return {
    leases,
    store,
    hooks: { leases, rewriteNotices },
    notices: {
      signer,
      leases,
      metrics: deps.metrics.pacing,
      dedupeTtlMs: p.reservationTtlMs + DEDUPE_SLACK_MS,
    },
    async stop() {
      try {
        await leases.stop()
      } finally {
        await store.close()
      }
    },
  }
}

function settingsFrom(config: Config): PacingSettings {
  const p = config.pacing
  return {
    ...PACING_DEFAULTS,
    refillIntervalMs: p.refillIntervalMs,
    paceIntervalMs: p.paceIntervalMs,
    reservationTtlMs: p.reservationTtlMs,
    leaseTtlMs: p.leaseTtlMs,
    leaseFraction: p.leaseFraction,
    minLeaseImpressions: p.minLeaseImpressions,
    lastMileImpressions: p.lastMileImpressions,
    commitGraceMs: p.commitGraceMs,
    // A billing counted here must count locally until the decoration cache has re-read the counters.
    frequencyRecentMs: p.frequencyCacheTtlMs + 1_000,
  }
}
