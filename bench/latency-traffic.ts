// The traffic of one latency phase (bench/latency-phase.ts), in a worker thread of its own: the
// producer that offers the live events at a fixed rate and the consumer that reads the risk events
// back. Users run neither inside the engine's process; run on the engine's event loop (as the bench
// did until 2026-12-05) every send, every produce acknowledgement and every risk event read back
// took turns with the engine's batches, and the engine's synchronous work delayed the sends' and
// reads' timestamps — latency a user would not see. Here they have their own event loop (the
// machine's cores are still shared, as with a producer on the same host).
//
// Protocol: workerData = TrafficInput; the worker posts 'reader-running' once its consumer runs, waits
// for 'start', offers every event, posts 'sent', and on 'finish' stops and posts its TrafficResult.
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { Kafka, logLevel, type RecordMetadata } from 'kafkajs';
import { parseWireFormat } from '../src/serde/registry-decoder.js';

export interface TrafficInput {
  readonly brokers: readonly string[];
  readonly liveTopic: string;
  readonly riskTopic: string;
  readonly readerGroup: string;
  readonly rate: number;
  /** The live events, already encoded (wire format), in offer order. */
  readonly events: readonly { readonly id: string; readonly key: string; readonly value: Uint8Array }[];
}

export interface TrafficResult {
  /** Wall time each event was handed to the producer, in offer order. */
  readonly sentAt: Float64Array;
  /** Each event's tick (one produce request per tick). */
  readonly tickOf: Int32Array;
  /** Per tick: the broker's LogAppendTime per partition ([partition, time] pairs). */
  readonly appendedByTick: readonly (readonly [number, number])[][];
  /** Per risk event read back: its trigger event id, when it was read, and its LogAppendTime. */
  readonly reads: readonly { readonly id: string; readonly read: number; readonly appended: number }[];
  /** Seconds from the first tick to the last send's acknowledgement. */
  readonly offerSeconds: number;
}

/** Wall clock with sub-millisecond resolution, comparable across threads and with LogAppendTime (same host). */
const wallNow = () => performance.timeOrigin + performance.now();
const TICK_MS = 10; // small sends, so the load is smooth and a latency is not a 50 ms burst's queue

async function main(input: TrafficInput): Promise<void> {
  const port = parentPort!;
  const kafka = new Kafka({ clientId: 'cf-bench-traffic', brokers: [...input.brokers], logLevel: logLevel.NOTHING });
  // The load generator's producer as before: idempotent, one request in flight, acks=all, no linger.
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const riskSchema = avro.Type.forSchema(JSON.parse(readFileSync('schemas/risk-event.avsc', 'utf8')) as avro.Schema);
  const reads: { id: string; read: number; appended: number }[] = [];
  const reader = kafka.consumer({ groupId: input.readerGroup });
  await reader.connect();
  await reader.subscribe({ topic: input.riskTopic, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const read = wallNow();
      const r = riskSchema.fromBuffer(parseWireFormat(message.value).body) as { trigger_event_id: string };
      reads.push({ id: r.trigger_event_id, read, appended: Number(message.timestamp) });
    },
  });
  const started = new Promise<void>((resolve) => port.once('message', () => resolve()));
  port.postMessage('reader-running');
  await started;
  const finish = new Promise<void>((resolve) => port.once('message', () => resolve()));

  const n = input.events.length;
  const sentAt = new Float64Array(n).fill(Number.NaN);
  const tickOf = new Int32Array(n);
  const appendedByTick: [number, number][][] = [];
  const startedAt = performance.now();
  let producedUntil = startedAt;
  // Each tick sends every event due by now: a send that took long is caught up at the next one, so
  // the offered rate holds. Latency counts from the actual send.
  for (let i = 0, tick = 0; i < n; ) {
    const due = Math.min(n, Math.ceil(((performance.now() - startedAt) / 1000) * input.rate));
    if (due > i) {
      const from = i;
      i = due;
      const t = wallNow();
      const messages = [];
      for (let k = from; k < due; k++) {
        sentAt[k] = t;
        tickOf[k] = tick;
        messages.push({ key: input.events[k]!.key, value: Buffer.from(input.events[k]!.value) });
      }
      const meta: RecordMetadata[] = await producer.send({ topic: input.liveTopic, messages });
      appendedByTick[tick++] = meta.map((m) => [m.partition, Number(m.logAppendTime)]);
      producedUntil = performance.now();
    }
    if (i < n) await new Promise((r) => setTimeout(r, TICK_MS - ((performance.now() - startedAt) % TICK_MS)));
  }
  port.postMessage('sent');
  await finish;
  await reader.disconnect();
  await producer.disconnect();
  const result: TrafficResult = { sentAt, tickOf, appendedByTick, reads, offerSeconds: (producedUntil - startedAt) / 1000 };
  port.postMessage(result);
}

if (parentPort) await main(workerData as TrafficInput);
