// The configuration users run: deploy/churnflow.yaml as shipped, with only what must differ on a
// bench machine overridden (and listed, so a bench can print exactly how its run differs).
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/load-config.js';
import type { ChurnflowConfig } from '../src/config/config-schema.js';
import { SERVICES } from '../test/helpers/services.js';

export const SHIPPED_CONFIG_FILE = fileURLToPath(new URL('../../deploy/churnflow.yaml', import.meta.url));

export interface ShippedRun {
  readonly groupId: string;
  readonly topics: { readonly activity: string; readonly risk: string; readonly deadLetter: string; readonly drift: string; readonly shadow: string };
  readonly redisKeyPrefix: string;
  /** Reasons off (model.reasons.topK 0): the run without TreeSHAP. */
  readonly noReasons?: boolean;
  /** A risk event for every scored event (engine.risk.emit every), so each event's latency is seen. */
  readonly emitEvery?: boolean;
}

/**
 * BENCH_BATCH_MAX_SIZE: engine.batch.maxSize for a batch-size comparison, with engine.maxInFlight scaled
 * to keep the shipped ratio of the two (so only the size differs). Unset: the shipped values.
 */
export function benchBatchOverride(): { readonly maxSize: number; readonly maxInFlight: number } | undefined {
  const raw = process.env.BENCH_BATCH_MAX_SIZE;
  if (raw === undefined || raw === '') return undefined;
  const maxSize = Number(raw);
  const shipped = loadConfig({ file: SHIPPED_CONFIG_FILE, env: {} }).engine;
  return { maxSize, maxInFlight: Math.max(2 * maxSize, Math.round((shipped.maxInFlight * maxSize) / shipped.batch.maxSize)) };
}

/** BENCH_WORKER_SHARE: model.workerShare for a comparison (0: every tree walked on the main thread). Unset: the shipped value. */
export function benchWorkerShare(): number | undefined {
  const raw = process.env.BENCH_WORKER_SHARE;
  return raw === undefined || raw === '' ? undefined : Number(raw);
}

/** What differs from deploy/churnflow.yaml, for the printed report. */
export function shippedConfigDifferences(run: Pick<ShippedRun, 'noReasons' | 'emitEvery'> = {}): string[] {
  const batch = benchBatchOverride();
  return [
    `kafka.brokers, schemaRegistry.url, state.redis.url → this machine's services (${SERVICES.kafkaBrokers.join(',')}, ${SERVICES.schemaRegistryUrl}, ${SERVICES.redisUrl})`,
    "kafka.groupId, state.redis.keyPrefix → fresh per run (a new group reads from the beginning; no state left by an earlier run); kafka.topics.* → the bench's own topics",
    'http.port → 0 (any free port: 9464 may be taken by another process on the machine)',
    'log.level → warn (info only logs start-up and group changes, nothing per batch; they would interleave with the table)',
    ...(run.noReasons ? ['model.reasons.topK → 0 (the run without reasons)'] : []),
    ...(run.emitEvery ? ['engine.risk.emit → every (latency runs only: every event yields a risk event, so each one is timed)'] : []),
    ...(batch ? [`engine.batch.maxSize → ${batch.maxSize}, engine.maxInFlight → ${batch.maxInFlight} (BENCH_BATCH_MAX_SIZE: a batch-size comparison)`] : []),
    ...(benchWorkerShare() !== undefined ? [`model.workerShare → ${benchWorkerShare()} (BENCH_WORKER_SHARE: a comparison)`] : []),
  ];
}

export function shippedConfig(run: ShippedRun): Readonly<ChurnflowConfig> {
  const batch = benchBatchOverride();
  const engine = {
    ...(run.emitEvery ? { risk: { emit: 'every' as const } } : {}),
    ...(batch ? { batch: { maxSize: batch.maxSize }, maxInFlight: batch.maxInFlight } : {}),
  };
  return loadConfig({
    file: SHIPPED_CONFIG_FILE,
    env: {}, // CHURNFLOW_* variables of the shell must not change what is measured
    overrides: {
      kafka: { brokers: [...SERVICES.kafkaBrokers], groupId: run.groupId, topics: { activity: [run.topics.activity], risk: run.topics.risk, deadLetter: run.topics.deadLetter, drift: run.topics.drift, shadow: run.topics.shadow } },
      schemaRegistry: { url: SERVICES.schemaRegistryUrl },
      state: { redis: { url: SERVICES.redisUrl, keyPrefix: run.redisKeyPrefix } },
      http: { port: 0 },
      log: { level: 'warn' },
      model: {
        ...(run.noReasons ? { reasons: { topK: 0 } } : {}),
        ...(benchWorkerShare() !== undefined ? { workerShare: benchWorkerShare() } : {}),
      },
      ...(Object.keys(engine).length > 0 ? { engine } : {}),
    },
  });
}
