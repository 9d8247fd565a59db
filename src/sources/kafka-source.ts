// Kafka source: a kafkajs consumer group feeding RawRecords under flow control. Offsets are committed
// only for records whose outputs were acknowledged (commit() is called by the topology's last stage),
// never automatically. Backpressure: when the engine holds maxInFlight unacknowledged records, the
// assigned partitions are paused until credits come back. On a rebalance, a batch of a revoked
// partition stops emitting; what was already emitted finishes, and its commit may be refused — the
// new owner reprocesses from the last commit, which the per-position idempotent state absorbs.
import { Kafka, logLevel, type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { Observable } from 'rxjs';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { RawRecord } from '../events/activity-event.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { FlowControl } from './flow-control.js';
import type { RecordSource } from './record-source.js';

export interface KafkaSourceOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a group with no committed offset starts. */
  readonly fromBeginning: boolean;
  /** Record format of the values: Schema Registry wire format, or NDJSON text. */
  readonly format: 'confluent-avro' | 'json';
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** Longest a fetch waits for data; also bounds how long stop/leave-group waits on an idle fetch. */
  readonly fetchMaxWaitMs: number;
}

export interface KafkaSourceHooks {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Runs before a fetched batch is emitted, e.g. the registry decoder fetching unknown schema ids. */
  readonly prepare?: (records: readonly RawRecord[]) => Promise<void>;
  readonly onLag?: (topic: string, partition: number, lag: number) => void;
  readonly onCommitRefused?: (err: unknown) => void;
  readonly onRebalance?: (assigned: number) => void;
}

const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

export function createKafkaSource(options: KafkaSourceOptions, hooks: KafkaSourceHooks): RecordSource {
  const log = hooks.logger.child({ stage: 'kafka-source' });
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 },
  });
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    maxWaitTimeInMs: options.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    retry: { retries: 12 },
  });
  let stopped = false;
  let running = false;
  let closed = false;
  let complete: (() => void) | undefined;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assigned = Object.values(e.payload.memberAssignment).reduce((n, parts) => n + parts.length, 0);
    log.info({ assigned: e.payload.memberAssignment, generationId: e.payload.groupId }, 'joined consumer group');
    hooks.onRebalance?.(assigned);
  });
  consumer.on(consumer.events.CRASH, (e) => log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed'));

  const toRecord = (topic: string, partition: number, m: KafkaMessage): RawRecord => ({
    position: { stream: `${topic}/${partition}`, offset: Number(m.offset) },
    format: options.format,
    value: m.value ?? Buffer.alloc(0),
    key: m.key,
    topic,
    partition,
    receivedAt: hooks.clock.now(),
  });

  const pauseAll = () => {
    if (running) consumer.pause(options.topics.map((topic) => ({ topic })));
  };
  const resumeAll = () => {
    if (running && !stopped) consumer.resume(options.topics.map((topic) => ({ topic })));
  };

  const records = (flow: FlowControl): Observable<RawRecord> =>
    new Observable<RawRecord>((subscriber) => {
      complete = () => subscriber.complete();
      const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
        const recs = batch.messages.map((m) => toRecord(batch.topic, batch.partition, m));
        if (recs.length === 0) return;
        if (hooks.prepare) {
          // The registry being away must not turn good records into dead letters: retry with backoff
          // (heartbeating) until it answers or we are stopped; nothing is emitted or committed meanwhile.
          for (let attempt = 1; ; attempt++) {
            try {
              await hooks.prepare(recs);
              break;
            } catch (err) {
              if (stopped || !isRunning() || isStale()) return;
              log.warn({ err: errorMessage(err), attempt }, 'preparing a batch failed (schema registry?); retrying');
              await new Promise((r) => setTimeout(r, Math.min(10_000, 250 * 2 ** Math.min(attempt, 6))));
              await heartbeat().catch(() => {});
            }
          }
        }
        hooks.onLag?.(batch.topic, batch.partition, Math.max(0, Number(batch.highWatermark) - 1 - recs[recs.length - 1]!.position.offset));
        for (const rec of recs) {
          if (stopped || !isRunning() || isStale()) return; // not emitted → not committed → redelivered
          if (!flow.tryAcquire()) {
            pauseAll(); // downstream is slow: stop fetching until credits come back
            const acquired = flow.acquire();
            let done = false;
            void acquired.then(() => (done = true));
            while (!done) {
              await Promise.race([acquired, new Promise((r) => setTimeout(r, Math.min(1000, options.heartbeatIntervalMs)))]);
              if (!done) await heartbeat().catch(() => {});
              if (stopped) {
                if (!done) await acquired; // the credit will come back as in-flight work drains
                flow.release(1);
                return;
              }
            }
            resumeAll();
          }
          subscriber.next(rec);
          // Moves the fetch position only (auto-commit is off): the commit waits for acknowledgement.
          resolveOffset(String(rec.position.offset));
        }
        await heartbeat().catch(() => {});
      };
      (async () => {
        await consumer.connect();
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
        running = true;
        log.info({ topics: options.topics, groupId: options.groupId }, 'consuming');
        if (stopped) subscriber.complete();
      })().catch((err: unknown) => subscriber.error(new ChurnflowError('CF_SOURCE_FAILED', `kafka consumer failed to start: ${errorMessage(err)}`, { cause: err, retriable: true })));
      return () => {
        stopped = true;
      };
    });

  return {
    name: `kafka:${options.topics.join(',')}`,
    records,
    async commit(recs) {
      // Batches are acknowledged in order, so the highest offset per partition covers everything before it.
      const next = new Map<string, { topic: string; partition: number; offset: number }>();
      for (const r of recs) {
        if (r.topic === undefined || r.partition === undefined) continue;
        const key = `${r.topic}/${r.partition}`;
        const cur = next.get(key);
        if (!cur || r.position.offset + 1 > cur.offset) next.set(key, { topic: r.topic, partition: r.partition, offset: r.position.offset + 1 });
      }
      if (next.size === 0) return;
      try {
        await consumer.commitOffsets([...next.values()].map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) })));
      } catch (err) {
        if (isRebalanceError(err)) {
          // The partition moved (or we are shutting down): the new owner re-reads from the last
          // commit, and state idempotency keeps that from counting twice.
          log.warn({ err: errorMessage(err) }, 'offset commit refused after a rebalance; records will be redelivered');
          hooks.onCommitRefused?.(err);
          return;
        }
        throw new ChurnflowError('CF_SOURCE_FAILED', `committing offsets failed: ${errorMessage(err)}`, { cause: err, retriable: true });
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        pauseAll();
      } catch {
        // not running yet
      }
      complete?.();
    },
    async close() {
      if (closed) return;
      closed = true;
      stopped = true;
      await consumer.disconnect(); // stop the runner, leave the group, close connections
    },
  };
}

/** kafkajs wraps protocol errors (retry → originalError / cause); any rebalance type in the chain counts. */
export function isRebalanceError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const x = e as { type?: string; message?: string; originalError?: unknown; cause?: unknown };
    if (x.type && REBALANCE_ERRORS.has(x.type)) return true;
    if (/rebalanc|generation id is not valid|not running|not initialized|unknown member/i.test(x.message ?? '')) return true;
    e = x.originalError ?? x.cause;
  }
  return false;
}
