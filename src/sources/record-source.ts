// The input port: Kafka, files and the simulator all deliver RawRecords under flow control.
import { Observable } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import type { FlowControl } from './flow-control.js';

export interface RecordSource {
  readonly name: string;
  /** Emits records, taking a credit from `flow` before each; completes at the end of a bounded input or after stop(). */
  records(flow: FlowControl): Observable<RawRecord>;
  /**
   * Called with records whose outputs are acknowledged, in order; sources with offsets commit them.
   * May resolve with the streams whose commit was confirmed (a Kafka commit refused after a rebalance
   * is not); nothing means all of them.
   */
  commit(records: readonly RawRecord[]): Promise<ReadonlySet<string> | void>;
  /**
   * False once the record's partition was revoked from this member after the record was emitted (a
   * rebalance moved it, maybe back again since): the record must not be committed here. The group's
   * coordinator accepts a member's commit of any partition, so such a commit would move the group's
   * offset back behind the new owner's. Absent: every record stays current (files, simulator).
   */
  isCurrent?(record: RawRecord): boolean;
  /** How far a bounded source is (file bytes, offsets of a bounded Kafka replay), for progress and ETA. */
  progress?(): { done: number; total: number } | undefined;
  /** Stop fetching: the stream completes once the record in hand is emitted. */
  stop(): void;
  close(): Promise<void>;
}

/** Drives an (async) iterable of records under flow control; the shared loop of bounded sources. */
export function iterateUnderFlowControl(
  open: () => Iterable<RawRecord> | AsyncIterable<RawRecord>,
  flow: FlowControl,
  isStopped: () => boolean,
): Observable<RawRecord> {
  return new Observable<RawRecord>((subscriber) => {
    let cancelled = false;
    (async () => {
      const it = open();
      if (Symbol.asyncIterator in it) {
        for await (const rec of it as AsyncIterable<RawRecord>) {
          if (cancelled || isStopped()) break;
          if (!flow.tryAcquire()) await flow.acquire();
          subscriber.next(rec);
        }
      } else {
        for (const rec of it as Iterable<RawRecord>) {
          if (cancelled || isStopped()) break;
          // Only yield to the event loop when out of credits: keeps the synchronous fast path cheap.
          if (!flow.tryAcquire()) await flow.acquire();
          subscriber.next(rec);
        }
      }
      subscriber.complete();
    })().catch((err: unknown) => subscriber.error(err));
    return () => {
      cancelled = true;
    };
  });
}
