// Broker errors about the records themselves are not retriable: the batch retry would stall every
// partition on them (MESSAGE_TOO_LARGE was a retriable CF_SINK_FAILED: ~260 s, then exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { isRetriable } from '../../../src/errors.js';
import { recordErrorType } from '../../../src/sinks/kafka-errors.js';
import { OutputTooLargeError } from '../../../src/sinks/output-too-large.js';
import { sendIsolatingRefused } from '../../../src/sinks/send-isolating-refused.js';

const { KafkaJSAggregateError, KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;

/** A protocol error as kafkajs builds it from a broker response code. */
const protocolError = (type: string, code: number, retriable: boolean) => new KafkaJSProtocolError({ type, code, retriable, message: `broker said ${type}` } as unknown as Error);

test('size- and shape-class broker errors are recognised, also wrapped by kafkajs retries or aggregated; others are not', () => {
  assert.equal(recordErrorType(protocolError('MESSAGE_TOO_LARGE', 10, false)), 'MESSAGE_TOO_LARGE');
  assert.equal(recordErrorType(protocolError('RECORD_LIST_TOO_LARGE', 18, false)), 'RECORD_LIST_TOO_LARGE');
  assert.equal(recordErrorType(protocolError('INVALID_RECORD', 87, false)), 'INVALID_RECORD');
  const corrupt = protocolError('CORRUPT_MESSAGE', 2, true);
  assert.equal(recordErrorType(new KafkaJSNumberOfRetriesExceeded(corrupt, { retryCount: 5, retryTime: 1000 })), 'CORRUPT_MESSAGE');
  assert.equal(recordErrorType(new KafkaJSAggregateError('two brokers failed', [new KafkaJSConnectionError('closed'), protocolError('MESSAGE_TOO_LARGE', 10, false)])), 'MESSAGE_TOO_LARGE');
  assert.equal(recordErrorType(protocolError('NOT_LEADER_FOR_PARTITION', 6, true)), null);
  assert.equal(recordErrorType(new KafkaJSConnectionError('Connection timeout')), null);
  assert.equal(recordErrorType(new Error('boom')), null);
});

test('OutputTooLargeError is not retriable and names the refused records', () => {
  const err = new OutputTooLargeError('kafka:risk', [3, 7], protocolError('MESSAGE_TOO_LARGE', 10, false));
  assert.equal(isRetriable(err), false);
  assert.equal(err.code, 'CF_OUTPUT_TOO_LARGE');
  assert.deepEqual(err.indexes, [3, 7]);
});

test('a batch with refused records is split until they are alone; every other record is written', async () => {
  const written: number[] = [];
  let sends = 0;
  // A broker that refuses any request holding a message over 10 "bytes".
  const send = async (batch: number[]) => {
    sends++;
    if (batch.some((size) => size > 10)) throw protocolError('MESSAGE_TOO_LARGE', 10, false);
    written.push(...batch);
  };
  const sizes = Array.from({ length: 64 }, (_, i) => (i === 5 || i === 40 ? 100 + i : i % 10));
  const refusals: unknown[] = [];
  const refused = await sendIsolatingRefused(send, sizes, 0, (e) => refusals.push(e));
  assert.deepEqual(refused, [5, 40]);
  assert.equal(refusals.length, 2);
  assert.deepEqual(written.sort((a, b) => a - b), sizes.filter((s) => s <= 10).sort((a, b) => a - b), 'each good record written once');
  assert.ok(sends <= 1 + 2 * 2 * Math.log2(64), `${sends} sends`);
});

test('any other failure is thrown as it is (the batch retry handles it)', async () => {
  const send = async () => {
    throw new KafkaJSConnectionError('Connection closed');
  };
  await assert.rejects(sendIsolatingRefused(send, [1, 2, 3], 0, () => {}), /Connection closed/);
});
