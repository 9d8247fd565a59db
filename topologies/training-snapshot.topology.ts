// Point-in-time training set: replay events through the same decode → validate → event time →
// state path as scoring, and at each observation time take feature rows from state as of that
// instant. Two ways to choose the rows:
// - grid: every `everyDays`, every customer active then (after signup, if the spec names one; else
//   after their first event); a row's label (the spec's label event within the horizon) is known
//   once the watermark passes the end of its horizon, and the row is written then — so memory holds
//   one horizon of rows, not the set. Rows whose horizon runs past the data are counted, not written.
// - labels file: exactly the (customer, observation time, label, group) rows the file lists, taken
//   at the start of the observation's UTC day, written as soon as they are taken.
// Rows go to a sink as they are labelled (the Parquet writer streams them in row groups).
import { concatMap, count, defer, from, tap, type Observable, type SchedulerLike } from 'rxjs';
import { ChurnflowError } from '../src/errors.js';
import { DAY_MS } from '../src/events/activity-event.js';
import { toDeadLetter } from '../src/events/dead-letter.js';
import type { Accepted, Rejected, Routed } from '../src/events/routed.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { DeadLetterRecord } from '../src/events/wire-types.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch, type MicroBatchOptions } from '../src/operators/micro-batch.js';
import { insertObservationMarkers, type GridSchedule, type ObservationMarker } from '../src/operators/observation-markers.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { validateEvents } from '../src/operators/validate-events.js';
import type { RecordDecoder } from '../src/serde/record-decoder.js';
import type { SnapshotRow, SnapshotRowSink } from '../src/sinks/parquet-snapshot-writer.js';
import type { LabelFile } from '../src/sources/label-file.js';
import { emptyState, type CustomerState } from '../src/state/customer-state.js';
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
  /** Where labelled rows go, in observation order; without it they are collected into the result. */
  readonly rows?: SnapshotRowSink;
  readonly scheduler?: SchedulerLike;
  /** The event-time tracker under the run's watermark rule (src/compose/event-time-policy.ts); default: lateness only. */
  readonly watermarks?: WatermarkTracker;
}

/** The rows a labels file asks for instead of the grid. */
export interface LabelSchedule {
  readonly labels: LabelFile;
}

export interface SnapshotOptions {
  readonly allowedLatenessMs: number;
  readonly batch: MicroBatchOptions;
  readonly maxInFlight: number;
  readonly schedule: GridSchedule | LabelSchedule;
  /** Called after each batch (progress lines); stats are live, do not keep them. */
  readonly onProgress?: (stats: Readonly<SnapshotStats>) => void;
}

export interface SnapshotStats {
  records: number;
  accepted: number;
  deadLetters: number;
  late: number;
  beforeSignup: number;
  observations: number[];
  /** Rows written (labelled). */
  rows: number;
  positives: number;
  /** Grid rows whose label horizon runs past the end of the data: not written (their label is unknown). */
  unlabelledRows: number;
  /** Grid: customers left out at an observation because the spec's signup value is missing (counted per observation). */
  withoutSignup: number;
  /** Labels file: rows listed without a label (not written). */
  labelsWithoutLabel: number;
  /** Labels file: rows written for customers with no event before the observation (features of an empty history). */
  labelsWithoutHistory: number;
  /** Labels file: rows written although the observation is before the customer's signup (or the signup is unknown). */
  labelsBeforeSignup: number;
  dataStart: number | null;
  dataEnd: number | null;
}

export interface SnapshotResult {
  /** The rows, when no row sink was given; empty otherwise (they went to the sink). */
  readonly rows: SnapshotRow[];
  readonly stats: SnapshotStats;
}

interface PendingRow {
  readonly customerId: string;
  readonly observationTime: number;
  readonly features: Float64Array;
}

/** Whether the customer has any event before t (a day bucket starting before it, or archived history). */
function hasHistoryBefore(state: Readonly<CustomerState>, t: number): boolean {
  for (const _ in state.archive) return true;
  for (const key in state.buckets) if (Number(key) * DAY_MS < t) return true;
  return false;
}

export function trainingSnapshotTopology(edges: SnapshotEdges, options: SnapshotOptions): Observable<SnapshotResult> {
  const { spec, store } = edges;
  return defer(() => {
    const flow = new FlowControl(options.maxInFlight);
    const watermarks = edges.watermarks ?? new WatermarkTracker({ allowedLatenessMs: options.allowedLatenessMs });
    // Grid rows waiting for their label (observation order); written once the watermark passes their horizon.
    const pending: PendingRow[] = [];
    let pendingHead = 0;
    const collected: SnapshotRow[] = [];
    const sink: SnapshotRowSink = edges.rows ?? { write: (rows) => void collected.push(...rows) };
    const labelTimes = new Map<string, number>();
    const horizonMs = spec.spec.label.horizonDays * DAY_MS;
    const labelFile = 'labels' in options.schedule ? options.schedule.labels : undefined;
    const stats: SnapshotStats = {
      records: 0,
      accepted: 0,
      deadLetters: 0,
      late: 0,
      beforeSignup: 0,
      observations: [],
      rows: 0,
      positives: 0,
      unlabelledRows: 0,
      withoutSignup: 0,
      labelsWithoutLabel: labelFile?.unlabelled ?? 0,
      labelsWithoutHistory: 0,
      labelsBeforeSignup: 0,
      dataStart: null,
      dataEnd: null,
    };
    const emit = async (rows: SnapshotRow[]) => {
      if (rows.length === 0) return;
      for (const r of rows) stats.positives += r.label;
      stats.rows += rows.length;
      await sink.write(rows);
    };
    const labelOf = (p: PendingRow): 0 | 1 => {
      const t = labelTimes.get(p.customerId);
      return t !== undefined && t >= p.observationTime && t < p.observationTime + horizonMs ? 1 : 0;
    };
    // A grid row's label is final once the watermark reaches the end of its horizon: any event accepted
    // later is at or after the watermark (earlier ones are routed late), so outside the horizon. The
    // watermark that counts is the one when the last *applied* record was routed: records already past
    // the late check but still waiting in the batcher are not in labelTimes yet.
    const routedAt = new WeakMap<Routed, number>();
    let appliedWatermark: number | undefined;
    const flushLabelled = async () => {
      const wm = appliedWatermark;
      if (wm === undefined) return;
      const ready: SnapshotRow[] = [];
      while (pendingHead < pending.length && pending[pendingHead]!.observationTime + horizonMs <= wm) {
        const p = pending[pendingHead++]!;
        ready.push({ ...p, label: labelOf(p) });
      }
      if (pendingHead > 4096 && pendingHead * 2 > pending.length) {
        pending.splice(0, pendingHead);
        pendingHead = 0;
      }
      await emit(ready);
    };

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
      const last = segment.length > 0 ? routedAt.get(segment[segment.length - 1]!) : undefined;
      if (last !== undefined) appliedWatermark = Math.max(appliedWatermark ?? last, last);
      if (edges.deadLetters && rejected.length > 0) await edges.deadLetters.write(rejected.map(toDeadLetter));
      flow.release(segment.length);
    };

    const observeGrid = async (time: number) => {
      for await (const page of store.scan(1000)) {
        for (const state of page) {
          if (spec.signupSlot !== undefined) {
            const signup = spec.signupTime(state, time);
            if (signup === null) {
              if (hasHistoryBefore(state, time)) stats.withoutSignup++;
              continue;
            }
            if (signup >= time) continue; // not a customer yet
          } else if (!hasHistoryBefore(state, time)) {
            continue; // no signup in the spec: a customer from their first event on
          }
          const churnedAt = labelTimes.get(state.customerId);
          if (churnedAt !== undefined && churnedAt < time) continue; // already gone
          pending.push({ customerId: state.customerId, observationTime: time, features: spec.evaluate(state, time) });
        }
      }
    };

    const observeListed = async (day: number, file: LabelFile) => {
      const wanted = (file.byDay.get(day) ?? []).filter((o) => o.label !== null);
      const rows: SnapshotRow[] = [];
      for (let i = 0; i < wanted.length; i += 1000) {
        const chunk = wanted.slice(i, i + 1000);
        const states = await store.get([...new Set(chunk.map((o) => o.customerId))]);
        const byId = new Map(states.flatMap((st) => (st ? [[st.customerId, st] as const] : [])));
        for (const o of chunk) {
          const state = byId.get(o.customerId);
          if (!state || !hasHistoryBefore(state, day)) stats.labelsWithoutHistory++;
          const st = state ?? emptyState(o.customerId);
          if (spec.signupSlot !== undefined) {
            const signup = spec.signupTime(st, day);
            if (signup === null || signup >= day) stats.labelsBeforeSignup++;
          }
          rows.push({ customerId: o.customerId, observationTime: o.observationTime, label: o.label!, features: spec.evaluate(st, day), group: o.group });
        }
      }
      await emit(rows);
    };

    const observe = async (time: number) => {
      stats.observations.push(time);
      if (labelFile) await observeListed(time, labelFile);
      else await observeGrid(time);
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
      await flushLabelled();
      options.onProgress?.(stats);
    };

    // The data has ended: rows whose horizon ends within it get their label; the rest is unknown.
    const finish = async (): Promise<SnapshotResult> => {
      const end = stats.dataEnd ?? 0;
      const rest: SnapshotRow[] = [];
      for (const p of pending.slice(pendingHead)) {
        if (p.observationTime + horizonMs > end) stats.unlabelledRows++;
        else rest.push({ ...p, label: labelOf(p) });
      }
      pending.length = 0;
      pendingHead = 0;
      await emit(rest);
      if (stats.rows === 0) {
        throw new ChurnflowError('CF_SNAPSHOT_EMPTY', `the snapshot has no rows: ${emptyReason(stats, labelFile !== undefined)}`, { details: { ...stats } });
      }
      return { rows: collected, stats };
    };

    const routed = edges.source.records(flow).pipe(
      tap(() => stats.records++),
      decodeRecords(edges.decoder),
      validateEvents(edges.rules, edges.clock),
      routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }, watermarks),
      tap((item) => {
        const wm = watermarks.overall();
        if (wm !== undefined) routedAt.set(item, wm);
      }),
    );
    return routed.pipe(
      insertObservationMarkers(labelFile ? { times: labelFile.days } : (options.schedule as GridSchedule), watermarks),
      microBatch<Routed | ObservationMarker>(options.batch, edges.scheduler),
      concatMap((items) => from(processBatch(items))),
      count(), // completes with the source; then the last labels are known
      concatMap(() => from(finish())),
    );
  });
}

function emptyReason(s: Readonly<SnapshotStats>, listed: boolean): string {
  const parts = [`${s.records} records read, ${s.accepted} applied, ${s.observations.length} observation times`];
  if (s.accepted === 0) parts.push('no event was applied (check the input mapping and the dead letters)');
  if (listed) parts.push(`${s.labelsWithoutLabel} listed rows without a label`);
  else {
    if (s.observations.length === 0) parts.push('the data ends before the first observation (shorten the warm-up)');
    if (s.withoutSignup > 0) parts.push(`${s.withoutSignup} customer observations left out for a missing signup value`);
    if (s.unlabelledRows > 0) parts.push(`${s.unlabelledRows} rows whose label horizon runs past the end of the data`);
  }
  return parts.join('; ');
}
