// In-memory state store: the embedded demo's and replay's store. Same semantics as Redis, bounded by
// bucket expiry and a per-customer byte budget.
import { applyDelta, cloneState, emptyState, estimateStateBytes, expireBuckets, stateBytes, type CustomerState, type LastScore, type StateDelta, type StateLayout } from './customer-state.js';
import { ChurnflowError } from '../errors.js';
import { groupByCustomer, type ApplyResult, type StateStore, type StartObserver, type StepObserver, type StoreStats } from './state-store.js';

export interface MemoryStoreOptions {
  readonly layout: StateLayout;
  /** Per-customer budget; a state above it sheds its oldest buckets into the archive (counted). */
  readonly maxBytesPerCustomer?: number;
  readonly onBudgetExceeded?: (customerId: string, bytes: number) => void;
}

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const;
  private readonly customers = new Map<string, CustomerState>();
  private closed = false;

  constructor(private readonly options: MemoryStoreOptions) {}

  async apply(deltas: readonly StateDelta[], observe?: StepObserver, onStart?: StartObserver): Promise<ApplyResult[]> {
    this.assertOpen();
    const results: ApplyResult[] = [];
    for (const [customerId, group] of groupByCustomer(deltas)) {
      const state = this.customers.get(customerId) ?? emptyState(customerId);
      onStart?.(state);
      const outcomes = group.map((d) => {
        const outcome = applyDelta(state, d, this.options.layout);
        observe?.(state, d, outcome);
        return outcome;
      });
      this.enforceBudget(state);
      this.customers.set(customerId, state);
      results.push({ customerId, deltas: group, outcomes });
    }
    return results;
  }

  async get(customerIds: readonly string[]): Promise<(CustomerState | null)[]> {
    this.assertOpen();
    return customerIds.map((id) => {
      const s = this.customers.get(id);
      return s ? cloneState(s) : null;
    });
  }

  async recordScores(scores: readonly { customerId: string; lastScore: LastScore }[]): Promise<void> {
    this.assertOpen();
    for (const { customerId, lastScore } of scores) {
      const state = this.customers.get(customerId) ?? emptyState(customerId);
      state.lastScore = { ...lastScore };
      this.customers.set(customerId, state);
    }
  }

  async *scan(pageSize = 500): AsyncIterable<CustomerState[]> {
    this.assertOpen();
    const ids = [...this.customers.keys()].sort();
    for (let i = 0; i < ids.length; i += pageSize) {
      const page = (await this.get(ids.slice(i, i + pageSize))).filter((s): s is CustomerState => s !== null);
      yield page;
    }
  }

  async stats(): Promise<StoreStats> {
    let bytes = 0;
    for (const s of this.customers.values()) bytes += stateBytes(s);
    return { customers: this.customers.size, bytes };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private enforceBudget(state: CustomerState): void {
    const budget = this.options.maxBytesPerCustomer;
    if (budget === undefined) return;
    let bytes = estimateStateBytes(state);
    if (bytes <= budget) return;
    this.options.onBudgetExceeded?.(state.customerId, bytes);
    // Shed whole days from the oldest end until the state fits; long windows lose their tail first.
    const days = Object.keys(state.buckets).map(Number).sort((a, b) => a - b);
    const layout = this.options.layout;
    for (const day of days) {
      if (bytes <= budget) break;
      expireBuckets(state, { ...layout, retentionDays: Math.floor(state.maxEventTime / 86_400_000) - day - 1 });
      bytes = estimateStateBytes(state);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new ChurnflowError('CF_STATE_UNAVAILABLE', 'memory state store is closed');
  }
}
