// Write-behind's memory (src/state/hot-cache.ts): states a batch changed but that decided nothing, kept
// in process instead of written, for up to the write-behind delay. Each keeps, besides the state, what
// its write is fenced on (the version and stored form it was loaded at) and its redo log: every delta
// applied since then, batch by batch. The store plus the redo log is always the state again — after a
// batch that held the state failed half-way, or after a fenced write showed another instance wrote the
// customer (a partition that moved): the log is replayed on the store's current copy, where what the
// other instance applied is recognised as redelivered (positions).
//
// Records are kept in the order they became pending (a Map keeps insertion order), so the oldest are
// flushed first; and per source stream, each one's first unwritten offset, so a commit can stop right
// before the oldest unwritten record (commit-schedule.ts).
import { applyDelta, DEFAULT_DEDUPE, enforceBudget, type CustomerState, type StateDelta } from './customer-state.js';
import type { LoadedCustomer, StateRules } from './state-store.js';

export interface PendingState {
  readonly customerId: string;
  /** The changed state; undefined while a batch holds it, and after it must be rebuilt (see above). */
  state: CustomerState | undefined;
  /** The store's version and stored form this state's write is fenced on. */
  version: number;
  stored: unknown;
  /** The deltas applied since `version`, one array per batch (redeliveries left out: they changed nothing). */
  readonly redo: StateDelta[][];
  /** The revocation epoch it became pending in: one from before a revocation is not cached once written. */
  readonly epoch: number;
  /** When it became pending (the clock's ms): it is written once it has waited the write-behind delay. */
  readonly since: number;
}

export class PendingStates {
  private readonly byId = new Map<string, PendingState>();
  /** Per stream: the first unwritten offset of each pending customer, oldest first. */
  private readonly byStream = new Map<string, Map<string, number>>();
  /** Per pending customer: the streams byStream holds it in (mostly one), so delete() need not walk its redo log. */
  private readonly streamsOf = new Map<string, string[]>();

  /** `restore`: called for each delta a replay applies anew (HotCacheOptions.restore). */
  constructor(
    private readonly rules: StateRules,
    private readonly restore?: (state: CustomerState, delta: StateDelta) => void,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(customerId: string): PendingState | undefined {
    return this.byId.get(customerId);
  }

  /** A customer becomes pending with its first batch of deltas. */
  add(pending: PendingState): void {
    this.byId.set(pending.customerId, pending);
    for (const batch of pending.redo) this.index(pending.customerId, batch);
  }

  /** More deltas of a pending customer (a later batch). */
  append(pending: PendingState, deltas: StateDelta[]): void {
    pending.redo.push(deltas);
    this.index(pending.customerId, deltas);
  }

  delete(customerId: string): boolean {
    const p = this.byId.get(customerId);
    if (p === undefined) return false;
    this.byId.delete(customerId);
    for (const stream of this.streamsOf.get(customerId) ?? []) {
      const s = this.byStream.get(stream);
      if (s?.delete(customerId) && s.size === 0) this.byStream.delete(stream);
    }
    this.streamsOf.delete(customerId);
    return true;
  }

  /** The oldest first; those that became pending at or before `until` (all without it). */
  oldest(until?: number, max = Number.POSITIVE_INFINITY): PendingState[] {
    const out: PendingState[] = [];
    for (const p of this.byId.values()) {
      if ((until !== undefined && p.since > until) || out.length >= max) break;
      out.push(p);
    }
    return out;
  }

  /** The lowest offset of `stream` some pending state has applied and nobody wrote; undefined if none. */
  firstUnwritten(stream: string): number | undefined {
    const s = this.byStream.get(stream);
    if (s === undefined) return undefined;
    // A scan, not the first entry: a customer read from several streams can join a stream's map late.
    let min = Number.POSITIVE_INFINITY;
    for (const offset of s.values()) if (offset < min) min = offset;
    return min;
  }

  entries(): IterableIterator<PendingState> {
    return this.byId.values();
  }

  /** Every state must be rebuilt before its next use (another writer may have changed any of them). */
  invalidate(): void {
    for (const p of this.byId.values()) p.state = undefined;
  }

  /**
   * The pending customer again, from the store's current copy and its redo log, applied batch by batch
   * as the batches did (deltas, then the byte budget). The record takes the copy's version.
   */
  rebuild(pending: PendingState, fresh: LoadedCustomer): CustomerState {
    const state = this.replay(pending, fresh.state);
    pending.state = state;
    pending.version = fresh.version;
    pending.stored = fresh.stored;
    return state;
  }

  /** The redo log applied to `state` (changed in place and returned); the record is left as it is. */
  replay(pending: PendingState, state: CustomerState): CustomerState {
    const { layout, dedupe = DEFAULT_DEDUPE, maxBytesPerCustomer } = this.rules;
    // No budget callback: the batches that applied these deltas counted their cuts already.
    const restore = this.restore;
    for (const batch of pending.redo) {
      for (const d of batch) if (applyDelta(state, d, layout, dedupe) === 'applied') restore?.(state, d);
      enforceBudget(state, layout, maxBytesPerCustomer);
    }
    return state;
  }

  /** Each stream's first offset among the customer's deltas, for the streams it is not indexed in yet (deltas come in offset order). */
  private index(customerId: string, deltas: readonly StateDelta[]): void {
    let streams = this.streamsOf.get(customerId);
    for (const d of deltas) {
      const stream = d.position.stream;
      if (streams?.includes(stream)) continue;
      if (streams === undefined) this.streamsOf.set(customerId, (streams = []));
      streams.push(stream);
      let s = this.byStream.get(stream);
      if (s === undefined) this.byStream.set(stream, (s = new Map()));
      s.set(customerId, d.position.offset);
    }
  }
}
