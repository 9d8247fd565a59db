// Decides which scores become risk events, by the emit rule (src/scoring/emit-rule.ts): the customer's
// first score, a band entered or left (with hysteresis), a large move after the cooldown. The rule
// compares with the customer's last published score, stored with its state and carried from event to
// event in arrival order, so the same events give the same risk events however the stream was batched,
// and a suppressed decision is counted by reason. Each decision becomes an
// outbox entry stored with the state change (persist-decisions.ts); a redelivered event is not decided
// again: its stored decision is re-emitted, in arrival order among the new ones. Each step is decided
// with whoever scored it (production, canary candidate or fallback rules); the shadow model's decisions
// go to their own list.
import { concatMap, type OperatorFunction } from 'rxjs';
import type { RiskEventRecord } from '../events/wire-types.js';
import type { LastScore } from '../state/customer-state.js';
import { experimentArm } from '../scoring/assignment.js';
import { lastScoreOf } from '../scoring/current-risk.js';
import { decideEmit, type EmitPolicy, type SuppressReason } from '../scoring/emit-rule.js';
import { buildRiskEvent, withReasons } from '../scoring/risk-decision.js';
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
/** Fewer rows than this are explained on the calling thread alone (a worker round trip costs about one row's TreeSHAP). */
const OFF_THREAD_MIN_ROWS = 8;

/** Suppressed decisions of a batch by reason (churnflow_risk_suppressed_total, the demo summary). */
export type SuppressedCounts = Partial<Record<SuppressReason, number>>;

/**
 * Decides the steps in arrival order. `memory` starts as each customer's stored last published score
 * and moves with every event published, so a batch decides exactly what one event at a time would.
 */
async function decideSteps(
  batch: ScoredBatch,
  scores: Float32Array,
  refOf: (i: number) => ScoringRef,
  policy: EmitPolicy,
  memory: Map<string, LastScore | null>,
  now: number,
  options: DecisionOptions,
  storedOf: (decision: StoredDecision) => RiskEventRecord | undefined,
): Promise<{ events: (RiskEventRecord | undefined)[]; suppressed: SuppressedCounts; moved: Set<string> }> {
  const events: (RiskEventRecord | undefined)[] = new Array(batch.steps.length).fill(undefined);
  const suppressed: SuppressedCounts = {};
  /** Customers whose memory moved, in the order they first did. */
  const moved = new Set<string>();
  const k = options.reasonsTopK ?? 0;
  // Only events that will be published are explained, after the emit decision, and together per
  // scorer: TreeSHAP explains a batch tree by tree (reasonsMany), cheaper per row than one at a time.
  const toExplain = new Map<ScoringRef, number[]>();
  const pause = createYieldPoint();
  for (let i = 0; i < batch.steps.length; i++) {
    // Awaited only when the slice is over: an `await` of undefined per step still cost a microtask turn.
    const turn = pause();
    if (turn !== undefined) await turn;
    const step = batch.steps[i]!;
    const { event } = step.item;
    if (step.stored !== undefined) {
      // Decided before (its decision was stored ahead of the state): re-emitted as stored, and the
      // memory moves as it did then.
      const prior = storedOf(step.stored);
      if (prior !== undefined) {
        memory.set(event.customerId, lastScoreOf(prior));
        moved.add(event.customerId);
      }
      continue;
    }
    const ref = refOf(i);
    const score = scores[i]!;
    const previous = memory.get(event.customerId) ?? null;
    const decision = decideEmit(policy, previous, score, event.eventTime, ref.decision.bands);
    if (!decision.emit) {
      suppressed[decision.reason] = (suppressed[decision.reason] ?? 0) + 1;
      continue;
    }
    const args: RiskEventArgs = {
      customerId: event.customerId,
      triggerEventId: event.eventId,
      eventTime: event.eventTime,
      processingTime: options.processingTime === 'received' ? step.item.record.receivedAt : now,
      score,
      band: decision.band,
      previousBand: previous?.band ?? null,
      ref,
      experimentArm: options.experiment ? experimentArm(event.customerId, options.experiment.salt, options.experiment.treatmentShare) : null,
    };
    // Built now without reasons (the id and the emit memory do not depend on them); its reasons are
    // added below (withReasons), once the batch's published events are explained together.
    const risk = buildRiskEvent(args);
    events[i] = risk;
    memory.set(event.customerId, lastScoreOf(risk));
    moved.add(event.customerId);
    if (k > 0 && ref.reasons && (!options.reasonsAboveThresholdOnly || score >= ref.decision.threshold)) {
      const group = toExplain.get(ref);
      if (group) group.push(i);
      else toExplain.set(ref, [i]);
    }
  }
  for (const [ref, group] of toExplain) {
    // A share of the rows (the tail) goes to the model's TreeSHAP worker thread first, and this
    // thread explains the rest meanwhile: the same values either way (the same pass, ranked here).
    const off = ref.reasonsOffThread;
    const elsewhere = off && group.length >= OFF_THREAD_MIN_ROWS ? Math.round(group.length * off.share) : 0;
    const here = group.length - elsewhere;
    const tail = group.slice(here);
    const offThread = elsewhere > 0 ? off!.reasons(tail.map((i) => batch.steps[i]!.features), k) : undefined;
    // Awaited below; should this thread's part throw first, its rejection must not go unhandled.
    offThread?.catch(() => {});
    // Chunks, with a yield point between them, so a batch of reasons never holds the loop for long.
    for (let c = 0; c < here; c += REASONS_CHUNK) {
      await pause();
      const chunk = group.slice(c, Math.min(c + REASONS_CHUNK, here));
      const rows = chunk.map((i) => batch.steps[i]!.features);
      const reasons = ref.reasonsMany ? ref.reasonsMany(rows, k) : rows.map((row) => ref.reasons!(row, k));
      chunk.forEach((i, j) => (events[i] = withReasons(events[i]!, reasons[j]!)));
    }
    if (offThread) {
      const reasons = await offThread;
      tail.forEach((i, j) => (events[i] = withReasons(events[i]!, reasons[j]!)));
    }
  }
  return { events, suppressed, moved };
}

/** Each customer whose memory moved in the batch (first-publication order) with its emit memory after the batch. */
function lastScoresOf(moved: ReadonlySet<string>, memory: ReadonlyMap<string, LastScore | null>): { customerId: string; lastScore: LastScore }[] {
  return [...moved].map((customerId) => ({ customerId, lastScore: memory.get(customerId)! }));
}

export async function decideBatch(batch: ScoredBatch, policy: EmitPolicy, clock: Clock, options: DecisionOptions = {}): Promise<DecidedBatch> {
  const now = clock.now();
  const { shadow } = batch;
  // The staged states carry what was stored at load (the transition never touches the emit memory).
  const ownMemory = new Map(batch.staged.map((s) => [s.state.customerId, s.state.lastScore]));
  const own = await decideSteps(batch, batch.scores, (i) => scoredBy(batch, i), policy, ownMemory, now, options, (d) => d.risk);
  const lastScores = lastScoresOf(own.moved, ownMemory);
  let shadowEvents: (RiskEventRecord | undefined)[] | undefined;
  let shadowScores: DecidedBatch['shadowScores'];
  if (shadow) {
    const memory = new Map(batch.staged.map((s) => [s.state.customerId, s.state.shadowScore ?? null]));
    const decided = await decideSteps(batch, shadow.scores, () => shadow.ref, policy, memory, now, { ...options, experiment: undefined }, (d) => d.shadow);
    shadowEvents = decided.events;
    shadowScores = lastScoresOf(decided.moved, memory);
  }

  // New decisions and re-emitted stored ones, merged in arrival order; each new one is stored. Only
  // steps that decided something make an entry (most are suppressed: no object per step for nothing).
  const outbox: OutboxEntry[] = [...batch.refusals];
  const fresh: { order: number; decision: StoredDecision }[] = [];
  for (let i = 0; i < batch.steps.length; i++) {
    const risk = own.events[i];
    const shadowEvent = shadowEvents?.[i];
    if (risk === undefined && shadowEvent === undefined) continue;
    const step = batch.steps[i]!;
    const decision: StoredDecision = { ...(risk ? { risk } : {}), ...(shadowEvent ? { shadow: shadowEvent } : {}) };
    outbox.push({ customerId: step.item.event.customerId, key: outboxKey(step.item.record.position), payload: encodeDecision(decision) });
    fresh.push({ order: step.order, decision });
  }
  const all = batch.replays.length === 0 ? fresh : [...fresh, ...batch.replays].sort((a, b) => a.order - b.order);
  const riskEvents: RiskEventRecord[] = [];
  const shadowOut: RiskEventRecord[] = [];
  for (const { decision } of all) {
    if (decision.risk) riskEvents.push(decision.risk);
    if (decision.shadow) shadowOut.push(decision.shadow);
  }
  return {
    ...batch,
    riskEvents,
    lastScores,
    suppressed: own.suppressed,
    outbox,
    ...(shadowScores ? { shadowScores } : {}),
    ...(shadow || shadowOut.length > 0 ? { shadowEvents: shadowOut } : {}),
  };
}

export function decideRisk(policy: EmitPolicy, clock: Clock, options: DecisionOptions = {}): OperatorFunction<ScoredBatch, DecidedBatch> {
  return concatMap((batch) => decideBatch(batch, policy, clock, options));
}
