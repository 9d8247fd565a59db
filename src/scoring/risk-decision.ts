// Turns a score into a risk event: band and threshold from the manifest, a deterministic id, and the
// rule for when a new score is worth an event (band change or a move of at least minScoreDelta).
import { createHash } from 'node:crypto';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { bandOf } from './bands.js';
import type { FeatureReason } from './explain/explainer.js';
import type { ScoringRef } from './scoring-ref.js';

export interface RiskPolicy {
  /** 'change': emit when the band changes or the score moves by at least minScoreDelta; 'every': every score. */
  readonly emit: 'change' | 'every';
  readonly minScoreDelta: number;
}

export const DEFAULT_RISK_POLICY: RiskPolicy = Object.freeze({ emit: 'change', minScoreDelta: 0.02 });

/** Same customer, trigger and model → same id, so consumers can drop redeliveries. */
export function riskEventId(customerId: string, triggerEventId: string, modelName: string, modelVersion: string): string {
  return createHash('sha256').update(`${customerId}\u0000${triggerEventId}\u0000${modelName}\u0000${modelVersion}`).digest('hex').slice(0, 32);
}

export function shouldEmit(policy: RiskPolicy, previous: LastScore | null, score: number, band: string, modelVersion: string): boolean {
  if (policy.emit === 'every' || previous === null) return true;
  if (previous.band !== band || previous.modelVersion !== modelVersion) return true;
  return Math.abs(previous.score - score) >= policy.minScoreDelta;
}

export function buildRiskEvent(args: {
  customerId: string;
  triggerEventId: string;
  eventTime: number;
  processingTime: number;
  score: number;
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
    band: bandOf(args.score, ref.decision.bands),
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
