// In-memory state store: the embedded demo's and replay's store. Same semantics as Redis (the same
// transition runs on both, see stage-deltas.ts), bounded by bucket expiry and a per-customer byte budget.
import { cloneState, emptyState, lendState, reclaimState, stateBytes, type CustomerState, type StateDelta } from './customer-state.js';
import { ChurnflowError } from '../errors.js';
import { applyDeltas } from './stage-deltas.js';
import type { ApplyResult, CustomerWrite, LoadedCustomer, OutboxDrop, StateRules, StateStore, StartObserver, StepObserver, StoreStats } from './state-store.js';

export type MemoryStoreOptions = StateRules & {
  /**
   * stats(): encode at most this many customers, spread evenly over all, and extrapolate (default
   * 1000, as the Redis store's MEMORY USAGE sample). Encoding every customer is ≈40 µs each: with a
   * million customers a gauge refresh would hold the event loop for most of a minute.
   */
  readonly statsSampleSize?: number;
};

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly customers = new Map<string, { state: CustomerState; version: number }>();
  private closed = false;

  constructor(readonly rules: MemoryStoreOptions) {}

  async load(customerIds: readonly string[]): Promise<LoadedCustomer[]> {
    this.assertOpen();
    return customerIds.map((id) => {
      const c = this.customers.get(id);
      // A copy: the transition changes the state in place, and a batch that fails before its write must
      // leave the stored state untouched. lendState shares the buckets copy-on-write and lends their
      // container to the copy; the stored original, which only this store holds, is put on loan and
      // rebuilt (reclaimState) only if it is read again: a batch that was not written, a second load.
      return c ? { state: lendState(c.state), version: c.version } : { state: emptyState(id), version: 0 };
    });
  }

  async write(writes: readonly CustomerWrite[]): Promise<readonly string[]> {
    this.assertOpen();
    const fenced: string[] = [];
    for (const w of writes) {
      const id = w.state.customerId;
      const current = this.customers.get(id)?.version ?? 0;
      if (current !== w.loaded.version) fenced.push(id);
      // The store takes the written object over (load handed out a copy, and nobody touches a state after
      // writing it): no second copy on the hot path.
      else this.customers.set(id, { state: w.state, version: current + 1 });
    }
    return fenced;
  }

  /** The stored object's own outbox (a lent copy has its own): a batch holding a copy keeps its entries. */
  async dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    this.assertOpen();
    for (const { customerId, keys } of drops) {
      const c = this.customers.get(customerId);
      if (c) for (const key of keys) delete c.state.outbox[key];
    }
  }

  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    return applyDeltas(this, deltas, observe, onStart);
  }

  async get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    this.assertOpen();
    return customerIds.map((id) => {
      const c = this.customers.get(id);
      return c ? cloneState(c.state) : null; // cloneState reclaims a lent original first
    });
  }

  async *scan(pageSize = 500): AsyncIterable<CustomerState[]> {
    this.assertOpen();
    const ids = [...this.customers.keys()].sort();
    for (let i = 0; i < ids.length; i += pageSize) {
      const page = (await this.get(ids.slice(i, i + pageSize))).filter((s): s is CustomerState => s !== null);
      yield page;
    }
  }

  /** Map keys, each once (a Map has no repeats); memory O(pageSize). Customers added during the walk may or may not appear. */
  async *scanIds(pageSize = 1000, _options: { readonly unique?: boolean } = {}): AsyncIterable<string[]> {
    this.assertOpen();
    let page: string[] = [];
    for (const id of this.customers.keys()) {
      page.push(id);
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  /** customers: exact. bytes: the binary encoding's size, summed over every customer up to statsSampleSize, else every k-th customer's mean times customers. */
  async stats(): Promise<StoreStats> {
    const customers = this.customers.size;
    const stride = Math.max(1, Math.ceil(customers / (this.rules.statsSampleSize ?? 1000)));
    let bytes = 0;
    let measured = 0;
    let i = 0;
    for (const c of this.customers.values()) {
      if (i++ % stride !== 0) continue;
      reclaimState(c.state); // a stored state on loan to a batch that was not written
      bytes += stateBytes(c.state, this.rules.layout);
      measured++;
    }
    return { customers, bytes: measured === customers ? bytes : Math.round((bytes / Math.max(measured, 1)) * customers) };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new ChurnflowError('CF_STATE_UNAVAILABLE', 'memory state store is closed');
  }
}
