// Decisions may be stored ahead of the state that made them (HotCachedStore.writeDecisions: a decided
// customer's outbox entries are written before its outputs, its state later, with write-behind). A
// state read back from the store then trails them: its positions stop before records whose decisions
// are stored, and its emit memory (lastScore, shadowScore) is the one from before those decisions.
// Applying such a record again must leave the memory its stored decision left, exactly as deciding it
// did the first time: every later event of the customer is decided against that memory.
import type { RiskEventRecord } from '../events/wire-types.js';
import type { CustomerState, StateDelta } from '../state/customer-state.js';
import { outboxKey, outboxKeyOffset, outboxKeyStream } from '../state/customer-state.js';
import type { SourcePosition } from '../events/activity-event.js';
import { lastScoreOf } from './current-risk.js';
import { decodeDecision, type StoredDecision } from './stored-decision.js';

/** The decision stored for the record at `position`, if the state holds one. */
export function storedDecisionAt(state: Readonly<CustomerState>, position: SourcePosition): StoredDecision | undefined {
  const text = state.outbox[outboxKey(position)];
  return text === undefined ? undefined : decodeDecision(text);
}

/**
 * States read from Redis with decisions ahead of them, until they have applied those records. Keyed by
 * the state object itself: the hot cache hands the very same object from batch to batch (and a state
 * read again is a new object, checked again), so a customer's later batches find it here.
 */
const trailing = new WeakSet<CustomerState>();

/**
 * Whether a record of this customer applied anew may find a decision stored for it (the state trails
 * decisions stored ahead of it). Checked once per customer and batch, and only for a state read from
 * Redis (`read`) or found trailing before: a state the engine decided itself holds no decision ahead of
 * it, so the events of every other customer skip the lookup (a for-in over an outbox of many entries
 * per event was 3.5 % of the engine's CPU; checking every customer of every batch, 1 %).
 */
export function trailsStoredDecisions(state: CustomerState, read: boolean): boolean {
  if (!read && !trailing.has(state)) return false;
  const ahead = hasDecisionsAhead(state);
  if (ahead) trailing.add(state);
  else trailing.delete(state);
  return ahead;
}

/** Whether the state holds a decision for a record it has not applied (an outbox entry beyond its position in that stream). */
export function hasDecisionsAhead(state: Readonly<CustomerState>): boolean {
  for (const key in state.outbox) {
    const applied = state.positions[outboxKeyStream(key)];
    if (applied === undefined || outboxKeyOffset(key) > applied) return true;
  }
  return false;
}

/** The emit memory a stored decision leaves: what deciding it did to lastScore and shadowScore. */
export function applyStoredDecision(state: CustomerState, decision: StoredDecision): void {
  if (decision.risk) state.lastScore = lastScoreOf(decision.risk);
  if (decision.shadow) state.shadowScore = lastScoreOf(decision.shadow);
}

/** For a delta just applied anew to `state` (not a redelivery): the emit memory of its stored decision, if any. */
export function restoreEmitMemory(state: CustomerState, delta: StateDelta): void {
  const decision = storedDecisionAt(state, delta.position);
  if (decision !== undefined) applyStoredDecision(state, decision);
}

/**
 * The customer's last published score as the store holds it: the state's own, unless decisions were
 * stored ahead of the state (records after its positions with a risk event), then the latest of those
 * (the highest offset; across streams, the latest event time). What the customer lookup answers, so it
 * is current on every instance, not only on the one holding the pending state.
 */
export function publishedLastScore(state: Readonly<CustomerState>): CustomerState['lastScore'] {
  let best: { offset: number; stream: string; risk: RiskEventRecord } | undefined;
  for (const key in state.outbox) {
    const stream = outboxKeyStream(key);
    const offset = outboxKeyOffset(key);
    const applied = state.positions[stream];
    if (applied !== undefined && offset <= applied) continue; // in the state already
    const { risk } = decodeDecision(state.outbox[key]!);
    if (risk === undefined) continue;
    const later = best === undefined || (best.stream === stream ? offset > best.offset : risk.event_time > best.risk.event_time);
    if (later) best = { offset, stream, risk };
  }
  return best === undefined ? state.lastScore : lastScoreOf(best.risk);
}
