// Whether the stateful stages are busy: batches handed to them and not finished yet. The micro-batcher
// reads it to close a batch at the end of a fetch only when nothing is waiting (micro-batch.ts).
import { Subject, type Observable } from 'rxjs';
import type { Routed } from '../events/routed.js';
import type { BatchBoundaries } from './micro-batch.js';

export class BatchActivity {
  private inStages = 0;
  private readonly idle$ = new Subject<void>();

  /** A batch left the micro-batcher. */
  started(): void {
    this.inStages++;
  }

  /** A batch went through every stage (or failed). */
  finished(): void {
    this.inStages = Math.max(0, this.inStages - 1);
    if (this.inStages === 0) this.idle$.next();
  }

  get idle(): boolean {
    return this.inStages === 0;
  }

  get becameIdle(): Observable<void> {
    return this.idle$;
  }

  /**
   * Fetch ends as the source marks them (RawRecord.endOfFetch), and this activity. A close at a fetch
   * end waits for setImmediate: kafkajs delivers the partitions of one fetch response one after the
   * other in promise callbacks, all before the next I/O phase, so the batch takes every partition's
   * records instead of leaving all but the first to wait for it.
   */
  boundaries(): BatchBoundaries<Routed> {
    return { endsFetch: (item) => item.record.endOfFetch === true, idle: () => this.idle, becameIdle: this.idle$, settle: settleAfterIo };
  }
}

function settleAfterIo(close: () => void): () => void {
  const handle = setImmediate(close);
  return () => clearImmediate(handle);
}
