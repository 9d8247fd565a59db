// After a commit: delete the outbox entries of the customers written since the previous one, below the
// confirmed committed offsets (src/state/outbox-trimmer.ts), in the background. The entries are the
// decisions of those batches and of earlier ones still held; redeliveries (customers a batch did not
// write) are trimmed alike. With a commit interval several batches share a commit: their customers
// wait here (the live state objects, read when the commit comes) and are trimmed together.
import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { CommittedOffsets } from '../sources/committed-offsets.js';
import { outboxKeyOffset, outboxKeyStream, type CustomerState } from '../state/customer-state.js';
import type { OutboxTrimmer } from '../state/outbox-trimmer.js';
import type { DecidedBatch } from './batch.js';

/** Most customers kept waiting for a later commit; beyond it they wait for their next write (as before the prompt deletes). */
const MAX_WAITING = 100_000;

/** A waiting customer: its live state, and per stream the lowest and highest offset of its outbox keys when it was held. */
interface Waiting {
  readonly state: Readonly<CustomerState>;
  readonly spans: ReadonlyMap<string, { readonly lo: number; readonly hi: number }>;
}

/** Per stream, the lowest and highest offset among the outbox keys (`<stream>@<offset>`); undefined when there are none. */
function outboxSpans(outbox: Readonly<Record<string, string>>): Map<string, { lo: number; hi: number }> | undefined {
  let spans: Map<string, { lo: number; hi: number }> | undefined;
  for (const key in outbox) {
    const stream = outboxKeyStream(key);
    const offset = outboxKeyOffset(key);
    spans ??= new Map();
    const span = spans.get(stream);
    if (span === undefined) spans.set(stream, { lo: offset, hi: offset });
    else {
      if (offset < span.lo) span.lo = offset;
      if (offset > span.hi) span.hi = offset;
    }
  }
  return spans;
}

export class TrimOnCommit {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly trimmer: OutboxTrimmer,
    private readonly committed: CommittedOffsets,
  ) {}

  /** A processed batch: its customers holding outbox entries wait for the next commit. */
  hold(batch: DecidedBatch): void {
    for (const s of batch.staged) {
      // The keys are read here, once per batch that holds the customer, so a commit compares a few
      // numbers per waiting customer instead of parsing every key of every waiting customer.
      const spans = outboxSpans(s.state.outbox);
      if (spans !== undefined) this.waiting.set(s.state.customerId, { state: s.state, spans });
    }
  }

  /**
   * A commit was confirmed: start the deletes. A customer with entries the commit did not reach (with
   * write-behind a commit stops before the first unwritten record, so it can trail the decisions) keeps
   * waiting for a later one, so a drained engine leaves none at rest. Only customers with an entry below
   * the commit go to the trimmer (for the others it would find nothing to delete).
   */
  committedNow(): void {
    if (this.waiting.size === 0) return;
    const committed = this.committed.snapshot();
    const due: Readonly<CustomerState>[] = [];
    for (const [id, { state, spans }] of this.waiting) {
      let below = false;
      let beyond = false;
      for (const [stream, { lo, hi }] of spans) {
        // Only entries of streams this engine commits can be reached later (not those of a partition it never had).
        const next = committed.get(stream);
        if (next === undefined) continue;
        if (lo < next) below = true;
        if (hi >= next) beyond = true;
      }
      if (below) due.push(state);
      if (!beyond || this.waiting.size > MAX_WAITING) this.waiting.delete(id);
    }
    // Called even with none due: it also sends again the deletes that failed before.
    this.trimmer.trim(due, committed);
  }
}

export function holdForTrim<B extends DecidedBatch>(trim: TrimOnCommit): MonoTypeOperatorFunction<B> {
  return tap((batch) => trim.hold(batch));
}
