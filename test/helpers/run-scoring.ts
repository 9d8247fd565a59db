// Runs the churn-scoring topology on the embedded edges (memory store, file sinks) for tests.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { churnScoringTopology, type ChurnScoringEdges, type ChurnScoringOptions } from '../../topologies/churn-scoring.topology.js';
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
  risk: { emit: 'change', minScoreDelta: 0.02 },
};

export interface ScoringRun {
  readonly risk: RiskEventRecord[];
  readonly deadLetters: (DeadLetterRecord & { payload: string })[];
  readonly batches: number;
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
  extra: Partial<Pick<ChurnScoringEdges, 'drift'>> = {},
): Promise<ScoringRun> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-scoring-'));
  const riskPath = join(dir, 'risk.ndjson');
  const deadPath = join(dir, 'dead.ndjson');
  const risk = createFileSink<RiskEventRecord>(riskPath, 'risk-event');
  const dead = createFileSink<DeadLetterRecord>(deadPath, 'dead-letter');
  const clock = fixedClock(now);
  const batches = await lastValueFrom(
    churnScoringTopology(
      { source, decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store, spec, model: () => model, sinks: { risk, deadLetter: dead, late: dead }, clock, ...extra },
      { ...DEFAULT_TEST_OPTIONS, ...options },
    ).pipe(toArray()),
  );
  await risk.close();
  await dead.close();
  return { risk: readNdjson<RiskEventRecord>(riskPath), deadLetters: readNdjson(deadPath), batches: batches.length };
}
