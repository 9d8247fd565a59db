// What is committed after each batch, and what is written before. Without write-behind every batch wrote
// every customer it changed before its outputs, and its commit covers all its records. With
// write-behind (the hot cache, state.redis.cache.writeBehindMs), a customer whose batch decided nothing
// stays unwritten for up to that delay — as Kafka Streams' record cache holds a key until its commit
// interval — so a customer changed by several batches within it is written once. The schedule then:
//   1. writes the pending states that waited the delay (oldest first; more if over maxPending), and
//   2. commits per stream up to, not including, the first record of a state still unwritten.
// So a record's commit never precedes its state's write, and a crash (kill -9) at any point replays
// from a commit whose records are all in the store: the replay finds the written customers' positions
// applied and re-applies the rest, deciding what the first run decided (decisions depend on event time
// and state only). Writing a few states per batch, not all at a commit interval, keeps the flush out of
// the latency: no batch waits for thousands of writes. A customer whose batch decided something is
// written before its outputs, with the decisions (persist-decisions.ts). Only records of partitions this
// member still owns are committed (RecordSource.isCurrent): a partition moved to another member by a
// rebalance is committed by its new owner alone.
import { ChurnflowError, errorMessage, isRetriable } from '../errors.js';
import type { RawRecord } from '../events/activity-event.js';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import type { RecordSource } from '../sources/record-source.js';
import type { WriteBehindStore } from '../state/hot-cache.js';
import type { Clock } from '../time/clock.js';
import type { RetryPolicy } from './retry-batch.js';

export interface WriteBehind {
  readonly store: Pick<WriteBehindStore, 'flush' | 'firstUnwritten' | 'pendingCustomers'>;
  /** Longest an undecided state stays unwritten (ms). */
  readonly delayMs: number;
  /** Most customers held unwritten; beyond it the oldest are written early (down to ¾ of it). */
  readonly maxPending: number;
  /**
   * Most due states written after one batch (the oldest first; the rest wait for the next batch):
   * the batches behind it wait for that write, so 2,000 states due at once after a catch-up (≈0.2 s of
   * encoding) are spread over the batches that follow. Over maxPending and at ticks (no batch coming),
   * every due state is written. Absent: every due state after each batch.
   */
  readonly maxPerBatch?: number;
}

export interface CommitScheduleOptions {
  readonly clock: Clock;
  readonly writeBehind?: WriteBehind;
  /** Writes and commits that fail with a retriable error are tried again under this policy, then the job fails. */
  readonly retry: RetryPolicy;
  readonly onRetry?: (err: unknown, attempt: number) => void;
  /** After each confirmed commit (the outbox entries below it can go). */
  readonly afterCommit?: () => void;
}

export class CommitSchedule {
  /** The last processed record per source stream not committed yet (a commit covers all before it). */
  private readonly held = new Map<string, RawRecord>();
  /** Per stream, the next offset of the last confirmed commit (not sent again while the cap stays put). */
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly source: Pick<RecordSource, 'commit' | 'isCurrent'>,
    private readonly committed: CommittedOffsets | undefined,
    private readonly options: CommitScheduleOptions,
  ) {}

  /** A processed batch's records: writes the states that are due and commits what is safe. */
  async processed(records: readonly RawRecord[]): Promise<void> {
    for (const r of records) {
      const cur = this.held.get(r.position.stream);
      // A held record of a partition revoked since gives way to one of its new ownership (assigned again).
      if (cur === undefined || r.position.offset >= cur.position.offset || !this.current(cur)) this.held.set(r.position.stream, r);
    }
    await this.step('batch');
  }

  /** No batch came for a while: write what waited the delay, commit what that made safe. */
  async tick(): Promise<void> {
    if (this.held.size > 0 || (this.options.writeBehind?.store.pendingCustomers ?? 0) > 0) await this.step('tick');
  }

  /** The drain's last step: every pending state written, everything held committed. */
  async finish(): Promise<void> {
    await this.step('finish');
  }

  private async step(kind: 'batch' | 'tick' | 'finish'): Promise<void> {
    let committedAny = false;
    await this.retrying(async () => {
      const wb = this.options.writeBehind;
      if (wb) {
        if (kind === 'finish') await wb.store.flush();
        else {
          await wb.store.flush(this.options.clock.now() - wb.delayMs, kind === 'batch' ? wb.maxPerBatch : undefined);
          const over = wb.store.pendingCustomers - wb.maxPending;
          if (over > 0) await wb.store.flush(undefined, over + Math.floor(wb.maxPending / 4));
        }
      }
      committedAny = (await this.commitSafe()) || committedAny;
    });
    if (committedAny) this.options.afterCommit?.();
  }

  /** Commits each stream up to its last processed record, or to before its first unwritten one. */
  private async commitSafe(): Promise<boolean> {
    const wb = this.options.writeBehind?.store;
    const commits: RawRecord[] = [];
    for (const [stream, r] of this.held) {
      // Revoked since it was processed: never committed here. Its new owner started at the group's
      // offset and commits the partition; this commit would move the offset back behind the owner's.
      if (!this.current(r)) {
        this.held.delete(stream);
        this.sent.delete(stream);
        continue;
      }
      const first = wb?.firstUnwritten(stream);
      const offset = first === undefined || first > r.position.offset ? r.position.offset : first - 1;
      if (offset + 1 <= (this.sent.get(stream) ?? -1)) continue;
      commits.push(offset === r.position.offset ? r : { ...r, position: { stream, offset } });
    }
    if (commits.length === 0) return false;
    const confirmed = await this.source.commit(commits);
    for (const c of commits) {
      const { stream, offset } = c.position;
      // A source that tells which streams it committed (Kafka: not those refused after a rebalance) is
      // believed; others commit all. A refused stream stays held and is tried with the next batch.
      if (confirmed !== undefined && !confirmed.has(stream)) continue;
      this.sent.set(stream, offset + 1);
      if (this.held.get(stream)?.position.offset === offset) this.held.delete(stream);
      this.committed?.confirm(stream, offset + 1);
    }
    return true;
  }

  private current(r: RawRecord): boolean {
    return this.source.isCurrent?.(r) ?? true;
  }

  private async retrying(step: () => Promise<void>): Promise<void> {
    const { retry, onRetry } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await step();
      } catch (err) {
        if (!isRetriable(err) || attempt >= retry.maxAttempts) {
          throw err instanceof ChurnflowError ? err : new ChurnflowError('CF_SOURCE_FAILED', `writing states and committing offsets failed: ${errorMessage(err)}`, { cause: err, retriable: false });
        }
        onRetry?.(err, attempt);
        await new Promise((r) => setTimeout(r, Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** (attempt - 1))));
      }
    }
  }
}
