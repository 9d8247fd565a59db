// Decides which scores become risk events. Per customer, each step compares with the score emitted
// before it (the stored one, then the ones decided earlier in this batch). A redelivered event always
// re-emits: its first emission may have been lost in a crash, and the deterministic id deduplicates.
import { map, type OperatorFunction } from 'rxjs';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent, shouldEmit, type RiskPolicy } from '../scoring/risk-decision.js';
import type { Clock } from '../time/clock.js';
import type { DecidedBatch, ScoredBatch } from './batch.js';

export function decideBatch(batch: ScoredBatch, policy: RiskPolicy, clock: Clock): DecidedBatch {
  const { manifest } = batch.model;
  const last = new Map<string, LastScore | null>();
  const riskEvents: RiskEventRecord[] = [];
  const now = clock.now();
  batch.steps.forEach((step, i) => {
    const { event } = step.item;
    const score = batch.scores[i]!;
    const band = bandOf(score, manifest.decision.bands);
    const previous = last.has(event.customerId) ? last.get(event.customerId)! : step.priorScore;
    if (step.outcome === 'duplicate' || shouldEmit(policy, previous, score, band, manifest.version)) {
      riskEvents.push(
        buildRiskEvent({
          customerId: event.customerId,
          triggerEventId: event.eventId,
          eventTime: event.eventTime,
          processingTime: now,
          score,
          previousBand: previous?.band ?? null,
          manifest,
          scorer: batch.model.scorer,
        }),
      );
      last.set(event.customerId, { score, band, modelVersion: manifest.version, eventTime: event.eventTime });
    }
  });
  const lastScores = [...last.entries()].flatMap(([customerId, lastScore]) => (lastScore ? [{ customerId, lastScore }] : []));
  return { ...batch, riskEvents, lastScores };
}

export function decideRisk(policy: RiskPolicy, clock: Clock): OperatorFunction<ScoredBatch, DecidedBatch> {
  return map((batch) => decideBatch(batch, policy, clock));
}
