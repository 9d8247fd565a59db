// Commits what the topology acknowledged: per partition, the offset after the highest acknowledged
// record, with the partition's event-time frontier as of that record in the commit's metadata (so the
// next owner judges lateness exactly as this run would have). A commit refused because the group
// moved on is logged and counted, never fatal: the new owner redelivers from the last commit.
//
// Commits are made one at a time, including one that timed out: kafkajs goes on retrying it (12
// retries, up to minutes across a broker restart), and if it lands after a later commit it moves the
// group's offsets back to where they were before — for good, when no further record of the partition
// comes (measured: the fault test "kafka restarted mid-stream" then never caught up). So while a
// timed-out commit is still out, no other is sent: the records stay held by the commit schedule and
// go with the first commit after it settled, whether it was made or failed.
import type { Consumer } from 'kafkajs';
import { ChurnflowError, errorMessage } from '../../errors.js';
import type { RawRecord } from '../../events/activity-event.js';
import type { Logger } from '../../observability/logger.js';
import { encodeWatermarkMetadata, streamOf, type PartitionWatermarks } from './partition-watermarks.js';

const REBALANCE_ERRORS = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

/** What the committer needs of a kafkajs consumer: the commit, and the event kafkajs emits when one was sent. */
export interface CommittingConsumer {
  commitOffsets: Consumer['commitOffsets'];
  /** COMMIT_OFFSETS: emitted synchronously once the coordinator accepted a commit. */
  onCommitted(listener: (topics: readonly { readonly topic: string; readonly partitions: readonly { readonly partition: number; readonly offset: unknown }[] }[]) => void): void;
}

/** A kafkajs consumer as a CommittingConsumer. */
export function committingConsumer(consumer: Consumer): CommittingConsumer {
  return {
    commitOffsets: (offsets) => consumer.commitOffsets(offsets),
    onCommitted: (listener) => void consumer.on(consumer.events.COMMIT_OFFSETS, (e) => listener(e.payload.topics)),
  };
}

export interface OffsetCommitterOptions {
  readonly consumer: CommittingConsumer;
  /** A commit can hang while the group rebalances; after this long it counts as refused. */
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly watermarks?: PartitionWatermarks;
  readonly onCommitRefused?: (err: unknown) => void;
  /**
   * True while the engine drains (SIGTERM, end of a bounded input): its last commit waits up to
   * timeoutMs for a timed-out one still out, rather than leave its records to be redelivered.
   */
  readonly draining?: () => boolean;
}

/** Resolves with the streams whose commit the broker confirmed (none when it was refused after a rebalance). */
export function createOffsetCommitter(options: OffsetCommitterOptions): (records: readonly RawRecord[]) => Promise<ReadonlySet<string>> {
  // kafkajs' commitOffsets resolves without sending anything while its runner is stopped (between a
  // consumer crash and its restart, e.g. a broker restart): such a commit was not made, though the
  // promise resolved. Only what kafkajs reports as committed counts; the rest stays held by the commit
  // schedule and goes with the next commit (measured: without this, an engine that had caught up
  // before a broker restart kept its group's offsets behind forever).
  const accepted = new Map<string, string>();
  options.consumer.onCommitted((topics) => {
    for (const t of topics) for (const p of t.partitions) accepted.set(streamOf(t.topic, p.partition), String(p.offset));
  });
  /** A commit that timed out and has not settled yet (kafkajs may still make it). */
  let outstanding: Promise<unknown> | undefined;
  /** The timed-out commit a drain already waited for. */
  let waitedFor: Promise<unknown> | undefined;
  return async (records) => {
    // Batches are acknowledged in order, so the highest offset per partition covers everything before it.
    const last = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const r of records) {
      if (r.topic === undefined || r.partition === undefined) continue;
      const key = streamOf(r.topic, r.partition);
      const cur = last.get(key);
      if (!cur || r.position.offset > cur.offset) last.set(key, { topic: r.topic, partition: r.partition, offset: r.position.offset });
    }
    if (last.size === 0) return new Set<string>();
    const commits = [...last.entries()].map(([stream, p]) => ({
      topic: p.topic,
      partition: p.partition,
      offset: String(p.offset + 1),
      metadata: encodeWatermarkMetadata(options.watermarks?.frontierAt(stream, p.offset)),
    }));
    // Once per timed-out commit: the drain's batches after the first do not each wait again.
    if (outstanding && outstanding !== waitedFor && options.draining?.()) {
      waitedFor = outstanding;
      await withTimeout(outstanding, options.timeoutMs, () => new Error('still out')).catch(() => {});
    }
    if (outstanding) {
      options.log.debug({ streams: [...last.keys()] }, 'offset commit not sent: a commit that timed out is still out; kept for the next commit');
      options.onCommitRefused?.(new Error('offset commit not sent: an earlier commit that timed out has not settled'));
      return new Set<string>();
    }
    accepted.clear(); // commits are made one at a time (the commit schedule awaits each; see `outstanding`)
    /** The streams of this commit that kafkajs reported as committed (COMMIT_OFFSETS) since it was sent. */
    const madeStreams = (): Set<string> => new Set([...last].filter(([stream, c]) => accepted.get(stream) === String(c.offset + 1)).map(([stream]) => stream));
    const sent = options.consumer.commitOffsets(commits);
    try {
      await withTimeout(sent, options.timeoutMs, () =>
        Object.assign(new Error('offset commit timed out (rebalance in progress)'), { type: 'REBALANCE_IN_PROGRESS', timedOut: true }),
      );
    } catch (err) {
      if ((err as { timedOut?: boolean }).timedOut) {
        const settled: Promise<unknown> = sent.then(
          // Nothing else was sent since, so `accepted` holds what this commit's COMMIT_OFFSETS reported.
          () =>
            madeStreams().size === last.size
              ? options.log.info({ streams: [...last.keys()] }, 'an offset commit that timed out was made after all; the next commit follows it')
              : options.log.info({ streams: [...last.keys()] }, 'an offset commit that timed out was not sent after all (the consumer was restarting); the next commit follows it'),
          (e: unknown) => options.log.info({ err: errorMessage(e) }, 'an offset commit that timed out failed; the next commit follows it'),
        ).finally(() => {
          if (outstanding === settled) outstanding = undefined;
        });
        outstanding = settled;
      }
      if (isRebalanceError(err)) {
        options.log.warn({ err: errorMessage(err) }, 'offset commit refused after a rebalance; records will be redelivered');
        options.onCommitRefused?.(err);
        return new Set<string>();
      }
      throw new ChurnflowError('CF_SOURCE_FAILED', `committing offsets failed: ${errorMessage(err)}`, { cause: err, retriable: true });
    }
    const made = madeStreams();
    if (made.size < last.size) {
      const skipped = [...last.keys()].filter((s) => !made.has(s));
      options.log.warn({ streams: skipped }, 'offset commit not sent (the consumer was restarting); kept for the next commit');
      options.onCommitRefused?.(new Error('offset commit not sent: the consumer was not running'));
    }
    return made;
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

function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(error()), ms);
    }),
  ]);
}
