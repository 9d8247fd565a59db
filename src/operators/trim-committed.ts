// After a commit: delete the outbox entries of the customers written since the previous one, below the
// confirmed committed offsets (src/state/outbox-trimmer.ts), in the background. The entries are the
// decisions of those batches and of earlier ones still held; redeliveries (customers a batch did not
// write) are trimmed alike. With a commit interval several batches share a commit: their customers
// wait here (the live state objects, read when the commit comes) and are trimmed together.
import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import { isCommittedKey, type CustomerState } from '../state/customer-state.js';
import type { OutboxTrimmer } from '../state/outbox-trimmer.js';
import type { DecidedBatch } from './batch.js';

/** Most customers kept waiting for a later commit; beyond it they wait for their next write (as before the prompt deletes). */
const MAX_WAITING = 100_000;

export class TrimOnCommit {
  private readonly waiting = new Map<string, Readonly<CustomerState>>();

  constructor(
    private readonly trimmer: OutboxTrimmer,
    private readonly committed: CommittedOffsets,
  ) {}

  /** A processed batch: its customers holding outbox entries wait for the next commit. */
  hold(batch: DecidedBatch): void {
    for (const s of batch.staged) {
      for (const _ in s.state.outbox) {
        this.waiting.set(s.state.customerId, s.state);
        break;
      }
    }
  }

  /**
   * A commit was confirmed: start the deletes. A customer with entries the commit did not reach (with
   * write-behind a commit stops before the first unwritten record, so it can trail the decisions) keeps
   * waiting for a later one, so a drained engine leaves none at rest.
   */
  committedNow(): void {
    if (this.waiting.size === 0) return;
    const committed = this.committed.snapshot();
    this.trimmer.trim(this.waiting.values(), committed);
    for (const [id, state] of this.waiting) {
      let beyond = false;
      for (const key in state.outbox) {
        // Only entries of streams this engine commits can be reached later (not those of a partition it never had).
        if (!isCommittedKey(key, committed) && committed.has(key.slice(0, key.lastIndexOf('@')))) {
          beyond = true;
          break;
        }
      }
      if (!beyond || this.waiting.size > MAX_WAITING) this.waiting.delete(id);
    }
  }
}

export function holdForTrim<B extends DecidedBatch>(trim: TrimOnCommit): MonoTypeOperatorFunction<B> {
  return tap((batch) => trim.hold(batch));
}
