// In-memory state store: the embedded demo's and replay's store. Same semantics as Redis (the same
// transition runs on both, see stage-deltas.ts), bounded by bucket expiry and a per-customer byte budget.
import { checkOutState, cloneState, committedState, emptyState, keepState, reclaimState, rollBackState, stateBytes, type CheckedOutState, type CustomerState, type StateDelta } from './customer-state.js';
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

interface Stored {
  state: CustomerState;
  version: number;
  /** Set while a batch holds the state (load → write, or → the next load if the batch was dropped): what it held before. */
  out: CheckedOutState | undefined;
}

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly customers = new Map<string, Stored>();
  private closed = false;

  constructor(readonly rules: MemoryStoreOptions) {}

  async load(customerIds: readonly string[]): Promise<LoadedCustomer[]> {
    this.assertOpen();
    return customerIds.map((id) => {
      const c = this.customers.get(id);
      if (c === undefined) return { state: emptyState(id), version: 0 };
      // The stored state itself, checked out: the transition changes it in place, and a batch that fails
      // before its write must leave what the store holds as it was. The checkout journals the days the
      // batch changes (each copied before its first change) and keeps the small containers' old copies;
      // a load of a state still checked out (its batch was dropped) rolls it back first, and reads in the
      // meantime (get, stats) see what it held. Against a copy per load (lendState, until session 22) no
      // second state is made, and the state keeps its window totals and cached floors between batches:
      // a batch of replay loads nearly one customer per event.
      if (c.out !== undefined) rollBackState(c.state, c.out);
      c.out = checkOutState(c.state);
      return { state: c.state, version: c.version };
    });
  }

  async write(writes: readonly CustomerWrite[]): Promise<readonly string[]> {
    this.assertOpen();
    const fenced: string[] = [];
    for (const w of writes) {
      const id = w.state.customerId;
      const c = this.customers.get(id);
      const current = c?.version ?? 0;
      if (current !== w.loaded.version) fenced.push(id);
      else if (c !== undefined && c.state === w.state) {
        // The checked-out state written back: its changes are kept.
        if (c.out !== undefined) keepState(c.state);
        c.out = undefined;
        c.version = current + 1;
      } else {
        // Another object (a new customer's state): the store takes it over, since nobody touches a
        // state after writing it. A checkout of the one it replaces no longer matters.
        this.customers.set(id, { state: w.state, version: current + 1, out: undefined });
      }
    }
    return fenced;
  }

  /** From the stored state, and from what a checked-out one held (the entries are committed: no batch needs them). */
  async dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    this.assertOpen();
    for (const { customerId, keys } of drops) {
      const c = this.customers.get(customerId);
      if (c === undefined) continue;
      for (const key of keys) {
        delete c.state.outbox[key];
        if (c.out !== undefined) delete c.out.outbox[key];
      }
    }
  }

  apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    return applyDeltas(this, deltas, observe, onStart);
  }

  async get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    this.assertOpen();
    return customerIds.map((id) => {
      const c = this.customers.get(id);
      if (c === undefined) return null;
      return c.out !== undefined ? committedState(c.state, c.out) : cloneState(c.state);
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
      reclaimState(c.state); // a stored state lent to a reader's copy (get)
      bytes += stateBytes(c.out !== undefined ? committedState(c.state, c.out) : c.state, this.rules.layout);
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
