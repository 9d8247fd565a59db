// A RecordSource that reports each record received to the ProgressTracker; the topology reports each
// acknowledged batch (its outputs done: the progress /readyz asks about) through its onAcknowledged
// edge. Commits are no measure of it: with write-behind a commit may stop short of a batch's records.
import { tap } from 'rxjs';
import type { RecordSource } from '../sources/record-source.js';
import type { ProgressTracker } from './progress-tracker.js';

export function reportProgress(source: RecordSource, progress: ProgressTracker): RecordSource {
  return {
    name: source.name,
    records: (flow) => source.records(flow).pipe(tap(() => progress.received(1))),
    // The source's answer passes through: it says which streams' commits were confirmed.
    commit: (records) => source.commit(records),
    // Without it the commit schedule would hold (and retry) a revoked partition's records forever.
    ...(source.isCurrent ? { isCurrent: (r) => source.isCurrent!(r) } : {}),
    ...(source.progress ? { progress: () => source.progress!() } : {}),
    stop: () => source.stop(),
    close: () => source.close(),
  };
}
