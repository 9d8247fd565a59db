// Runs the snapshot topology over a list of NDJSON-shaped events through a real file source.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { trainingSnapshotTopology, type SnapshotResult } from '../../topologies/training-snapshot.topology.js';
import { DEFAULT_VALIDATION_RULES } from '../../src/events/validate-event.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import type { CompiledSpec } from '../../src/features/compile-spec.js';
import type { SnapshotRowSink } from '../../src/sinks/parquet-snapshot-writer.js';
import type { LabelFile } from '../../src/sources/label-file.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { createFileSource } from '../../src/sources/file-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { fixedClock } from '../../src/time/clock.js';

export async function runSnapshot(
  events: readonly (ActivityEventJson | string)[],
  spec: CompiledSpec,
  now: number,
  schedule: { everyDays: number; warmupDays: number } | { labels: LabelFile } = { everyDays: 7, warmupDays: 14 },
  rows?: SnapshotRowSink,
): Promise<SnapshotResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-snap-'));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, events.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');
  const clock = fixedClock(now);
  return lastValueFrom(
    trainingSnapshotTopology(
      { source: createFileSource(file, clock), decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, clock, ...(rows ? { rows } : {}) },
      { allowedLatenessMs: 3_600_000, batch: { maxSize: 256, maxWaitMs: 5 }, maxInFlight: 1024, schedule },
    ),
  );
}
