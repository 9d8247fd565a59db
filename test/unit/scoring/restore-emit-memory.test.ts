// Decisions stored ahead of their states (HotCachedStore.writeDecisions): finding the one stored for a
// record, the emit memory it leaves, the last published score a lookup answers, and a hash holding
// decisions but no state yet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RiskEventRecord } from '../../../src/events/wire-types.js';
import { compileSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import { lastScoreOf } from '../../../src/scoring/current-risk.js';
import { hasDecisionsAhead, publishedLastScore, restoreEmitMemory, storedDecisionAt, trailsStoredDecisions } from '../../../src/scoring/restore-emit-memory.js';
import { encodeDecision } from '../../../src/scoring/stored-decision.js';
import { emptyState, outboxKey, type CustomerState, type StateDelta } from '../../../src/state/customer-state.js';
import { decodeStoredHash } from '../../../src/state/redis-store.js';

function risk(id: string, score: number, eventTime: number): RiskEventRecord {
  return { event_id: id, customer_id: 'c1', score, band: score >= 0.5 ? 'high' : 'low', model_name: 'm', model_version: '1', event_time: eventTime } as unknown as RiskEventRecord;
}

const at = (offset: number, stream = 'activity/0') => ({ stream, offset });
const delta = (offset: number): StateDelta => ({ customerId: 'c1', eventId: `e${offset}`, eventTime: offset, position: at(offset), ops: [] });

function stateWith(entries: [number, string][], applied?: number): CustomerState {
  const s = emptyState('c1');
  for (const [offset, text] of entries) s.outbox[outboxKey(at(offset))] = text;
  if (applied !== undefined) s.positions['activity/0'] = applied;
  return s;
}

test('storedDecisionAt finds the decision stored for a record, and nothing for a record without one', () => {
  const r = risk('r5', 0.7, 5);
  const s = stateWith([[5, encodeDecision({ risk: r })]]);
  assert.deepEqual(storedDecisionAt(s, at(5)), { risk: r });
  assert.equal(storedDecisionAt(s, at(6)), undefined);
  assert.equal(storedDecisionAt(s, at(5, 'activity/1')), undefined, 'another stream, same offset');
  assert.equal(storedDecisionAt(emptyState('c1'), at(5)), undefined);
});

test('hasDecisionsAhead: only an entry beyond the state\'s position in its stream (or of a stream it never applied) counts', () => {
  const text = encodeDecision({ risk: risk('r5', 0.7, 5) });
  assert.equal(hasDecisionsAhead(emptyState('c1')), false);
  assert.equal(hasDecisionsAhead(stateWith([[5, text], [3, text]], 5)), false, 'entries of applied records');
  assert.equal(hasDecisionsAhead(stateWith([[5, text], [6, text]], 5)), true);
  assert.equal(hasDecisionsAhead(stateWith([[5, text]])), true, 'nothing applied yet (a hash of decisions only)');
  const other = stateWith([[5, text]], 9);
  other.outbox[outboxKey(at(2, 'activity/1'))] = text;
  assert.equal(hasDecisionsAhead(other), true, 'another stream the state never applied');
});

test('trailsStoredDecisions follows a state read with decisions ahead of it from batch to batch until it caught up; a state never read is not checked', () => {
  const text = encodeDecision({ risk: risk('r7', 0.7, 7) });
  const s = stateWith([[7, text]], 5);
  assert.equal(trailsStoredDecisions(stateWith([[7, text]], 5), false), false, 'handed over by the cache, never read: not checked');
  assert.equal(trailsStoredDecisions(s, true), true, 'read from Redis with an entry ahead');
  assert.equal(trailsStoredDecisions(s, false), true, 'the same object in a later batch');
  s.positions['activity/0'] = 7;
  assert.equal(trailsStoredDecisions(s, false), false, 'caught up');
  s.outbox[outboxKey(at(9))] = text;
  assert.equal(trailsStoredDecisions(s, false), false, 'not followed any more: entries it decides itself are never ahead');
});

test('restoreEmitMemory leaves the memory the stored decision left: the risk event as last score, the shadow one as shadow score', () => {
  const r = risk('r5', 0.7, 5);
  const sh = risk('s5', 0.2, 5);
  const s = stateWith([[5, encodeDecision({ risk: r, shadow: sh })], [7, encodeDecision({ beforeSignup: true })]]);
  restoreEmitMemory(s, delta(4));
  assert.equal(s.lastScore, null, 'no decision at offset 4: unchanged');
  restoreEmitMemory(s, delta(5));
  assert.deepEqual(s.lastScore, lastScoreOf(r));
  assert.deepEqual(s.shadowScore, lastScoreOf(sh));
  restoreEmitMemory(s, delta(7));
  assert.deepEqual(s.lastScore, lastScoreOf(r), 'a refusal publishes nothing');
});

test('publishedLastScore: the state\'s own, unless risk events were stored for records after its positions; then the latest of those', () => {
  const own = lastScoreOf(risk('r2', 0.3, 2));
  const behind = stateWith([[2, encodeDecision({ risk: risk('r2', 0.3, 2) })]], 3);
  behind.lastScore = own;
  assert.deepEqual(publishedLastScore(behind), own, 'entries within the positions are in the state already');
  const ahead = stateWith([[2, encodeDecision({ risk: risk('r2', 0.3, 2) })], [9, encodeDecision({ risk: risk('r9', 0.8, 9) })], [6, encodeDecision({ risk: risk('r6', 0.6, 6) })], [11, encodeDecision({ beforeSignup: true })]], 3);
  ahead.lastScore = own;
  assert.deepEqual(publishedLastScore(ahead), lastScoreOf(risk('r9', 0.8, 9)), 'the highest offset with a risk event');
  const fresh = stateWith([[4, encodeDecision({ risk: risk('r4', 0.9, 4) })]]);
  assert.deepEqual(publishedLastScore(fresh), lastScoreOf(risk('r4', 0.9, 4)), 'no state written yet');
  assert.equal(publishedLastScore(emptyState('c1')), null);
});

test('a hash holding decisions and a version but no state yet reads as an empty state with that outbox; a hash with neither b nor a version is refused', () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);
  const text = encodeDecision({ risk: risk('r4', 0.9, 4) });
  const fields = new Map([['v', Buffer.from('1')], [`o:${outboxKey(at(4))}`, Buffer.from(text)]]);
  const state = decodeStoredHash('c1', fields, spec.layout.merges);
  assert.deepEqual(state, { ...emptyState('c1'), outbox: { [outboxKey(at(4))]: text } });
  assert.throws(() => decodeStoredHash('c1', new Map([[`o:${outboxKey(at(4))}`, Buffer.from(text)]]), spec.layout.merges), /neither the binary state field b/);
  assert.throws(() => decodeStoredHash('c1', new Map([['v', Buffer.from('1')], ['x', Buffer.from('?')]]), spec.layout.merges), /neither the binary state field b/);
});
