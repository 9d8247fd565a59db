// Groups items into micro-batches: a batch closes when it holds maxSize items or maxWaitMs after its
// first item arrived, whichever comes first; the rest is flushed when the source completes. With
// `boundaries`, a batch also closes at the end of what the source fetched together (a Kafka fetch) as
// soon as downstream is idle: a lone event does not wait out the timer, and while downstream is busy
// the batch keeps filling, so a loaded engine still runs few, large batches.
import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface MicroBatchOptions {
  readonly maxSize: number;
  readonly maxWaitMs: number;
}

export interface BatchBoundaries<T> {
  /** The item is the last of a unit the source delivered together (a fetched Kafka batch). */
  readonly endsFetch: (item: T) => boolean;
  /** Whether downstream is waiting for work (no batch being processed or queued). */
  readonly idle: () => boolean;
  /** Emits whenever downstream becomes idle. */
  readonly becameIdle: Observable<unknown>;
}

export function microBatch<T>(options: MicroBatchOptions, scheduler: SchedulerLike = asyncScheduler, boundaries?: BatchBoundaries<T>): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      /** The batch holds the end of a fetch: it may close as soon as downstream is idle. */
      let atBoundary = false;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        atBoundary = false;
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const idleSub = boundaries?.becameIdle.subscribe(() => {
        if (atBoundary) flush();
      });
      const sub = source.subscribe({
        next(item) {
          batch.push(item);
          if (batch.length >= options.maxSize) return flush();
          if (boundaries?.endsFetch(item)) {
            atBoundary = true;
            if (boundaries.idle()) return flush();
          }
          if (!timer) timer = scheduler.schedule(flush, options.maxWaitMs);
        },
        error(err) {
          timer?.unsubscribe();
          subscriber.error(err);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        idleSub?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
