// A RecordSource that reports to the ProgressTracker: each record received, each committed batch
// (committed = its outputs were acknowledged: the progress /readyz asks about).
import { tap } from 'rxjs';
import type { RecordSource } from '../sources/record-source.js';
import type { ProgressTracker } from './progress-tracker.js';

export function reportProgress(source: RecordSource, progress: ProgressTracker): RecordSource {
  return {
    name: source.name,
    records: (flow) => source.records(flow).pipe(tap(() => progress.received(1))),
    commit: async (records) => {
      await source.commit(records);
      progress.acknowledged(records.length);
    },
    ...(source.progress ? { progress: () => source.progress!() } : {}),
    stop: () => source.stop(),
    close: () => source.close(),
  };
}
