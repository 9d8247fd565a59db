// Two Kafka sinks written in one produce request: each record goes to the first sink's topic and a
// record derived from it to the second's (risk events and the current-risk view they change). The
// producer is idempotent with one request in flight, so two writes issued together still cost two
// round trips one after the other; kafkajs' sendBatch puts both topics' partitions on one broker
// into one request, so the pair costs one (≈1 ms of event → risk latency, docs/architecture.md
// "Latency"). Both are acknowledged (acks=all) when write() resolves, as with the sinks alone.
//
// A record the broker refuses for its size is left to the sinks alone: on such a refusal the joint
// write falls back to the two separate writes, which isolate the refused records (OutputTooLargeError
// from the first sink, indexes into the records passed here) exactly as without the pairing. Records
// the refused request did write are written again then: outputs carry deterministic ids, and the
// second topic is compacted by key.
import { CompressionTypes } from 'kafkajs';
import { ChurnflowError, errorMessage } from '../errors.js';
import { recordErrorType } from './kafka-errors.js';
import type { KafkaSink, ProducerLease } from './kafka-sink.js';
import type { RecordSink } from './record-sink.js';

export function jointKafkaSink<T, U>(pool: ProducerLease, first: KafkaSink<T>, second: KafkaSink<U>, derive: (record: T) => U): RecordSink<T> {
  return {
    // The first sink's name: refusals (dead letters' details) read the same as without the pairing.
    name: first.name,
    async write(records) {
      if (records.length === 0) return;
      const derived = records.map(derive);
      const topicMessages = await Promise.all([first.messages(records), second.messages(derived)]);
      let refused = false;
      try {
        await pool.use(async (producer) => {
          try {
            await producer.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.None });
          } catch (err) {
            // kafkajs rolled back the sequence numbers of every partition in the request: a new producer id starts over.
            if (recordErrorType(err) !== null) pool.retire(producer);
            throw err;
          }
        });
      } catch (err) {
        if (recordErrorType(err) === null) {
          throw new ChurnflowError('CF_SINK_FAILED', `producing ${records.length} records to ${first.topic} and ${second.topic} failed: ${errorMessage(err)}`, { cause: err, retriable: true });
        }
        refused = true;
      }
      if (!refused) return;
      // Both writes run to their end (the second's records are written even when some of the first's are refused, as when unpaired).
      const [a, b] = await Promise.allSettled([first.write(records), second.write(derived)]);
      if (b.status === 'rejected') throw b.reason;
      if (a.status === 'rejected') throw a.reason;
    },
    async flush() {
      await Promise.all([first.flush(), second.flush()]);
    },
    async close() {
      await Promise.all([first.close(), second.close()]);
    },
  };
}
