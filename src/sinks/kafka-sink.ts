// Kafka sink: an idempotent kafkajs producer. write() resolves once the broker acknowledged every
// message (acks=all), after kafkajs' own retries; a failure after that surfaces as a retriable
// CF_SINK_FAILED, and since offsets are committed only after acknowledgement, nothing is lost.
// A record the broker refuses for its size is different: retrying can never help, so the batch is
// split until the refused records are isolated, the rest is written, and OutputTooLargeError names them.
import { CompressionTypes, Kafka, type IHeaders, type Message, type Producer, type TopicMessages } from 'kafkajs';
import { kafkaClientConfig, type KafkaConnection } from '../config/kafka-client-config.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import { recordErrorType } from './kafka-errors.js';
import { OutputTooLargeError } from './output-too-large.js';
import { sendIsolatingRefused } from './send-isolating-refused.js';
import type { RecordEncoder } from '../serde/record-encoder.js';
import type { RecordSink } from './record-sink.js';

/** Brokers, TLS and SASL (config `kafka`), and the client id. */
export interface KafkaProducerOptions extends KafkaConnection {
  readonly clientId: string;
}

export interface KafkaSinkOptions<T> {
  readonly topic: string;
  readonly encoder: RecordEncoder<T>;
  readonly key: (record: T) => string | Buffer | null;
  readonly headers?: (record: T) => IHeaders;
}

/** What a sink needs of the producer pool: a producer to send with, and a way to replace it after a refusal. */
export interface ProducerLease {
  use<R>(fn: (producer: Producer) => Promise<R>): Promise<R>;
  retire(producer: Producer): void;
}

/** One producer shared by the sinks of an engine (one connection, one idempotence session). */
export class KafkaProducerPool implements ProducerLease {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  private readonly users = new Map<Producer, number>();
  private readonly retired = new Set<Producer>();

  constructor(private readonly options: KafkaProducerOptions) {}

  get(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const kafka = new Kafka(kafkaClientConfig(this.options, this.options.clientId, { initialRetryTime: 300, retries: 10, maxRetryTime: 10_000 }));
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
      return p;
    })();
    return this.connecting;
  }

  /** Runs fn with the current producer; a producer retired meanwhile is disconnected once its last user is done. */
  async use<R>(fn: (producer: Producer) => Promise<R>): Promise<R> {
    const p = await this.get();
    this.users.set(p, (this.users.get(p) ?? 0) + 1);
    try {
      return await fn(p);
    } finally {
      const left = this.users.get(p)! - 1;
      if (left > 0) this.users.set(p, left);
      else {
        this.users.delete(p);
        if (this.retired.delete(p)) await p.disconnect().catch(() => undefined);
      }
    }
  }

  /**
   * Replaces the producer for later sends. After a request the broker refused in part, kafkajs rolls
   * back the sequence numbers of every partition in it, also of those the broker accepted: the next
   * send to those would be out of order (or, worse, taken for a duplicate). A new producer id starts over.
   */
  retire(producer: Producer): void {
    if (this.producer !== producer) return;
    this.producer = undefined;
    this.connecting = undefined;
    this.retired.add(producer);
  }

  async close(): Promise<void> {
    const p = this.producer ?? (this.connecting ? await this.connecting.catch(() => undefined) : undefined);
    this.producer = undefined;
    this.connecting = undefined;
    const retired = [...this.retired];
    this.retired.clear();
    await Promise.all([p?.disconnect(), ...retired.map((r) => r.disconnect().catch(() => undefined))]);
  }
}

/** A Kafka sink that can also hand its records over as topic messages, for a request shared with other sinks (joint-kafka-sink.ts). */
export interface KafkaSink<T> extends RecordSink<T> {
  readonly topic: string;
  /** The records encoded as this sink's messages (the encoder prepared first). */
  messages(records: readonly T[]): Promise<TopicMessages>;
}

export function createKafkaSink<T>(pool: ProducerLease, options: KafkaSinkOptions<T>): KafkaSink<T> {
  let prepared: Promise<void> | undefined;
  const messages = async (records: readonly T[]): Promise<TopicMessages> => {
    // A failed prepare (registry away) is forgotten, so the next write tries again.
    prepared ??= options.encoder.prepare().catch((err: unknown) => {
      prepared = undefined;
      throw err;
    });
    await prepared;
    return {
      topic: options.topic,
      messages: records.map((r) => {
        const m: Message = { key: options.key(r), value: options.encoder.encode(r) };
        if (options.headers) m.headers = options.headers(r);
        return m;
      }),
    };
  };
  return {
    name: `kafka:${options.topic}`,
    topic: options.topic,
    messages,
    async write(records) {
      if (records.length === 0) return;
      const encoded = (await messages(records)).messages;
      const send = (batch: Message[]) =>
        pool.use(async (producer) => {
          try {
            await producer.send({ topic: options.topic, messages: batch, acks: -1, compression: CompressionTypes.None });
          } catch (err) {
            if (recordErrorType(err) !== null) pool.retire(producer);
            throw err;
          }
        });
      let firstRefusal: unknown;
      const refused = await sendIsolatingRefused(send, encoded, 0, (err) => (firstRefusal ??= err)).catch((err: unknown) => {
        throw new ChurnflowError('CF_SINK_FAILED', `producing ${records.length} records to ${options.topic} failed: ${errorMessage(err)}`, { cause: err, retriable: true });
      });
      if (refused.length > 0) throw new OutputTooLargeError(`kafka:${options.topic}`, refused, firstRefusal);
    },
    async flush() {},
    async close() {},
  };
}
