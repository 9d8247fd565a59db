// A store wrapper that keeps, in process, the state of the customers this instance has just written, so
// the next batch of a customer already seen costs one pipelined fenced write and no read. Valid because
// a customer is written only by the owner of its partition, and every write stays fenced on the version
// loaded: a cached copy that another instance made stale (it took the partition over) fails its write
// with CF_STATE_FENCED as today, and then the whole cache is dropped and the batch reloads from Redis.
// Revoked partitions drop their customers at once, and a write whose customers were loaded before a
// revocation is not kept, so a partition that moves away and back is always read fresh.
//
// Write-behind (defer/flush): a customer whose batch decided nothing need not be written before the
// batch's outputs, only before its records' offsets are committed. defer() keeps such states here,
// unwritten, and flush() writes those that waited the write-behind delay, fenced as any write
// (operators/commit-schedule.ts): a customer changed by several batches within the delay is written
// once. Commits stop before the first record of a state not yet written (firstUnwritten). A pending
// state is never evicted; its redo log (pending-states.ts) rebuilds it from Redis when a batch holding
// it failed or its write was fenced, so nothing applied is lost and nothing unwritten is committed.
import { LRUCache } from 'lru-cache';
import { hasOutboxEntries, trimOutbox, type CustomerState, type StateDelta } from './customer-state.js';
import { ChurnflowError } from '../errors.js';
import { PendingStates, type PendingState } from './pending-states.js';
import { applyDeltas, type StagedCustomer } from './stage-deltas.js';
import type { ApplyResult, CustomerWrite, LoadedCustomer, OutboxDrop, StartObserver, StateStore, StepObserver, StoreStats } from './state-store.js';

/** A store that can say what a load right after a write would return (RedisStateStore). */
export interface WriteReturningStore extends StateStore {
  /** Per write: the customer as stored after it (the written state object, the new version), undefined where fenced. */
  writeReturning(writes: readonly CustomerWrite[]): Promise<readonly (LoadedCustomer | undefined)[]>;
  /** Bytes of a customer's stored form (`LoadedCustomer.stored` as this store returns it). */
  storedBytes(stored: unknown): number;
  /** A customer's stored form without these outbox entries (after dropOutbox). */
  storedWithoutOutbox(stored: unknown, keys: readonly string[]): unknown;
  /** Stores only the states' new outbox entries, fenced, moving the version (undefined where fenced). */
  writeOutboxReturning(writes: readonly { readonly state: CustomerState; readonly version: number; readonly stored: unknown }[]): Promise<readonly ({ readonly version: number; readonly stored: unknown } | undefined)[]>;
}

/**
 * Called for every delta a rebuild applies anew on the store's copy (not a redelivery), with the state
 * right after it: a state whose decisions were stored ahead of it (writeDecisions) takes back the emit
 * memory those decisions left (src/scoring/restore-emit-memory.ts).
 */
export type RedoHook = (state: CustomerState, delta: StateDelta) => void;

/**
 * Heap a cached customer takes per byte of its stored form: the decoded state with its window totals
 * and the stored hash, measured at ≈14 (15.9 KB of heap for 1.1 KB stored: 2,000 customers × 90
 * simulated days, default spec); 16 leaves headroom. Sizing from the stored bytes the write already
 * has costs nothing, where estimating the state walked every bucket again (≈6 % of the engine's CPU).
 */
export const HEAP_PER_STORED_BYTE = 16;

export interface HotCacheOptions {
  /** Most customers kept (least recently used leave first). */
  readonly maxCustomers: number;
  /** Most bytes kept, each entry counted as HEAP_PER_STORED_BYTE × its stored form (≈ its heap). */
  readonly maxBytes: number;
  /** Entries older than this are not used (the store's idle TTL: Redis may have expired the hash). */
  readonly ttlMs?: number;
  /** Customers served from the cache: the Redis reads avoided. */
  readonly onHits?: (n: number) => void;
  /** Customers read from the store (not cached, evicted or dropped). */
  readonly onMisses?: (n: number) => void;
  /** Entries dropped, and why: revoked (partition left), fenced (another writer), unknown (a write that failed or may have failed). */
  readonly onDropped?: (reason: 'revoked' | 'fenced' | 'unknown', n: number) => void;
  /**
   * Given: decided customers may have their decisions stored ahead of their state (writeDecisions), and
   * every rebuild calls it for the deltas it applies anew. Without it writeDecisions takes no customer.
   */
  readonly restore?: RedoHook;
}

interface Entry {
  /** Handed over by load() (taken out of the cache), so a batch changes it in place: no copy. */
  readonly state: CustomerState;
  readonly version: number;
  /** Replaced by dropOutbox (the entry's size stays as computed at its write: a slight overestimate until the next one). */
  stored: unknown;
}

/** What load() hands out as `stored`: the inner store's, and the revocation epoch it was loaded in. */
interface Tagged {
  readonly epoch: number;
  readonly inner: unknown;
}

/** A store that can hold states unwritten for a while (the hot cache). */
export interface WriteBehindStore extends StateStore {
  /**
   * Keeps these staged customers unwritten (their batch decided nothing for them; `now` is the clock's
   * ms) and returns those it did not take, which the caller writes now: customers loaded before a
   * revocation, or not loaded by it.
   */
  defer(staged: readonly StagedCustomer[], now: number): StagedCustomer[];
  /**
   * Writes (fenced) the pending states that became pending at or before `until` — all of them without
   * it — oldest first, at most `max`; resolves once they are stored.
   */
  flush(until?: number, max?: number): Promise<void>;
  /**
   * Stores the staged customers' new outbox entries alone (fenced, moving their versions) and keeps
   * their states pending as defer() does: their decisions are durable before any output, their states
   * are written later. Returns the customers it did not take, which the caller writes in full now, and
   * the ids whose fence failed (another instance wrote them; the batch must run again).
   */
  writeDecisions(staged: readonly StagedCustomer[], now: number, committed?: ReadonlyMap<string, number>): Promise<{ readonly rest: StagedCustomer[]; readonly fenced: readonly string[] }>;
  /** The lowest offset of `stream` applied to a state not written yet: a commit must stay below it. */
  firstUnwritten(stream: string): number | undefined;
  /** Customers held unwritten now. */
  readonly pendingCustomers: number;
}

export function isWriteBehindStore(store: StateStore): store is WriteBehindStore {
  return typeof (store as Partial<WriteBehindStore>).defer === 'function';
}

/** Fenced flushes tried (rebuilding the fenced states in between) before the flush fails, retriably. */
const FLUSH_ATTEMPTS = 4;
/** Most pending states one pipelined flush write carries (see flush). */
export const FLUSH_CHUNK = 256;

export class HotCachedStore implements WriteBehindStore {
  readonly kind: StateStore['kind'];
  readonly rules: StateStore['rules'];
  private readonly entries: LRUCache<string, Entry>;
  /** Changed and not written yet (defer/flush); a customer is here or in `entries`, never both. */
  private readonly pending: PendingStates;
  /** Moves on every revocation: a write of customers loaded before it is not kept. */
  private epoch = 0;

  constructor(
    private readonly inner: WriteReturningStore,
    private readonly options: HotCacheOptions,
  ) {
    this.kind = inner.kind;
    this.rules = inner.rules;
    this.pending = new PendingStates(inner.rules, options.restore);
    this.entries = new LRUCache<string, Entry>({
      max: options.maxCustomers,
      maxSize: options.maxBytes,
      sizeCalculation: (e) => Math.max(1, HEAP_PER_STORED_BYTE * inner.storedBytes(e.stored)),
      ...(options.ttlMs !== undefined ? { ttl: options.ttlMs, ttlAutopurge: false } : {}),
    });
  }

  /** Customers cached now (written; pending ones not counted). */
  get size(): number {
    return this.entries.size;
  }

  get pendingCustomers(): number {
    return this.pending.size;
  }

  async load(customerIds: readonly string[]): Promise<LoadedCustomer[]> {
    const epoch = this.epoch;
    const out = new Array<LoadedCustomer>(customerIds.length);
    const missing: number[] = [];
    const rebuild: number[] = [];
    customerIds.forEach((id, i) => {
      const p = this.pending.get(id);
      if (p !== undefined) {
        // Pending: handed over in place like a cached entry, but the record stays (with its redo log)
        // until a write stores the state. No state here: a batch that held it failed, or a write was
        // fenced since; it is rebuilt from the store.
        if (p.state === undefined) rebuild.push(i);
        else {
          out[i] = { state: p.state, version: p.version, stored: { epoch, inner: p.stored } satisfies Tagged };
          p.state = undefined;
        }
        return;
      }
      // Taken out, not copied: the batch stages on this very object, and only its successful write puts
      // a state back. A batch that fails before its write leaves the customer uncached, so its rerun
      // (or the next batch) reads what Redis holds — as after an uncertain write. One batch at a time
      // loads (the topology's concatMap), so nobody else holds a taken entry.
      const e = this.entries.get(id);
      if (e) {
        this.entries.delete(id);
        out[i] = { state: e.state, version: e.version, stored: { epoch, inner: e.stored } satisfies Tagged };
      } else missing.push(i);
    });
    if (missing.length > 0) {
      const read = await this.inner.load(missing.map((i) => customerIds[i]!));
      missing.forEach((i, j) => {
        const l = read[j]!;
        out[i] = { state: l.state, version: l.version, stored: { epoch, inner: l.stored } satisfies Tagged, read: true };
      });
    }
    if (rebuild.length > 0) {
      const records = rebuild.map((i) => this.pending.get(customerIds[i]!)!);
      await this.rebuildFromStore(records);
      rebuild.forEach((i, j) => {
        const p = records[j]!;
        out[i] = { state: p.state!, version: p.version, stored: { epoch, inner: p.stored } satisfies Tagged, read: true };
        p.state = undefined;
      });
    }
    const read = missing.length + rebuild.length;
    if (customerIds.length > read) this.options.onHits?.(customerIds.length - read);
    if (read > 0) this.options.onMisses?.(read);
    return out;
  }

  defer(staged: readonly StagedCustomer[], now: number): StagedCustomer[] {
    const rest: StagedCustomer[] = [];
    for (const s of staged) {
      const tag = s.loaded.stored as Tagged | undefined;
      // Loaded before a revocation (maybe of a partition gone), or not by this cache: written now, as before.
      if (tag === undefined || tag.epoch !== this.epoch) {
        rest.push(s);
        continue;
      }
      const id = s.state.customerId;
      const p = this.pending.get(id);
      // Only redeliveries: nothing changed, and it is back in the cache as it was loaded.
      if (p === undefined && s.outcomes.every((o) => o === 'duplicate')) this.entries.set(id, { state: s.state, version: s.loaded.version, stored: tag.inner });
      // Loaded from here, the record keeps its version and stored form (dropOutbox may have moved the latter meanwhile).
      else this.keepPending(s, now, p, p?.version ?? s.loaded.version, p?.stored ?? tag.inner);
    }
    return rest;
  }

  /**
   * The staged customer stays pending, fenced on `version` and `stored`: its pending record `p` (the
   * caller's lookup) takes the batch's state and its deltas join the redo log (which runs from the
   * last state write, whatever moved the version since); without one, a record starts with them.
   */
  private keepPending(s: StagedCustomer, now: number, p: PendingState | undefined, version: number, stored: unknown): void {
    const applied = s.deltas.filter((_, k) => s.outcomes[k] !== 'duplicate');
    if (p === undefined) {
      this.pending.add({ customerId: s.state.customerId, state: s.state, version, stored, redo: applied.length > 0 ? [applied] : [], epoch: this.epoch, since: now });
      return;
    }
    p.state = s.state;
    p.version = version;
    p.stored = stored;
    if (applied.length > 0) this.pending.append(p, applied);
  }

  async writeDecisions(staged: readonly StagedCustomer[], now: number, committed?: ReadonlyMap<string, number>): Promise<{ readonly rest: StagedCustomer[]; readonly fenced: readonly string[] }> {
    const rest: StagedCustomer[] = [];
    const taken: StagedCustomer[] = [];
    for (const s of staged) {
      const tag = s.loaded.stored as Tagged | undefined;
      // Not ours to hold (see defer), or the customer has no decision of its own to store: written in full.
      if (this.options.restore === undefined || tag === undefined || tag.epoch !== this.epoch || !hasOutboxEntries(s.state)) rest.push(s);
      else taken.push(s);
    }
    if (taken.length === 0) return { rest, fenced: [] };
    // Entries of committed offsets are never read again: not stored (commitStaged trims the same way).
    if (committed !== undefined && committed.size > 0) for (const s of taken) trimOutbox(s.state, committed);
    // The version and stored form a pending customer's record holds are the ones it was handed out with.
    let after: readonly ({ readonly version: number; readonly stored: unknown } | undefined)[];
    try {
      after = await this.inner.writeOutboxReturning(taken.map((s) => ({ state: s.state, version: s.loaded.version, stored: (s.loaded.stored as Tagged).inner })));
    } catch (err) {
      // May or may not have run: nothing taken is kept (a pending one is rebuilt from the store, the others read fresh).
      this.drop(taken.map((s) => s.state.customerId), 'unknown');
      throw err;
    }
    const fenced: string[] = [];
    taken.forEach((s, i) => {
      const a = after[i];
      if (a === undefined) fenced.push(s.state.customerId);
      else this.keepPending(s, now, this.pending.get(s.state.customerId), a.version, a.stored); // the version moved, the stored state did not
    });
    if (fenced.length > 0) this.dropAllCached();
    return { rest, fenced };
  }

  firstUnwritten(stream: string): number | undefined {
    return this.pending.firstUnwritten(stream);
  }

  async flush(until?: number, max?: number): Promise<void> {
    // In pipelined writes of FLUSH_CHUNK customers, one after the other: a write encodes its states
    // synchronously (≈0.1 ms each at 90 days), so 2,000 states due at once after a catch-up held the
    // event loop for ≈200 ms — fetches, heartbeats and probes included (bench/warm-profile).
    const due = this.pending.oldest(until, max);
    for (let i = 0; i < due.length; i += FLUSH_CHUNK) {
      // Still pending as listed (nothing else writes pending states while the schedule flushes; kept as a guard).
      await this.flushChunk(due.slice(i, i + FLUSH_CHUNK).filter((p) => this.pending.get(p.customerId) === p));
    }
  }

  private async flushChunk(chunk: readonly PendingState[]): Promise<void> {
    let records = chunk;
    for (let attempt = 1; records.length > 0; attempt++) {
      const stale = records.filter((p) => p.state === undefined);
      if (stale.length > 0) await this.rebuildFromStore(stale);
      // A write that throws may or may not have run: the records stay as they are, and if it ran, the
      // next flush's fence sends them to a rebuild (which finds everything applied).
      const after = await this.inner.writeReturning(records.map((p) => ({ state: p.state!, loaded: { state: p.state!, version: p.version, stored: p.stored } })));
      const fenced: PendingState[] = [];
      records.forEach((p, i) => {
        const a = after[i];
        if (a === undefined) {
          p.state = undefined; // rebuilt on the store's newer copy next round
          fenced.push(p);
          return;
        }
        this.pending.delete(p.customerId);
        if (p.epoch === this.epoch) this.entries.set(p.customerId, { state: a.state, version: a.version, stored: a.stored });
      });
      records = fenced;
      if (fenced.length === 0) return;
      this.dropAllCached();
      if (attempt >= FLUSH_ATTEMPTS) {
        throw new ChurnflowError('CF_STATE_FENCED', `${fenced.length} pending customer state(s) stayed fenced after ${attempt} rebuilds (another instance keeps writing them); the flush runs again`, { retriable: true });
      }
    }
  }

  async write(writes: readonly CustomerWrite[]): Promise<readonly string[]> {
    if (writes.length === 0) return [];
    // A LoadedCustomer not from this cache's load() (no tag) is written but not kept.
    const tags = writes.map((w): Tagged => (w.loaded.stored as Tagged | undefined) ?? { epoch: -1, inner: undefined });
    let after: readonly (LoadedCustomer | undefined)[];
    try {
      after = await this.inner.writeReturning(writes.map((w, i) => ({ state: w.state, loaded: { state: w.loaded.state, version: w.loaded.version, stored: tags[i]!.inner } })));
    } catch (err) {
      // Timed out or connection lost: each script may or may not have run. Read them fresh next time.
      this.drop(writes.map((w) => w.state.customerId), 'unknown');
      throw err;
    }
    const fenced: string[] = [];
    writes.forEach((w, i) => {
      const a = after[i];
      const id = w.state.customerId;
      if (!a) fenced.push(id);
      // Loaded before a revocation: the customer's partition may be gone already; keep nothing.
      else if (tags[i]!.epoch !== this.epoch) this.entries.delete(id);
      else this.entries.set(id, { state: a.state, version: a.version, stored: a.stored });
    });
    writes.forEach((w, i) => {
      // Written: what was pending is stored now (its state was handed to this batch and written with it).
      if (after[i] !== undefined) this.pending.delete(w.state.customerId);
    });
    if (fenced.length > 0) this.dropAllCached();
    return fenced;
  }

  /** Pending states read again: the store's current copy plus each one's redo log (one pipelined load). */
  private async rebuildFromStore(records: readonly PendingState[]): Promise<void> {
    const fresh = await this.inner.load(records.map((p) => p.customerId));
    records.forEach((p, j) => this.pending.rebuild(p, fresh[j]!));
  }

  /** Another instance writes our customers: whatever it took over, none of our copies can be trusted. */
  private dropAllCached(): void {
    const n = this.entries.size;
    this.entries.clear();
    this.pending.invalidate(); // kept with their redo logs, rebuilt from the store before their next use
    this.options.onDropped?.('fenced', n);
  }

  /**
   * Partitions ("topic/partition" streams) this instance no longer owns: their customers leave the cache
   * (a customer's state names its streams in `positions`), and writes of anything loaded before now are
   * not kept.
   */
  revoke(streams: readonly string[]): void {
    this.epoch++;
    if (streams.length === 0) return;
    const gone = new Set(streams);
    const ids: string[] = [];
    for (const [id, e] of this.entries.entries()) {
      for (const stream in e.state.positions) {
        if (gone.has(stream)) {
          ids.push(id);
          break;
        }
      }
    }
    this.drop(ids, 'revoked');
  }

  /**
   * The cached copies lose the entries at once, then the store deletes them: the next write of a cached
   * customer neither re-sends them nor deletes them again. A customer taken out by a batch in flight is
   * not in the cache: its write keeps the entries it holds in its copy, where they are absent from the
   * store already, and its next trim (or commitStaged's) drops them again (an HDEL of nothing). Should
   * the store's delete fail, the store keeps entries the cache no longer shows: the caller retries it
   * (outbox-trimmer.ts); until then they cost memory, never correctness (nobody reads them again).
   * No recency or TTL change: a trim is not a use, and Redis' idle TTL is refreshed only by writes.
   */
  dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    for (const { customerId, keys } of drops) {
      const e: { state: CustomerState | undefined; stored: unknown } | undefined = this.entries.peek(customerId) ?? this.pending.get(customerId);
      if (e === undefined) continue;
      if (e.state !== undefined) for (const key of keys) delete e.state.outbox[key];
      e.stored = this.inner.storedWithoutOutbox(e.stored, keys);
    }
    return this.inner.dropOutbox(drops);
  }

  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    return applyDeltas(this, deltas, observe, onStart);
  }

  // Reads for other purposes (drift samples, the HTTP lookup, scans) go to the store: they must see what
  // any instance wrote, and must not fill the cache with customers of other partitions. A pending
  // customer is the exception: Redis does not have its latest events yet, and the drift sample must
  // read the state as applied (callers only read what get() returns). One a batch holds now (the HTTP
  // lookup runs beside batches) or that must be rebuilt is read as Redis plus its redo log, into a copy
  // the pending record does not take: the record changes only between batches.
  async get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    if (this.pending.size === 0) return this.inner.get(customerIds);
    const out = new Array<CustomerState | null>(customerIds.length).fill(null);
    const fromStore: number[] = [];
    const replay: number[] = [];
    customerIds.forEach((id, i) => {
      const p = this.pending.get(id);
      if (p === undefined) fromStore.push(i);
      else if (p.state === undefined) replay.push(i);
      else out[i] = p.state;
    });
    if (replay.length > 0) {
      const fresh = await this.inner.load(replay.map((i) => customerIds[i]!));
      replay.forEach((i, j) => {
        const p = this.pending.get(customerIds[i]!);
        // Written meanwhile (the batch holding it stored it): what Redis holds is the state.
        out[i] = p === undefined ? fresh[j]!.state : this.pending.replay(p, fresh[j]!.state);
      });
    }
    if (fromStore.length > 0) {
      const read = await this.inner.get(fromStore.map((i) => customerIds[i]!));
      fromStore.forEach((i, j) => (out[i] = read[j]!));
    }
    return out;
  }

  scan(pageSize?: number): AsyncIterable<CustomerState[]> {
    return this.inner.scan(pageSize);
  }

  scanIds(pageSize?: number, options?: { readonly unique?: boolean }): AsyncIterable<string[]> {
    return this.inner.scanIds(pageSize, options);
  }

  stats(): Promise<StoreStats> {
    return this.inner.stats();
  }

  /** Pending states are not written here: the topology flushes before its last commit (a close without it is an abort). */
  async close(): Promise<void> {
    this.entries.clear();
    await this.inner.close();
  }

  private drop(ids: readonly string[], reason: 'revoked' | 'fenced' | 'unknown'): void {
    let n = 0;
    for (const id of ids) if (this.entries.delete(id)) n++;
    if (n > 0) this.options.onDropped?.(reason, n);
  }
}
