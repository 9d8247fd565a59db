// Kafka source: a kafkajs consumer group feeding RawRecords under flow control. Offsets are committed
// only for records whose outputs were acknowledged (commit() is called by the topology's last stage),
// never automatically. The parts, one job each, live in ./kafka/: heartbeat-sliced waits, the batch
// preparer (registry lookups), the credit gate (backpressure), the offset committer (with the
// partition's event-time frontier as metadata), the assignment tracker (revocations, restored
// frontiers), replay bounds and the crash policy. This file wires them into kafkajs' eachBatch.
//
// A partition kept across a rebalance resumes after the last record emitted (kafka/kept-positions.ts),
// not at the group's commit, which trails it by up to the write-behind delay.
//
// On a rebalance, a batch of a revoked partition stops emitting; what was already emitted finishes
// (the per-position idempotent, fenced state absorbs the new owner processing it too), but this member
// never commits a partition it no longer owns (isCurrent): the coordinator checks a commit's member
// and generation, not the assignment, so such a commit would move the group's offset back behind the
// new owner's — stalling the group once that owner has nothing more to commit there, and letting the
// records in between be decided again after their outbox entries were trimmed.
import { Kafka, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage } from 'kafkajs';
import { Observable, type Subscriber } from 'rxjs';
import { kafkaClientConfig, type KafkaConnection } from '../config/kafka-client-config.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { RawRecord } from '../events/activity-event.js';
import type { Logger } from '../observability/logger.js';
import type { Clock } from '../time/clock.js';
import type { FlowControl } from './flow-control.js';
import { AssignmentTracker } from './kafka/assignment-tracker.js';
import type { OwnedPartitions } from './kafka/customer-ownership.js';
import { fatalCrash, isTransientCrash } from './kafka/consumer-crash.js';
import { acquireCredit } from './kafka/credit-gate.js';
import { prepareBatch } from './kafka/batch-preparer.js';
import { sleepHeartbeating, whileHeartbeating, type Heartbeats } from './kafka/heartbeats.js';
import { KeptPositions } from './kafka/kept-positions.js';
import { committingConsumer, createOffsetCommitter } from './kafka/offset-committer.js';
import { decodeWatermarkMetadata, streamOf, type PartitionWatermarks } from './kafka/partition-watermarks.js';
import { ReplayBounds } from './kafka/replay-bounds.js';
import type { RecordSource } from './record-source.js';

export { isRebalanceError } from './kafka/offset-committer.js';

/** Brokers, TLS and SASL (config `kafka`), and what to consume. */
export interface KafkaSourceOptions extends KafkaConnection {
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
   * How many partitions' fetched batches are handed over at once (kafkajs partitionsConsumedConcurrently;
   * default 1). Each partition's records stay in order, and the stateful stages still take one
   * micro-batch at a time, so per-customer order and the commit rules are unchanged.
   */
  readonly partitionsConsumedConcurrently?: number;
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
  /**
   * After each group join (and after leaving: an empty assignment), once the subscribed topics'
   * partition counts are known: which customers this member owns (drift sampling).
   */
  readonly onAssigned?: (owned: OwnedPartitions) => void;
  /** Partitions ("topic/partition" streams) this member no longer owns: drop their per-partition state. */
  readonly onRevoked?: (streams: readonly string[]) => void;
  /** The event-time tracker: frontiers persisted with each commit and restored on assignment. */
  readonly watermarks?: PartitionWatermarks;
}

/** In-process restarts after a transient crash (1, 2, 4, 8, 16 s apart) before the engine fails. */
const MAX_TRANSIENT_RESTARTS = 5;

export function createKafkaSource(options: KafkaSourceOptions, hooks: KafkaSourceHooks): RecordSource {
  const log = hooks.logger.child({ stage: 'kafka-source' });
  const kafka = new Kafka(kafkaClientConfig(options, options.clientId, { initialRetryTime: 300, retries: 12, maxRetryTime: 10_000 }));
  const consumer: Consumer = kafka.consumer({
    groupId: options.groupId,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: options.heartbeatIntervalMs,
    maxWaitTimeInMs: options.fetchMaxWaitMs,
    allowAutoTopicCreation: false,
    retry: { retries: 12 },
  });
  let admin: Promise<Admin> | undefined;
  const adminClient = (): Promise<Admin> =>
    (admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((err: unknown) => {
      admin = undefined;
      throw err;
    }));

  const assignment = new AssignmentTracker({
    fetchCommittedFrontiers: async (topic) => {
      const [offsets] = await (await adminClient()).fetchOffsets({ groupId: options.groupId, topics: [topic] });
      const frontiers = new Map<number, number>();
      for (const p of offsets?.partitions ?? []) {
        const frontier = decodeWatermarkMetadata(p.metadata);
        if (frontier !== undefined) frontiers.set(p.partition, frontier);
      }
      return frontiers;
    },
    ...(hooks.watermarks ? { watermarks: hooks.watermarks } : {}),
    ...(hooks.onRevoked ? { onRevoked: hooks.onRevoked } : {}),
  });
  const commit = createOffsetCommitter({
    consumer: committingConsumer(consumer),
    timeoutMs: options.sessionTimeoutMs,
    log,
    draining: () => stopped,
    ...(hooks.watermarks ? { watermarks: hooks.watermarks } : {}),
    ...(hooks.onCommitRefused ? { onCommitRefused: hooks.onCommitRefused } : {}),
  });
  const bounds = options.bounds ? new ReplayBounds() : undefined;
  const kept = new KeptPositions();
  let stopped = false;
  let running = false;
  let closed = false;
  let subscriber: Subscriber<RawRecord> | undefined;
  let flow: FlowControl | undefined;

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    const assigned = Object.values(e.payload.memberAssignment).reduce((n, parts) => n + parts.length, 0);
    const revoked = assignment.joined(e.payload.memberAssignment);
    // Emitted synchronously before the generation's first fetch, which applies these seeks.
    const resumed = kept.afterJoin((s) => assignment.epochOf(s));
    for (const s of resumed) {
      try {
        consumer.seek({ topic: s.topic, partition: s.partition, offset: String(s.offset) });
      } catch (err) {
        // Not fatal: the partition then starts at the group's commit, and redelivery is absorbed as after any move.
        log.warn({ err: errorMessage(err), topic: s.topic, partition: s.partition }, 'resuming a kept partition failed; it restarts at its committed offset');
      }
    }
    log.info({ assigned: e.payload.memberAssignment, revoked, resumed, groupId: e.payload.groupId }, 'joined consumer group');
    transientRestarts = 0;
    hooks.onRebalance?.(assigned);
    reportAssignment(e.payload.memberAssignment);
  });
  // Restarts of our own after a transient crash kafkajs gives up on; reset by the next group join.
  let transientRestarts = 0;
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    const fatal = fatalCrash(e.payload);
    if (!fatal) return;
    if (isTransientCrash(e.payload.error) && transientRestarts < MAX_TRANSIENT_RESTARTS && !stopped) {
      const delayMs = 1000 * 2 ** transientRestarts++;
      log.warn({ attempt: transientRestarts, delayMs }, 'the group coordinator was not found (a broker restarting?): restarting the consumer');
      // kafkajs disconnected the consumer before reporting the crash; run() starts a new group session.
      setTimeout(() => {
        if (stopped) return;
        consumer
          .connect()
          .then(() => consumer.run(runOptions))
          .catch((err: unknown) => subscriber?.error(new ChurnflowError('CF_SOURCE_FAILED', `kafka consumer failed to restart: ${errorMessage(err)}`, { cause: err, retriable: true })));
      }, delayMs);
      return;
    }
    subscriber?.error(fatal); // the engine fails with the reason instead of idling as a zombie
  });

  // Partition counts come from topic metadata (a join only names this member's partitions). A later
  // join supersedes a report still waiting for metadata, so the last word is always the last join's.
  // A batch waits for the report of its join (bounded by the heartbeat-sliced wait below), so no
  // record is emitted — and no midnight sampled — under the previous assignment.
  let assignmentGeneration = 0;
  let assignmentReported: Promise<void> = Promise.resolve();
  const reportAssignment = (memberAssignment: Readonly<Record<string, readonly number[]>>): void => {
    if (!hooks.onAssigned) return;
    const generation = ++assignmentGeneration;
    const assignment = Object.fromEntries(Object.entries(memberAssignment).map(([t, ps]) => [t, [...ps]]));
    assignmentReported = (async () => {
      const { topics } = await (await adminClient()).fetchTopicMetadata({ topics: [...options.topics] });
      if (generation !== assignmentGeneration) return;
      hooks.onAssigned!({ assignment, partitionCounts: new Map(topics.map((t) => [t.name, t.partitions.length])) });
    })().catch((err: unknown) => log.warn({ err }, 'reading the topics\' partition counts failed: drift sampling keeps the previous assignment'));
  };

  // One stream name per partition, shared by all of its records. A name built per record was a new
  // string each time, and every lookup keyed by it (the customer's positions, the watermarks, the
  // commit and outbox maps) had to hash it and find its interned twin again.
  const streamNames = new Map<string, string[]>();
  const streamName = (topic: string, partition: number): string => {
    let names = streamNames.get(topic);
    if (names === undefined) streamNames.set(topic, (names = []));
    return (names[partition] ??= streamOf(topic, partition));
  };

  const toRecord = (topic: string, partition: number, stream: string, m: KafkaMessage, endOfFetch: boolean, ownership: number | undefined): RawRecord => ({
    position: { stream, offset: Number(m.offset) },
    format: options.format,
    value: m.value ?? Buffer.alloc(0),
    key: m.key,
    topic,
    partition,
    receivedAt: hooks.clock.now(),
    // Always set (false but on the last): one object shape for every record, and no spread of a
    // temporary object per record.
    endOfFetch,
    ownership,
  });
  const isCurrent = (r: RawRecord): boolean => r.ownership !== undefined && assignment.epochOf(r.position.stream) === r.ownership;

  const pauseAll = () => {
    if (running) consumer.pause(options.topics.map((topic) => ({ topic })));
  };
  const resumeAll = () => {
    if (running && !stopped) consumer.resume(options.topics.map((topic) => ({ topic })));
  };
  const finish = () => {
    log.info({ partitions: bounds?.size }, 'bounded replay reached its end offsets');
    stopped = true;
    try {
      pauseAll();
    } catch {
      // not running
    }
    subscriber?.complete();
  };

  const eachBatch = async ({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload) => {
    const last = batch.messages.length - 1;
    // The last record marks the fetch's end: the micro-batch closes after it if the engine is idle.
    const stream = streamName(batch.topic, batch.partition);
    // The partition's ownership now (kafkajs hands over a batch only between joins, so it is the current one).
    const ownership = assignment.epochOf(stream);
    const recs = batch.messages.map((m, i) => toRecord(batch.topic, batch.partition, stream, m, i === last, ownership));
    if (recs.length === 0) return;
    const out = subscriber;
    const credits = flow;
    if (!out || !credits) return;
    const heartbeats: Heartbeats = { heartbeat, intervalMs: options.heartbeatIntervalMs };
    const abandoned = () => stopped || !isRunning() || isStale();
    try {
      await whileHeartbeating(assignment.ready(batch.topic, batch.partition), heartbeats);
      await whileHeartbeating(assignmentReported, heartbeats);
    } catch (err) {
      // Without the persisted frontier this partition would judge lateness differently: wait and refetch.
      log.warn({ err: errorMessage(err), topic: batch.topic, partition: batch.partition }, 'reading the committed watermark failed; retrying the batch');
      await sleepHeartbeating(1000, heartbeats, abandoned);
      return;
    }
    // The registry being away must not turn good records into dead letters: nothing is emitted (or
    // committed) until every record of the batch can be decoded or is known to be bad.
    if (hooks.prepare && !(await prepareBatch(recs, hooks.prepare, { heartbeats, abandoned, log }))) return;
    hooks.onLag?.(batch.topic, batch.partition, Math.max(0, Number(batch.highWatermark) - 1 - recs[recs.length - 1]!.position.offset));
    // kafkajs changes what isRunning() and isStale() answer only on a turn of the event loop (a
    // rebalance, a seek), so they are read before the first record and again after each wait for a
    // credit; between two waits the records go out synchronously, without a microtask per record.
    // The fetch position moves once, to the last record emitted, however the loop ends (the same
    // position resolving each record gave; auto-commit is off, so the commit waits for acknowledgement).
    let emitted = -1;
    let mayHaveChanged = true;
    try {
      for (const rec of recs) {
        if (stopped || (mayHaveChanged && abandoned())) return; // not emitted → not committed → redelivered
        mayHaveChanged = false;
        if (bounds) {
          const verdict = bounds.admit(rec.position.stream, rec.position.offset);
          if (verdict === 'skip') continue;
          if (verdict === 'end') {
            if (bounds.done()) finish();
            return;
          }
        }
        if (!credits.tryAcquire()) {
          mayHaveChanged = true;
          if (!(await acquireCredit(credits, { heartbeats, abandoned, pause: pauseAll, resume: resumeAll }))) return;
        }
        out.next(rec);
        emitted = rec.position.offset;
      }
    } finally {
      if (emitted >= 0) {
        resolveOffset(String(emitted));
        kept.emitted(stream, batch.topic, batch.partition, emitted, ownership);
      }
    }
    if (bounds?.done()) finish();
    await heartbeat().catch(() => {});
  };

  const runOptions = { autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1, eachBatch };

  const records = (credits: FlowControl): Observable<RawRecord> =>
    new Observable<RawRecord>((sub) => {
      subscriber = sub;
      flow = credits;
      (async () => {
        await consumer.connect();
        if (bounds) await bounds.resolve(await adminClient(), options.topics, options.bounds!);
        for (const topic of options.topics) await consumer.subscribe({ topic, fromBeginning: options.fromBeginning });
        await consumer.run(runOptions);
        running = true;
        if (bounds) {
          for (const s of bounds.starts()) consumer.seek({ topic: s.topic, partition: s.partition, offset: String(s.offset) });
          if (bounds.done()) finish();
        }
        log.info({ topics: options.topics, groupId: options.groupId }, 'consuming');
        if (stopped) sub.complete();
      })().catch((err: unknown) => sub.error(new ChurnflowError('CF_SOURCE_FAILED', `kafka consumer failed to start: ${errorMessage(err)}`, { cause: err, retriable: true })));
      return () => {
        stopped = true;
      };
    });

  return {
    name: `kafka:${options.topics.join(',')}`,
    records,
    progress: () => bounds?.progress(),
    isCurrent,
    commit: (records) => commit(records.filter(isCurrent)),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        pauseAll();
      } catch {
        // not running yet
      }
      subscriber?.complete();
    },
    async close() {
      if (closed) return;
      closed = true;
      stopped = true;
      try {
        await consumer.disconnect(); // stop the runner, leave the group, close connections
      } finally {
        assignment.left();
        assignmentGeneration++; // a report still waiting for metadata is stale now
        if (admin) await (await admin.catch(() => undefined))?.disconnect();
      }
    },
  };
}
