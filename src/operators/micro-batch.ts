// Groups items into micro-batches: a batch closes when it holds maxSize items or maxWaitMs after its
// first item arrived, whichever comes first; the rest is flushed when the source completes.
import { Observable, asyncScheduler, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';

export interface MicroBatchOptions {
  readonly maxSize: number;
  readonly maxWaitMs: number;
}

export function microBatch<T>(options: MicroBatchOptions, scheduler: SchedulerLike = asyncScheduler): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const sub = source.subscribe({
        next(item) {
          batch.push(item);
          if (batch.length >= options.maxSize) flush();
          else if (!timer) timer = scheduler.schedule(flush, options.maxWaitMs);
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
        sub.unsubscribe();
      };
    });
}
