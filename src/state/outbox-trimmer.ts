// Deletes the outbox entries of committed offsets right after the commit that made them useless,
// instead of at their customer's next write. An entry is kept only for a redelivery of its record, and
// a consumer resumes at the committed offset, so an entry below it is never read again. Left to the
// next write, every customer kept its last decisions' entries until its next event — weeks, for most
// of a large customer base: ≈420 B a decision on a state of ≈860 B (docs/architecture.md, "Redis
// state store"). The deletes leave the batch path: they are sent when a batch's commit is confirmed
// and not awaited, so the next batch does not wait for them; a failed one is logged by the caller and
// tried again with the next batch's (or at the drain). commitStaged's trim at the next write stays:
// it drops whatever was loaded from an earlier run or never got deleted here.
import { isCommittedKey, type CustomerState } from './customer-state.js';
import type { OutboxDrop, StateStore } from './state-store.js';

export interface OutboxTrimmerOptions {
  /** A delete failed (the entries are tried again later; nothing else depends on them). */
  readonly onError?: (err: unknown, customers: number) => void;
  /** Most customers whose failed deletes are kept for a retry; beyond it they wait for their next write. Default 100,000. */
  readonly maxRetained?: number;
}

export class OutboxTrimmer {
  /** Failed deletes by customer, sent again with the next ones. */
  private readonly retained = new Map<string, Set<string>>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly store: Pick<StateStore, 'dropOutbox'>,
    private readonly options: OutboxTrimmerOptions = {},
  ) {}

  /**
   * Starts deleting the entries of these states that lie below `committed` (per stream; read now, so the
   * states may change afterwards), with any retained from failed deletes. Does not wait for the store.
   */
  trim(states: Iterable<Readonly<CustomerState>>, committed: ReadonlyMap<string, number>): void {
    const drops = new Map<string, string[]>();
    if (committed.size > 0) {
      for (const s of states) {
        let keys: string[] | undefined;
        for (const key in s.outbox) if (isCommittedKey(key, committed)) (keys ??= []).push(key);
        if (keys) drops.set(s.customerId, keys);
      }
    }
    for (const [id, keys] of this.retained) {
      const mine = drops.get(id);
      if (mine === undefined) drops.set(id, [...keys]);
      else for (const k of keys) if (!mine.includes(k)) mine.push(k);
    }
    this.retained.clear();
    if (drops.size === 0) return;
    const batch: OutboxDrop[] = [...drops].map(([customerId, keys]) => ({ customerId, keys }));
    let started: Promise<void>;
    try {
      started = this.store.dropOutbox(batch); // now, not in a later tick: the hot cache's copies change before the next batch loads
    } catch (err) {
      started = Promise.reject(err);
    }
    const sent = started
      .catch((err: unknown) => {
        const max = this.options.maxRetained ?? 100_000;
        for (const d of batch) {
          if (this.retained.size >= max && !this.retained.has(d.customerId)) break;
          const set = this.retained.get(d.customerId) ?? new Set<string>();
          for (const k of d.keys) set.add(k);
          this.retained.set(d.customerId, set);
        }
        this.options.onError?.(err, batch.length);
      })
      .finally(() => this.inFlight.delete(sent));
    this.inFlight.add(sent);
  }

  /** Customers whose failed deletes wait for a retry. */
  get pending(): number {
    return this.retained.size;
  }

  /**
   * Resolves once every delete sent so far has settled, after one more try of the failed ones: a drain
   * waits for it before the store closes, so the state at rest holds no committed entry.
   */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
    if (this.retained.size === 0) return;
    this.trim([], new Map());
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
