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
  /**
   * A bounded replay: start each partition at the first offset at or after `fromTime` and complete the
   * stream once every partition reached the offsets at `toTime` (or its end when the replay started).
   */
  readonly bounds?: { readonly fromTime: number; readonly toTime?: number };
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
  /** Bounded replay: per "topic/partition", the next offset to emit and the end (exclusive). */
  const ranges = new Map<string, { next: number; start: number; end: number }>();
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
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        log.info({ partitions: ranges.size }, 'bounded replay reached its end offsets');
        stopped = true;
        try {
          pauseAll();
        } catch {
          // not running
        }
        subscriber.complete();
      };
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
        const range = options.bounds ? ranges.get(`${batch.topic}/${batch.partition}`) : undefined;
        for (const rec of recs) {
          if (stopped || !isRunning() || isStale()) return; // not emitted → not committed → redelivered
          if (range) {
            if (rec.position.offset < range.start) continue;
            if (rec.position.offset >= range.end) {
              if ([...ranges.values()].every((r) => r.next >= r.end)) finish();
              return;
            }
            range.next = rec.position.offset + 1;
          }
          if (!flow.tryAcquire()) {
            pauseAll(); // downstream is slow: stop fetching until credits come back
            let granted = false;
            let abandoned = false;
            const acquired = flow.acquire().then(() => {
              granted = true;
              if (abandoned) flow.release(1); // nobody will use this credit any more
            });
            while (!granted) {
              await Promise.race([acquired, new Promise((r) => setTimeout(r, Math.min(1000, options.heartbeatIntervalMs)))]);
              if (granted) break;
              await heartbeat().catch(() => {});
              // A rebalance or a stop must not wait for credits: leave the rest of this batch unemitted
              // (so uncommitted, and redelivered to whoever owns the partition next).
              if (stopped || !isRunning() || isStale()) {
                abandoned = true;
                // Paused partitions stay paused across a rebalance: resume, or the consumer stalls.
                resumeAll();
                return;
              }
            }
            resumeAll();
          }
          subscriber.next(rec);
          // Moves the fetch position only (auto-commit is off): the commit waits for acknowledgement.
          resolveOffset(String(rec.position.offset));
        }
        if (range && [...ranges.values()].every((r) => r.next >= r.end)) finish();
        await heartbeat().catch(() => {});
      };
      (async () => {
        await consumer.connect();
        if (options.bounds) await resolveRanges(options.bounds);
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
        await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1, eachBatch });
        running = true;
        if (options.bounds) {
          for (const [key, r] of ranges) {
            const [topic, partition] = splitKey(key);
            consumer.seek({ topic, partition, offset: String(r.start) });
          }
          if ([...ranges.values()].every((r) => r.next >= r.end)) finish();
        }
        log.info({ topics: options.topics, groupId: options.groupId }, 'consuming');
        if (stopped) subscriber.complete();
      })().catch((err: unknown) => subscriber.error(new ChurnflowError('CF_SOURCE_FAILED', `kafka consumer failed to start: ${errorMessage(err)}`, { cause: err, retriable: true })));
      return () => {
        stopped = true;
      };
    });

  async function resolveRanges(bounds: NonNullable<KafkaSourceOptions['bounds']>): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const topic of options.topics) {
        const high = await admin.fetchTopicOffsets(topic);
        const starts = await admin.fetchTopicOffsetsByTimestamp(topic, bounds.fromTime);
        const ends = bounds.toTime === undefined ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, bounds.toTime);
        for (const h of high) {
          const startRaw = Number(starts.find((s) => s.partition === h.partition)?.offset ?? h.offset);
          // An offset of -1 means no record at or after the time: start at the end.
          const start = startRaw < 0 ? Number(h.high) : startRaw;
          const endRaw = ends ? Number(ends.find((e) => e.partition === h.partition)?.offset ?? h.high) : Number(h.high);
          const end = endRaw < 0 ? Number(h.high) : Math.min(endRaw, Number(h.high));
          ranges.set(`${topic}/${h.partition}`, { next: start, start, end: Math.max(start, end) });
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  return {
    name: `kafka:${options.topics.join(',')}`,
    records,
    progress() {
      if (!options.bounds || ranges.size === 0) return undefined;
      let done = 0;
      let total = 0;
      for (const r of ranges.values()) {
        done += r.next - r.start;
        total += r.end - r.start;
      }
      return { done, total };
    },
    async commit(recs) {
      // Batches are acknowledged in order, so the highest offset per partition covers everything before it.
      const next = new Map<string, { topic: string; partition: number; offset: number }>();
      for (const r of recs) {
        if (r.topic === undefined || r.partition === undefined) continue;
        const key = `${r.topic}/${r.partition}`;
        const cur = next.get(key);
        if (!cur || r.position.offset + 1 > cur.offset) next.set(key, { topic: r.topic, partition: r.partition, offset: r.position.offset + 1 });
      }
      if (next.size === 0) return new Set<string>();
      try {
        // A commit can hang while the group rebalances; bounded, it counts as refused (redelivery is safe).
        await withTimeout(
          consumer.commitOffsets([...next.values()].map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) }))),
          options.sessionTimeoutMs,
          () => Object.assign(new Error('offset commit timed out (rebalance in progress)'), { type: 'REBALANCE_IN_PROGRESS' }),
        );
      } catch (err) {
        if (isRebalanceError(err)) {
          // The partition moved (or we are shutting down): the new owner re-reads from the last
          // commit, and state idempotency keeps that from counting twice.
          log.warn({ err: errorMessage(err) }, 'offset commit refused after a rebalance; records will be redelivered');
          hooks.onCommitRefused?.(err);
          return new Set<string>();
        }
        throw new ChurnflowError('CF_SOURCE_FAILED', `committing offsets failed: ${errorMessage(err)}`, { cause: err, retriable: true });
      }
      return new Set(next.keys());
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

function splitKey(key: string): [string, number] {
  const i = key.lastIndexOf('/');
  return [key.slice(0, i), Number(key.slice(i + 1))];
}

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(error()), ms);
    }),
  ]);
}
