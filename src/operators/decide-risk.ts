// Decides which scores become risk events: an event is worth one when it moved the customer's risk —
// its score after the event against the score of the state just before it (band change, or a move of
// at least minScoreDelta), or when it is the customer's first. Both scores come from exact state, so
// the same events give the same risk events however the stream was batched. Each decision becomes an
// outbox entry stored with the state change (persist-decisions.ts); a redelivered event is not decided
// again: its stored decision is re-emitted, in arrival order among the new ones. Each step is decided
// with whoever scored it (production, canary candidate or fallback rules); the shadow model's decisions
// go to their own list.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { experimentArm } from '../scoring/assignment.js';
import { bandOf } from '../scoring/bands.js';
import { buildRiskEvent, shouldEmit, type RiskPolicy } from '../scoring/risk-decision.js';
import type { ScoringRef } from '../scoring/scoring-ref.js';
import { encodeDecision, type StoredDecision } from '../scoring/stored-decision.js';
import { outboxKey } from '../state/customer-state.js';
import type { Clock } from '../time/clock.js';
import { createYieldPoint } from '../time/yield-point.js';
import { scoredBy, type DecidedBatch, type OutboxEntry, type ScoredBatch } from './batch.js';

/**
 * processing_time of a risk event: 'clock' reads the engine's clock once per batch (live); 'received'
 * takes the record's receipt time, which replays derive from the input so outputs are reproducible.
 */
export type ProcessingTimeMode = 'clock' | 'received';

export interface DecisionOptions {
  readonly processingTime?: ProcessingTimeMode;
  /** Reasons on each risk event: the top-k features pushing the score up (0: none). */
  readonly reasonsTopK?: number;
  /** Explain only events at or above the threshold (the ones campaigns act on; TreeSHAP costs ~0.3–1 ms a row). */
  readonly reasonsAboveThresholdOnly?: boolean;
  /** Experiment arms: a stable hash of customer and salt → treatment or control on every event. */
  readonly experiment?: { readonly salt: string; readonly treatmentShare: number };
}

type RiskEventArgs = Parameters<typeof buildRiskEvent>[0];
/** Rows explained per reasonsMany call: big enough for TreeSHAP's tree-by-tree batching, small enough (tens of ms) between yield points. */
const REASONS_CHUNK = 32;

async function decideSteps(
  batch: ScoredBatch,
  scores: Float32Array,
  beforeScores: Float32Array,
  refOf: (i: number) => ScoringRef,
  policy: RiskPolicy,
  now: number,
  options: DecisionOptions,
): Promise<{ events: (RiskEventRecord | undefined)[]; latest: Map<string, LastScore> }> {
  const events: (RiskEventRecord | undefined)[] = new Array(batch.steps.length).fill(undefined);
  const latest = new Map<string, LastScore>();
  const k = options.reasonsTopK ?? 0;
  // Only events that will be published are explained, after the emit decision, and together per
  // scorer: TreeSHAP explains a batch tree by tree (reasonsMany), cheaper per row than one at a time.
  const toExplain = new Map<ScoringRef, { i: number; args: RiskEventArgs }[]>();
  const pause = createYieldPoint();
  for (let i = 0; i < batch.steps.length; i++) {
    await pause();
    const step = batch.steps[i]!;
    const { event } = step.item;
    const ref = refOf(i);
    const score = scores[i]!;
    const band = bandOf(score, ref.decision.bands);
    const beforeScore = beforeScores[i]!;
    const previous = Number.isNaN(beforeScore) ? null : { score: beforeScore, band: bandOf(beforeScore, ref.decision.bands), modelVersion: ref.version, eventTime: event.eventTime };
    if (shouldEmit(policy, previous, score, band, ref.version)) {
      const args: RiskEventArgs = {
        customerId: event.customerId,
        triggerEventId: event.eventId,
        eventTime: event.eventTime,
        processingTime: options.processingTime === 'received' ? step.item.record.receivedAt : now,
        score,
        previousBand: previous?.band ?? null,
        ref,
        experimentArm: options.experiment ? experimentArm(event.customerId, options.experiment.salt, options.experiment.treatmentShare) : null,
      };
      if (k > 0 && ref.reasons && (!options.reasonsAboveThresholdOnly || score >= ref.decision.threshold)) {
        const group = toExplain.get(ref) ?? [];
        group.push({ i, args });
        toExplain.set(ref, group);
      } else {
        events[i] = buildRiskEvent(args);
      }
      latest.set(event.customerId, { score, band, modelVersion: ref.version, eventTime: event.eventTime });
    }
  }
  for (const [ref, group] of toExplain) {
    // Chunks, with a yield point between them, so a batch of reasons never holds the loop for long.
    for (let c = 0; c < group.length; c += REASONS_CHUNK) {
      await pause();
      const chunk = group.slice(c, c + REASONS_CHUNK);
      const rows = chunk.map(({ i }) => batch.steps[i]!.features);
      const reasons = ref.reasonsMany ? ref.reasonsMany(rows, k) : rows.map((row) => ref.reasons!(row, k));
      chunk.forEach(({ i, args }, j) => (events[i] = buildRiskEvent({ ...args, reasons: reasons[j]! })));
    }
  }
  return { events, latest };
}

export async function decideBatch(batch: ScoredBatch, policy: RiskPolicy, clock: Clock, options: DecisionOptions = {}): Promise<DecidedBatch> {
  const now = clock.now();
  const { shadow } = batch;
  const own = await decideSteps(batch, batch.scores, batch.beforeScores, (i) => scoredBy(batch, i), policy, now, options);
  const lastScores = [...own.latest.entries()].map(([customerId, lastScore]) => ({ customerId, lastScore }));
  const shadowEvents = shadow ? (await decideSteps(batch, shadow.scores, shadow.beforeScores, () => shadow.ref, policy, now, { ...options, experiment: undefined })).events : undefined;

  // New decisions and re-emitted stored ones, merged in arrival order; each new one is stored.
  const outbox: OutboxEntry[] = [...batch.refusals];
  const fresh = batch.steps.map((step, i) => {
    const decision: StoredDecision = { ...(own.events[i] ? { risk: own.events[i] } : {}), ...(shadowEvents?.[i] ? { shadow: shadowEvents[i] } : {}) };
    if (decision.risk || decision.shadow) outbox.push({ customerId: step.item.event.customerId, key: outboxKey(step.item.record.position), payload: encodeDecision(decision) });
    return { order: step.order, decision };
  });
  const all = batch.replays.length === 0 ? fresh : [...fresh, ...batch.replays].sort((a, b) => a.order - b.order);
  const riskEvents = all.flatMap((d) => (d.decision.risk ? [d.decision.risk] : []));
  const shadowOut = all.flatMap((d) => (d.decision.shadow ? [d.decision.shadow] : []));
  return { ...batch, riskEvents, lastScores, outbox, ...(shadow || shadowOut.length > 0 ? { shadowEvents: shadowOut } : {}) };
}

export function decideRisk(policy: RiskPolicy, clock: Clock, options: DecisionOptions = {}): OperatorFunction<ScoredBatch, DecidedBatch> {
  return concatMap((batch) => decideBatch(batch, policy, clock, options));
}
