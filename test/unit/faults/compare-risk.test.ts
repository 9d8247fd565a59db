// The verdict of the fault harness: each kind of divergence is counted where it belongs, and a run
// identical to the reference (processing_time aside) counts nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RiskEventRecord } from '../../../src/events/wire-types.js';
import { compareRisk, riskLine, type RiskMessage } from '../../faults/compare-risk.js';

function risk(id: string, over: Partial<RiskEventRecord> = {}): RiskEventRecord {
  return {
    event_id: id, customer_id: 'c1', score: 0.5, band: 'high', previous_band: 'low', threshold: 0.3, above_threshold: true,
    model_name: 'm', model_version: '1.0.0', scorer: 'model', experiment_arm: null,
    reasons: [{ feature: 'logins_30d', value: 2, contribution: 0.4 }] as unknown as RiskEventRecord['reasons'],
    trigger_event_id: `t-${id}`, event_time: 1_000, processing_time: 5_000, ...over,
  };
}
// Stands in for the wire bytes: equal records, equal bytes.
const msg = (r: RiskEventRecord): RiskMessage => ({ value: r, raw: Buffer.from(JSON.stringify(r)) });

test('a fault run equal to the reference but for processing_time counts nothing', () => {
  const ref = ['a', 'b', 'c'].map((id) => msg(risk(id)));
  const run = ['c', 'a', 'b'].map((id) => msg(risk(id, { processing_time: 9_999 })));
  const c = compareRisk(ref, run);
  assert.deepEqual({ ...c, examples: c.examples.length }, { expected: 3, missing: 0, extra: 0, different: 0, identicalDuplicates: 0, examples: 0 });
  assert.equal(riskLine(c), 'faults: expected 3 risk events; missing 0, extra 0, different 0, identical duplicates 0');
});

test('missing, extra, a changed field and byte-identical duplicates are each counted', () => {
  const ref = ['a', 'b', 'c', 'd'].map((id) => msg(risk(id)));
  const a = msg(risk('a', { processing_time: 1 }));
  const run = [a, a, a, msg(risk('b', { score: 0.51 })), msg(risk('c', { band: 'medium', reasons: [] })), msg(risk('x'))];
  const c = compareRisk(ref, run);
  assert.equal(c.missing, 1, 'd');
  assert.equal(c.extra, 1, 'x');
  assert.equal(c.different, 2, 'b and c');
  assert.equal(c.identicalDuplicates, 2, 'two more copies of a');
  assert.ok(c.examples.some((e) => e.includes('missing d')));
  assert.ok(c.examples.some((e) => e.includes('extra x')));
  assert.ok(c.examples.some((e) => e.includes('b vs reference: score: 0.5 → 0.51')), c.examples.join('\n'));
});

test('copies of one id that are not byte-identical count as different, even with the reference content', () => {
  const ref = [msg(risk('a'))];
  // Same content as the reference, but the redelivery re-encoded a fresh processing_time.
  const run = [msg(risk('a', { processing_time: 1 })), msg(risk('a', { processing_time: 2 }))];
  const c = compareRisk(ref, run);
  assert.equal(c.different, 1);
  assert.equal(c.identicalDuplicates, 0);
  assert.match(c.examples.join('\n'), /a copies differ: processing_time: 1 → 2/);
});

test('a reference with two copies of an id is refused: it must be an uninterrupted run', () => {
  assert.throws(() => compareRisk([msg(risk('a')), msg(risk('a'))], []), /published risk event a twice/);
});
