// Decides which scores become risk events: an event is worth one when it moved the customer's risk —
// its score after the event against the score of the state just before it (band change, or a move of
// at least minScoreDelta), or when it is the customer's first. Both scores come from exact state, so
// the same events give the same risk events however the stream was batched, crashed or redelivered.
// A redelivered event always re-emits: its first emission may have been lost in a crash, and the
// deterministic id deduplicates. Each step is decided with whoever scored it (production, canary
// candidate or fallback rules); the shadow model's decisions go to their own list.
import { map, type OperatorFunction } from 'rxjs';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { experimentArm } from '../scoring/assignment.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent, shouldEmit, type RiskPolicy } from '../scoring/risk-decision.js';
import type { ScoringRef } from '../scoring/scoring-ref.js';
import type { Clock } from '../time/clock.js';
import { scoredBy, type DecidedBatch, type ScoredBatch } from './batch.js';

/**
 * processing_time of a risk event: 'clock' reads the engine's clock once per batch (live); 'received'
 * takes the record's receipt time, which replays derive from the input so outputs are reproducible.
 */
export type ProcessingTimeMode = 'clock' | 'received';

export interface DecisionOptions {
  readonly processingTime?: ProcessingTimeMode;
  /** Reasons on each risk event: the top-k features pushing the score up (0: none). */
  readonly reasonsTopK?: number;
  /** Explain only events at or above the threshold (the ones campaigns act on; TreeSHAP costs ~1 ms a row). */
  readonly reasonsAboveThresholdOnly?: boolean;
  /** Experiment arms: a stable hash of customer and salt → treatment or control on every event. */
  readonly experiment?: { readonly salt: string; readonly treatmentShare: number };
}

function decideSteps(
  batch: ScoredBatch,
  scores: Float32Array,
  beforeScores: Float32Array,
  refOf: (i: number) => ScoringRef,
  policy: RiskPolicy,
  now: number,
  options: DecisionOptions,
): { events: RiskEventRecord[]; latest: Map<string, LastScore> } {
  const events: RiskEventRecord[] = [];
  const latest = new Map<string, LastScore>();
  const k = options.reasonsTopK ?? 0;
  batch.steps.forEach((step, i) => {
    const { event } = step.item;
    const ref = refOf(i);
    const score = scores[i]!;
    const band = bandOf(score, ref.decision.bands);
    const beforeScore = beforeScores[i]!;
    const previous = Number.isNaN(beforeScore) ? null : { score: beforeScore, band: bandOf(beforeScore, ref.decision.bands), modelVersion: ref.version, eventTime: event.eventTime };
    if (step.outcome === 'duplicate' || shouldEmit(policy, previous, score, band, ref.version)) {
      events.push(
        buildRiskEvent({
          customerId: event.customerId,
          triggerEventId: event.eventId,
          eventTime: event.eventTime,
          processingTime: options.processingTime === 'received' ? step.item.record.receivedAt : now,
          score,
          previousBand: previous?.band ?? null,
          ref,
          experimentArm: options.experiment ? experimentArm(event.customerId, options.experiment.salt, options.experiment.treatmentShare) : null,
          ...(k > 0 && ref.reasons && (!options.reasonsAboveThresholdOnly || score >= ref.decision.threshold) ? { reasons: ref.reasons(step.features, k) } : {}),
        }),
      );
      latest.set(event.customerId, { score, band, modelVersion: ref.version, eventTime: event.eventTime });
    }
  });
  return { events, latest };
}

export function decideBatch(batch: ScoredBatch, policy: RiskPolicy, clock: Clock, options: DecisionOptions = {}): DecidedBatch {
  const now = clock.now();
  const { shadow } = batch;
  const { events, latest } = decideSteps(batch, batch.scores, batch.beforeScores, (i) => scoredBy(batch, i), policy, now, options);
  const lastScores = [...latest.entries()].map(([customerId, lastScore]) => ({ customerId, lastScore }));
  if (!shadow) return { ...batch, riskEvents: events, lastScores };
  const shadowDecided = decideSteps(batch, shadow.scores, shadow.beforeScores, () => shadow.ref, policy, now, { ...options, experiment: undefined });
  return { ...batch, riskEvents: events, lastScores, shadowEvents: shadowDecided.events };
}

export function decideRisk(policy: RiskPolicy, clock: Clock, options: DecisionOptions = {}): OperatorFunction<ScoredBatch, DecidedBatch> {
  return map((batch) => decideBatch(batch, policy, clock, options));
}
