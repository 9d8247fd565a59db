// A risk event (or dead letter) that its sink refuses for its size never fails the batch: the input
// goes to the dead-letter output as OUTPUT_TOO_LARGE, everything else is written, the batch goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeBatchOutputs } from '../../../src/operators/write-outputs.js';
import type { DecidedBatch } from '../../../src/operators/batch.js';
import { reject, type Accepted } from '../../../src/events/routed.js';
import type { CurrentRiskRecord, DeadLetterRecord, RiskEventRecord } from '../../../src/events/wire-types.js';
import { currentRiskRecord, lastScoreOf } from '../../../src/scoring/current-risk.js';
import { DEFAULT_DEAD_LETTER_LIMITS } from '../../../src/events/dead-letter.js';
import { isRetriable } from '../../../src/errors.js';
import { limitDeadLetterSinks } from '../../../src/sinks/limit-dead-letters.js';
import { OutputTooLargeError } from '../../../src/sinks/output-too-large.js';
import { toJsonLine, type RecordSink } from '../../../src/sinks/record-sink.js';
import { ev, raw } from '../../helpers/events.js';

/** An in-memory sink with a broker-like size limit: writes what fits, names what does not. */
function limitedSink<T>(name: string, maxBytes: number): RecordSink<T> & { readonly written: T[] } {
  const written: T[] = [];
  return {
    name,
    written,
    async write(records) {
      const refused: number[] = [];
      records.forEach((r, i) => (Buffer.byteLength(toJsonLine(r)) > maxBytes ? refused.push(i) : written.push(r)));
      if (refused.length > 0) throw new OutputTooLargeError(name, refused, Object.assign(new Error('too large'), { type: 'MESSAGE_TOO_LARGE' }));
    },
    async flush() {},
    async close() {},
  };
}

const accepted = (customerId: string, offset: number): Accepted => {
  const event = ev('login', customerId, 1000 + offset, { device: 'web', success: true }, `e${offset}`);
  return { tag: 'accepted', record: raw({ customer_id: customerId }, offset, 'kafka:activity/0'), event };
};
const riskOf = (a: Accepted): RiskEventRecord => ({
  event_id: `r-${a.event.eventId}`, customer_id: a.event.customerId, score: 0.9, band: 'high', previous_band: null, threshold: 0.5, above_threshold: true,
  model_name: 'm', model_version: '1.0.0', scorer: 'onnx', experiment_arm: null, reasons: [], trigger_event_id: a.event.eventId, event_time: a.event.eventTime, processing_time: 0,
});

function batchOf(items: Accepted[], extraRejected = [reject(raw('garbage', 99, 'kafka:activity/0'), 'dead-letter', 'DECODE_JSON', 'bad json')]): DecidedBatch {
  return {
    items: [...items, ...extraRejected],
    rejected: extraRejected,
    steps: items.map((item, order) => ({ item, order, outcome: 'applied' as const, features: new Float64Array(1), stored: undefined })),
    replays: [],
    staged: [],
    refusals: [],
    duplicates: { redelivered: 0, sameEventId: 0 },
    outbox: [],
    scores: new Float32Array(items.length),
    model: { name: 'm', version: '1.0.0', scorer: 'onnx' } as unknown as DecidedBatch['model'],
    riskEvents: items.map(riskOf),
    lastScores: [],
    suppressed: {},
  };
}

test('a refused risk event sends its input to the dead-letter output as OUTPUT_TOO_LARGE; the rest is written and counted', async () => {
  const items = [accepted('c1', 1), accepted('c'.repeat(2000), 2), accepted('c3', 3)];
  const risk = limitedSink<RiskEventRecord>('kafka:risk', 1000);
  const dead = limitedSink<DeadLetterRecord>('kafka:dead', 100_000);
  const sinks = limitDeadLetterSinks({ risk, deadLetter: dead, late: dead }, DEFAULT_DEAD_LETTER_LIMITS);
  const out = await writeBatchOutputs(batchOf(items), sinks);
  assert.deepEqual(risk.written.map((r) => r.customer_id), ['c1', 'c3']);
  assert.deepEqual(dead.written.map((d) => [d.reason_code, d.source]), [['DECODE_JSON', 'kafka:activity/0@99'], ['OUTPUT_TOO_LARGE', 'kafka:activity/0@2']]);
  assert.match(dead.written[1]!.reason_detail, /risk event .* larger than kafka:risk accepts \(MESSAGE_TOO_LARGE\)/);
  assert.deepEqual(out.rejected.map((r) => r.code), ['DECODE_JSON', 'OUTPUT_TOO_LARGE'], 'counted with the other dead letters');
});

test('risk and shadow both refused: one dead letter for the input', async () => {
  const items = [accepted('c'.repeat(2000), 1)];
  const risk = limitedSink<RiskEventRecord>('kafka:risk', 1000);
  const shadow = limitedSink<RiskEventRecord>('kafka:shadow', 1000);
  const dead = limitedSink<DeadLetterRecord>('kafka:dead', 100_000);
  const batch = { ...batchOf(items, []), shadowEvents: items.map(riskOf) };
  await writeBatchOutputs(batch, limitDeadLetterSinks({ risk, deadLetter: dead, late: dead, shadow }, DEFAULT_DEAD_LETTER_LIMITS));
  assert.deepEqual(dead.written.map((d) => d.reason_code), ['OUTPUT_TOO_LARGE']);
});

test('a re-emitted stored risk event the sink refuses dead-letters its redelivered input too (no step, a replay)', async () => {
  const item = accepted('c'.repeat(2000), 4);
  const risk = limitedSink<RiskEventRecord>('kafka:risk', 1000);
  const dead = limitedSink<DeadLetterRecord>('kafka:dead', 100_000);
  const batch = { ...batchOf([], []), items: [item], replays: [{ item, order: 0, decision: { risk: riskOf(item) } }], riskEvents: [riskOf(item)] };
  await writeBatchOutputs(batch, limitDeadLetterSinks({ risk, deadLetter: dead, late: dead }, DEFAULT_DEAD_LETTER_LIMITS));
  assert.deepEqual(dead.written.map((d) => [d.reason_code, d.source]), [['OUTPUT_TOO_LARGE', 'kafka:activity/0@4']]);
});

test('a dead letter its sink still refuses is written without its bytes; a sink refusing even that fails the batch, not retriably', async () => {
  const items = [accepted('c1', 1)];
  const big = reject(raw('x'.repeat(5000), 7, 'kafka:activity/0'), 'dead-letter', 'DECODE_JSON', 'bad json');
  const dead = limitedSink<DeadLetterRecord>('kafka:dead', 2000);
  const risk = limitedSink<RiskEventRecord>('kafka:risk', 10_000);
  await writeBatchOutputs(batchOf(items, [big]), limitDeadLetterSinks({ risk, deadLetter: dead, late: dead }, DEFAULT_DEAD_LETTER_LIMITS));
  assert.equal(dead.written.length, 1);
  assert.deepEqual([dead.written[0]!.payload.length, dead.written[0]!.payload_bytes, dead.written[0]!.truncated, dead.written[0]!.reason_code], [0, 5000, true, 'DECODE_JSON']);

  const tiny = limitedSink<DeadLetterRecord>('kafka:tiny', 10);
  const err = await writeBatchOutputs(batchOf(items, [big]), limitDeadLetterSinks({ risk, deadLetter: tiny, late: tiny }, DEFAULT_DEAD_LETTER_LIMITS)).catch((e: unknown) => e);
  assert.ok(err instanceof Error && /refuses even a dead letter without payload/.test(err.message) && !isRetriable(err), String(err));
});

test('every risk event, new or re-emitted, writes its current-risk record in the same order; the view equals the stored last score', async () => {
  const items = [accepted('c1', 1), accepted('c2', 2), accepted('c1', 3)];
  const risk = limitedSink<RiskEventRecord>('kafka:risk', 100_000);
  const current = limitedSink<CurrentRiskRecord>('kafka:current-risk', 100_000);
  const dead = limitedSink<DeadLetterRecord>('kafka:dead', 100_000);
  const batch = batchOf(items);
  await writeBatchOutputs(batch, { risk, deadLetter: dead, late: dead, currentRisk: current });
  assert.deepEqual(current.written.map((r) => [r.customer_id, r.risk_event_id]), batch.riskEvents.map((e) => [e.customer_id, e.event_id]));
  const e = batch.riskEvents[2]!;
  assert.deepEqual(current.written[2], { customer_id: 'c1', score: e.score, band: e.band, model_name: 'm', model_version: '1.0.0', event_time: e.event_time, risk_event_id: e.event_id });
  assert.deepEqual(currentRiskRecord('c1', lastScoreOf(e)), current.written[2], 'the HTTP lookup (from state.lastScore) and the topic show the same record');
  // Without a current-risk sink nothing else changes.
  const plain = limitedSink<RiskEventRecord>('kafka:risk', 100_000);
  await writeBatchOutputs(batchOf(items), { risk: plain, deadLetter: dead, late: dead });
  assert.equal(plain.written.length, 3);
});
