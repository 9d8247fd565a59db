// A store wrapper that keeps, in process, the state of the customers this instance has just written, so
// the next batch of a customer already seen costs one pipelined fenced write and no read. Valid because
// a customer is written only by the owner of its partition, and every write stays fenced on the version
// loaded: a cached copy that another instance made stale (it took the partition over) fails its write
// with CF_STATE_FENCED as today, and then the whole cache is dropped and the batch reloads from Redis.
// Revoked partitions drop their customers at once, and a write whose customers were loaded before a
// revocation is not kept, so a partition that moves away and back is always read fresh.
import { LRUCache } from 'lru-cache';
import type { CustomerState, StateDelta } from './customer-state.js';
import { applyDeltas } from './stage-deltas.js';
import type { ApplyResult, CustomerWrite, LoadedCustomer, OutboxDrop, StartObserver, StateStore, StepObserver, StoreStats } from './state-store.js';

/** A store that can say what a load right after a write would return (RedisStateStore). */
export interface WriteReturningStore extends StateStore {
  /** Per write: the customer as stored after it (the written state object, the new version), undefined where fenced. */
  writeReturning(writes: readonly CustomerWrite[]): Promise<readonly (LoadedCustomer | undefined)[]>;
  /** Bytes of a customer's stored form (`LoadedCustomer.stored` as this store returns it). */
  storedBytes(stored: unknown): number;
  /** A customer's stored form without these outbox entries (after dropOutbox). */
  storedWithoutOutbox(stored: unknown, keys: readonly string[]): unknown;
}

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

export class HotCachedStore implements StateStore {
  readonly kind: StateStore['kind'];
  readonly rules: StateStore['rules'];
  private readonly entries: LRUCache<string, Entry>;
  /** Moves on every revocation: a write of customers loaded before it is not kept. */
  private epoch = 0;

  constructor(
    private readonly inner: WriteReturningStore,
    private readonly options: HotCacheOptions,
  ) {
    this.kind = inner.kind;
    this.rules = inner.rules;
    this.entries = new LRUCache<string, Entry>({
      max: options.maxCustomers,
      maxSize: options.maxBytes,
      sizeCalculation: (e) => Math.max(1, HEAP_PER_STORED_BYTE * inner.storedBytes(e.stored)),
      ...(options.ttlMs !== undefined ? { ttl: options.ttlMs, ttlAutopurge: false } : {}),
    });
  }

  /** Customers cached now. */
  get size(): number {
    return this.entries.size;
  }

  async load(customerIds: readonly string[]): Promise<LoadedCustomer[]> {
    const epoch = this.epoch;
    const out = new Array<LoadedCustomer>(customerIds.length);
    const missing: number[] = [];
    customerIds.forEach((id, i) => {
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
        out[i] = { state: l.state, version: l.version, stored: { epoch, inner: l.stored } satisfies Tagged };
      });
    }
    if (customerIds.length > missing.length) this.options.onHits?.(customerIds.length - missing.length);
    if (missing.length > 0) this.options.onMisses?.(missing.length);
    return out;
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
    if (fenced.length > 0) {
      // Another instance writes our customers: whatever it took over, none of our copies can be trusted.
      const n = this.entries.size;
      this.entries.clear();
      this.options.onDropped?.('fenced', n);
    }
    return fenced;
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
      const e = this.entries.peek(customerId);
      if (e === undefined) continue;
      for (const key of keys) delete e.state.outbox[key];
      e.stored = this.inner.storedWithoutOutbox(e.stored, keys);
    }
    return this.inner.dropOutbox(drops);
  }

  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    return applyDeltas(this, deltas, observe, onStart);
  }

  // Reads for other purposes (drift samples, the HTTP lookup, scans) go to the store: they must see what
  // any instance wrote, and must not fill the cache with customers of other partitions.
  get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    return this.inner.get(customerIds);
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
