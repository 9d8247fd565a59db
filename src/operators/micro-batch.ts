// Groups items into micro-batches: a batch closes when it holds maxSize items or maxWaitMs after its
// first item arrived, whichever comes first; the rest is flushed when the source completes. With
// `boundaries`, a batch also closes at the end of what the source fetched together (a Kafka fetch) as
// soon as downstream is idle: a lone event does not wait out the timer, and while downstream is busy
// the batch keeps filling (past maxWaitMs too, up to maxSize) until it is idle, so a loaded engine
// runs few, large batches and no queue of small ones builds up behind the running one. `settle` defers that close
// until the rest of what arrived together is in: kafkajs hands a fetch response over one partition at
// a time, each ending in a fetch end, and closing after the first would leave the others to wait a
// whole batch.
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
  /**
   * Runs `close` once what the source delivered together has all arrived (e.g. after the current
   * I/O callback); returns a cancel function. Absent: a batch closes at its fetch end at once.
   */
  readonly settle?: (close: () => void) => () => void;
}

export function microBatch<T>(options: MicroBatchOptions, scheduler: SchedulerLike = asyncScheduler, boundaries?: BatchBoundaries<T>): OperatorFunction<T, T[]> {
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      let timer: Subscription | undefined;
      /** The batch holds the end of a fetch: it may close as soon as downstream is idle. */
      let atBoundary = false;
      /** Cancels a pending settled close. */
      let settling: (() => void) | undefined;
      /** maxWaitMs passed while downstream was busy: close as soon as it is idle. */
      let due = false;
      const flush = () => {
        timer?.unsubscribe();
        timer = undefined;
        settling?.();
        settling = undefined;
        atBoundary = false;
        due = false;
        if (batch.length === 0) return;
        const out = batch;
        batch = [];
        subscriber.next(out);
      };
      const idleSub = boundaries?.becameIdle.subscribe(() => {
        if (atBoundary || due) flush();
      });
      // With boundaries, a batch closed while downstream is busy would only queue behind the running
      // one: it keeps filling instead (up to maxSize) and closes when downstream is idle, so a backlog
      // is worked off in a few large batches rather than a queue of small ones, each paying the
      // per-batch round trips.
      const onTimer = () => {
        timer = undefined;
        if (boundaries && !boundaries.idle()) due = true;
        else flush();
      };
      const sub = source.subscribe({
        next(item) {
          batch.push(item);
          if (batch.length >= options.maxSize) return flush();
          if (boundaries?.endsFetch(item)) {
            atBoundary = true;
            if (boundaries.idle()) {
              if (!boundaries.settle) return flush();
              settling ??= boundaries.settle(() => {
                settling = undefined;
                if (atBoundary && boundaries.idle()) flush();
              });
              return;
            }
          }
          if (!timer && !due) timer = scheduler.schedule(onTimer, options.maxWaitMs);
        },
        error(err) {
          timer?.unsubscribe();
          settling?.();
          subscriber.error(err);
        },
        complete() {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        settling?.();
        idleSub?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
