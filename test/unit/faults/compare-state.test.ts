// State comparison of the fault harness: only the outbox (delivery bookkeeping) may differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CustomerState } from '../../../src/state/customer-state.js';
import { compareStates, stateLine } from '../../faults/compare-state.js';

function st(id: string, over: Record<string, unknown> = {}): CustomerState {
  return { customerId: id, buckets: { '100': { s0: 1 } }, archive: {}, maxEventTime: 9, positions: { 't/0': 4 }, lastScore: null, outbox: {}, recentEvents: [], ...over } as CustomerState;
}
const byId = (...s: CustomerState[]) => new Map(s.map((x) => [x.customerId, x]));

test('equal states match whatever their key order; an outbox may differ', () => {
  const c = compareStates(byId(st('a'), st('b', { outbox: { 't/0@3': '{}' } })), byId(st('b', { outbox: {} }), { ...st('a'), positions: { 't/0': 4 } }));
  assert.deepEqual(c, { customers: 2, mismatched: 0, examples: [] });
  assert.equal(stateLine(c), 'faults: state customers 2, mismatched 0');
});

test('a different lastScore, bucket or a customer on one side only is a mismatch', () => {
  const c = compareStates(
    byId(st('a'), st('b'), st('c')),
    byId(st('a', { lastScore: { score: 0.1, band: 'low', eventTime: 1, modelVersion: '1' } }), st('b', { buckets: { '100': { s0: 2 } } }), st('d')),
  );
  assert.equal(c.customers, 4);
  assert.equal(c.mismatched, 4);
  assert.match(c.examples.join('\n'), /state a: lastScore: null →/);
  assert.match(c.examples.join('\n'), /state c: missing in the fault run/);
  assert.match(c.examples.join('\n'), /state d: absent from the reference/);
});
