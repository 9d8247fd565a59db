// Turns a score into a risk event: the band (decided by the emit rule, src/scoring/emit-rule.ts), the
// threshold from the manifest, and a deterministic id.
import { createHash } from 'node:crypto';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { FeatureReason } from './explain/explainer.js';
import type { ScoringRef } from './scoring-ref.js';

/** Same customer, trigger and model → same id, so consumers can drop redeliveries. */
export function riskEventId(customerId: string, triggerEventId: string, modelName: string, modelVersion: string): string {
  return createHash('sha256').update(`${customerId}\u0000${triggerEventId}\u0000${modelName}\u0000${modelVersion}`).digest('hex').slice(0, 32);
}

export function buildRiskEvent(args: {
  customerId: string;
  triggerEventId: string;
  eventTime: number;
  processingTime: number;
  score: number;
  /** The band the emit rule put the customer in (with hysteresis, so not always the raw band of the score). */
  band: string;
  previousBand: string | null;
  ref: ScoringRef;
  experimentArm?: string | null;
  reasons?: readonly FeatureReason[];
}): RiskEventRecord {
  const { ref } = args;
  const threshold = ref.decision.threshold;
  return {
    event_id: riskEventId(args.customerId, args.triggerEventId, ref.name, ref.version),
    customer_id: args.customerId,
    score: args.score,
    band: args.band,
    previous_band: args.previousBand,
    threshold,
    above_threshold: args.score >= threshold,
    model_name: ref.name,
    model_version: ref.version,
    scorer: ref.scorer,
    experiment_arm: args.experimentArm ?? null,
    reasons: (args.reasons ?? []).map((r) => ({ feature: r.feature, value: r.value === null || Number.isNaN(r.value) ? null : r.value, contribution: r.contribution })),
    trigger_event_id: args.triggerEventId,
    event_time: args.eventTime,
    processing_time: args.processingTime,
  };
}
