// Decides which scores become risk events: an event is worth one when it moved the customer's risk —
// its score after the event against the score of the state just before it (band change, or a move of
// at least minScoreDelta), or when it is the customer's first. Both scores come from exact state, so
// the same events give the same risk events however the stream was batched, crashed or redelivered.
// A redelivered event always re-emits: its first emission may have been lost in a crash, and the
// deterministic id deduplicates.
import { map, type OperatorFunction } from 'rxjs';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent, shouldEmit, type RiskPolicy } from '../scoring/risk-decision.js';
import type { Clock } from '../time/clock.js';
import type { DecidedBatch, ScoredBatch } from './batch.js';

/**
 * processing_time of a risk event: 'clock' reads the engine's clock once per batch (live); 'received'
 * takes the record's receipt time, which replays derive from the input so outputs are reproducible.
 */
export type ProcessingTimeMode = 'clock' | 'received';

export function decideBatch(batch: ScoredBatch, policy: RiskPolicy, clock: Clock, mode: ProcessingTimeMode = 'clock'): DecidedBatch {
  const { manifest } = batch.model;
  const riskEvents: RiskEventRecord[] = [];
  const latest = new Map<string, LastScore>();
  const now = clock.now();
  batch.steps.forEach((step, i) => {
    const { event } = step.item;
    const score = batch.scores[i]!;
    const band = bandOf(score, manifest.decision.bands);
    const beforeScore = batch.beforeScores[i]!;
    const previous = Number.isNaN(beforeScore) ? null : { score: beforeScore, band: bandOf(beforeScore, manifest.decision.bands), modelVersion: manifest.version, eventTime: event.eventTime };
    if (step.outcome === 'duplicate' || shouldEmit(policy, previous, score, band, manifest.version)) {
      riskEvents.push(
        buildRiskEvent({
          customerId: event.customerId,
          triggerEventId: event.eventId,
          eventTime: event.eventTime,
          processingTime: mode === 'clock' ? now : step.item.record.receivedAt,
          score,
          previousBand: previous?.band ?? null,
          manifest,
          scorer: batch.model.scorer,
        }),
      );
      latest.set(event.customerId, { score, band, modelVersion: manifest.version, eventTime: event.eventTime });
    }
  });
  const lastScores = [...latest.entries()].map(([customerId, lastScore]) => ({ customerId, lastScore }));
  return { ...batch, riskEvents, lastScores };
}

export function decideRisk(policy: RiskPolicy, clock: Clock, mode: ProcessingTimeMode = 'clock'): OperatorFunction<ScoredBatch, DecidedBatch> {
  return map((batch) => decideBatch(batch, policy, clock, mode));
}
