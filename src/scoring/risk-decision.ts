// Turns a score into a risk event: the band (decided by the emit rule, src/scoring/emit-rule.ts), the
// threshold from the manifest, and a deterministic id.
import * as crypto from 'node:crypto';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { FeatureReason } from './explain/explainer.js';
import type { ScoringRef } from './scoring-ref.js';

/** Same customer, trigger and model → same id, so consumers can drop redeliveries. */
export function riskEventId(customerId: string, triggerEventId: string, modelName: string, modelVersion: string): string {
  return sha256Hex(`${customerId}\u0000${triggerEventId}\u0000${modelName}\u0000${modelVersion}`).slice(0, 32);
}

// One-shot crypto.hash (Node ≥ 20.12) skips the Hash object createHash builds per call: the same
// digest, a fraction of the cost per risk event. Older Node 20 releases keep createHash.
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;
const sha256Hex: (text: string) => string = oneShot ? (text) => oneShot('sha256', text, 'hex') : (text) => crypto.createHash('sha256').update(text).digest('hex');

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
    reasons: reasonRecords(args.reasons ?? []),
    trigger_event_id: args.triggerEventId,
    event_time: args.eventTime,
    processing_time: args.processingTime,
  };
}

function reasonRecords(reasons: readonly FeatureReason[]): RiskEventRecord['reasons'] {
  return reasons.map((r) => ({ feature: r.feature, value: r.value === null || Number.isNaN(r.value) ? null : r.value, contribution: r.contribution }));
}

/** `event` with its reasons: what buildRiskEvent gives with them (same fields, same order), without hashing the id again. */
export function withReasons(event: RiskEventRecord, reasons: readonly FeatureReason[]): RiskEventRecord {
  return { ...event, reasons: reasonRecords(reasons) };
}
