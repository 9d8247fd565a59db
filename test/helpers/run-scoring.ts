// Runs the churn-scoring topology on the embedded edges (memory store, file sinks) for tests.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { scoredBy } from '../../src/operators/batch.js';
import { churnScoringTopology, type ChurnScoringEdges, type ChurnScoringOptions } from '../../topologies/churn-scoring.topology.js';
import { configSchema } from '../../src/config/config-schema.js';
import { decisionOptions, DEFAULT_EMIT_POLICY } from '../../src/config/decision-options.js';
import { DEFAULT_VALIDATION_RULES } from '../../src/events/validate-event.js';
import type { DeadLetterRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import type { CompiledSpec } from '../../src/features/compile-spec.js';
import type { ScoringModel } from '../../src/scoring/scoring-model.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { createFileSink } from '../../src/sinks/file-sink.js';
import type { RecordSource } from '../../src/sources/record-source.js';
import type { StateStore } from '../../src/state/state-store.js';
import { fixedClock } from '../../src/time/clock.js';

export const DEFAULT_TEST_OPTIONS: ChurnScoringOptions = {
  allowedLatenessMs: 3_600_000,
  batch: { maxSize: 256, maxWaitMs: 5 },
  maxInFlight: 1024,
  risk: DEFAULT_EMIT_POLICY,
};

/** The decision options of an engine on the default config (reasons on, no experiment). */
export const ENGINE_DECISION = decisionOptions(configSchema.parse({}));

export interface ScoringRun {
  readonly risk: RiskEventRecord[];
  readonly deadLetters: (DeadLetterRecord & { payload: string })[];
  readonly batches: number;
  /** The shadow model's risk events (empty without shadow scoring). */
  readonly shadow: RiskEventRecord[];
  /** Every scored step in order: customer, trigger event id, model version, scorer, score. */
  readonly scored: { customerId: string; eventId: string; version: string; scorer: string; score: number }[];
}

export function readNdjson<T>(path: string): T[] {
  const text = readFileSync(path, 'utf8');
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as T);
}

export async function runScoring(
  source: RecordSource,
  store: StateStore,
  spec: CompiledSpec,
  model: ScoringModel,
  now: number,
  options: Partial<ChurnScoringOptions> = {},
  extra: Partial<Pick<ChurnScoringEdges, 'drift' | 'scoring' | 'trace'>> = {},
): Promise<ScoringRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-scoring-'));
  const riskPath = join(dir, 'risk.ndjson');
  const deadPath = join(dir, 'dead.ndjson');
  const risk = createFileSink<RiskEventRecord>(riskPath, 'risk-event');
  const dead = createFileSink<DeadLetterRecord>(deadPath, 'dead-letter');
  const shadowPath = join(dir, 'shadow.ndjson');
  const shadow = createFileSink<RiskEventRecord>(shadowPath, 'risk-event');
  const clock = fixedClock(now);
  const batches = await lastValueFrom(
    churnScoringTopology(
      { source, decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store, spec, model: () => model, sinks: { risk, deadLetter: dead, late: dead, shadow }, clock, ...extra },
      { ...DEFAULT_TEST_OPTIONS, ...options },
    ).pipe(toArray()),
  );
  await risk.close();
  await dead.close();
  await shadow.close();
  const scored = batches.flatMap((b) =>
    b.steps.map((st, i) => {
      const ref = scoredBy(b, i);
      return { customerId: st.item.event.customerId, eventId: st.item.event.eventId, version: ref.version, scorer: ref.scorer, score: b.scores[i]! };
    }),
  );
  return { risk: readNdjson<RiskEventRecord>(riskPath), deadLetters: readNdjson(deadPath), batches: batches.length, shadow: readNdjson<RiskEventRecord>(shadowPath), scored };
}
