// Point-in-time training set: replay events through the same decode → validate → event time →
// state path as scoring, and at each observation time take every active customer's feature row from
// state as of that instant. Labels (a cancellation within the horizon) are joined at the end, and
// rows whose horizon runs past the data are dropped (their label is not known yet).
import { concatMap, count, defer, from, map, tap, type Observable, type SchedulerLike } from 'rxjs';
import { DAY_MS } from '../src/events/activity-event.js';
import { toDeadLetter } from '../src/events/dead-letter.js';
import type { Accepted, Rejected, Routed } from '../src/events/routed.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { DeadLetterRecord } from '../src/events/wire-types.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch, type MicroBatchOptions } from '../src/operators/micro-batch.js';
import { insertObservationMarkers, type ObservationMarker, type ObservationSchedule } from '../src/operators/observation-markers.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { validateEvents } from '../src/operators/validate-events.js';
import type { RecordDecoder } from '../src/serde/record-decoder.js';
import type { SnapshotRow } from '../src/sinks/parquet-snapshot-writer.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import { FlowControl } from '../src/sources/flow-control.js';
import type { RecordSource } from '../src/sources/record-source.js';
import type { StateStore } from '../src/state/state-store.js';
import type { Clock } from '../src/time/clock.js';
import { WatermarkTracker } from '../src/time/watermark.js';

export interface SnapshotEdges {
  readonly source: RecordSource;
  readonly decoder: RecordDecoder;
  readonly rules: ValidationRules;
  readonly store: StateStore;
  readonly spec: CompiledSpec;
  readonly clock: Clock;
  readonly deadLetters?: RecordSink<DeadLetterRecord>;
  readonly scheduler?: SchedulerLike;
}

export interface SnapshotOptions {
  readonly allowedLatenessMs: number;
  readonly batch: MicroBatchOptions;
  readonly maxInFlight: number;
  readonly schedule: ObservationSchedule;
}

export interface SnapshotStats {
  records: number;
  accepted: number;
  deadLetters: number;
  late: number;
  beforeSignup: number;
  observations: number[];
  unlabelledRows: number;
  dataStart: number | null;
  dataEnd: number | null;
}

export interface SnapshotResult {
  readonly rows: SnapshotRow[];
  readonly stats: SnapshotStats;
}

interface PendingRow {
  readonly customerId: string;
  readonly observationTime: number;
  readonly features: Float64Array;
}

export function trainingSnapshotTopology(edges: SnapshotEdges, options: SnapshotOptions): Observable<SnapshotResult> {
  const { spec, store } = edges;
  return defer(() => {
    const flow = new FlowControl(options.maxInFlight);
    const watermarks = new WatermarkTracker({ allowedLatenessMs: options.allowedLatenessMs });
    const pending: PendingRow[] = [];
    const labelTimes = new Map<string, number>();
    const stats: SnapshotStats = { records: 0, accepted: 0, deadLetters: 0, late: 0, beforeSignup: 0, observations: [], unlabelledRows: 0, dataStart: null, dataEnd: null };

    const applySegment = async (segment: readonly Routed[]) => {
      const accepted = segment.filter((i): i is Accepted => i.tag === 'accepted');
      const rejected = segment.filter((i): i is Rejected => i.tag === 'rejected');
      const results = await store.apply(accepted.map((a) => spec.deltaFor(a.event, a.record.position)));
      const outcomeByEvent = new Map<string, string>();
      for (const r of results) r.deltas.forEach((d, k) => outcomeByEvent.set(d.eventId, r.outcomes[k]!));
      for (const a of accepted) {
        const e = a.event;
        if (outcomeByEvent.get(e.eventId) === 'before_signup') {
          stats.beforeSignup++;
          continue;
        }
        stats.accepted++;
        stats.dataStart = Math.min(stats.dataStart ?? e.eventTime, e.eventTime);
        stats.dataEnd = Math.max(stats.dataEnd ?? e.eventTime, e.eventTime);
        if (spec.isLabelEvent(e)) labelTimes.set(e.customerId, Math.min(labelTimes.get(e.customerId) ?? e.eventTime, e.eventTime));
      }
      for (const r of rejected) r.route === 'late' ? stats.late++ : stats.deadLetters++;
      if (edges.deadLetters && rejected.length > 0) await edges.deadLetters.write(rejected.map(toDeadLetter));
      flow.release(segment.length);
    };

    const observe = async (time: number) => {
      stats.observations.push(time);
      for await (const page of store.scan(1000)) {
        for (const state of page) {
          const signup = spec.signupTime(state, time);
          if (signup === null || signup >= time) continue; // not a customer yet
          const churnedAt = labelTimes.get(state.customerId);
          if (churnedAt !== undefined && churnedAt < time) continue; // already gone
          pending.push({ customerId: state.customerId, observationTime: time, features: spec.evaluate(state, time) });
        }
      }
    };

    const processBatch = async (items: readonly (Routed | ObservationMarker)[]) => {
      let segment: Routed[] = [];
      for (const item of items) {
        if (item.tag === 'observe') {
          await applySegment(segment);
          segment = [];
          await observe(item.time);
        } else {
          segment.push(item);
        }
      }
      await applySegment(segment);
    };

    const label = (): SnapshotResult => {
      const horizonMs = spec.spec.label.horizonDays * DAY_MS;
      const end = stats.dataEnd ?? 0;
      const rows: SnapshotRow[] = [];
      for (const p of pending) {
        if (p.observationTime + horizonMs > end) {
          stats.unlabelledRows++;
          continue;
        }
        const t = labelTimes.get(p.customerId);
        const positive = t !== undefined && t >= p.observationTime && t < p.observationTime + horizonMs;
        rows.push({ ...p, label: positive ? 1 : 0 });
      }
      return { rows, stats };
    };

    return edges.source.records(flow).pipe(
      tap(() => stats.records++),
      decodeRecords(edges.decoder),
      validateEvents(edges.rules, edges.clock),
      routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }, watermarks),
      insertObservationMarkers(options.schedule, watermarks),
      microBatch<Routed | ObservationMarker>(options.batch, edges.scheduler),
      concatMap((items) => from(processBatch(items))),
      count(), // completes with the source; then the labels can be joined
      map(() => label()),
    );
  });
}
