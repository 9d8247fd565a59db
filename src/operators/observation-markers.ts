// Inserts observation markers into the event stream for point-in-time snapshots: marker(T) is emitted
// just before the first record that moves the event-time watermark past T. Everything accepted before
// it has event_time < T or lies in a day bucket that starts at or after T, and anything with
// event_time < T arriving later is routed as late; so rows taken at the marker see exactly the past.
import { concat, defer, from, mergeMap, of, type Observable, type OperatorFunction } from 'rxjs';
import { DAY_MS } from '../events/activity-event.js';
import type { Routed } from '../events/routed.js';
import type { WatermarkTracker } from '../time/watermark.js';

/** Observations on a grid: every `everyDays` at 00:00 UTC, the first `warmupDays` after the first event. */
export interface GridSchedule {
  /** Days between observations (at 00:00 UTC). */
  readonly everyDays: number;
  /** Days after the first event before the first observation, so windows have history. */
  readonly warmupDays: number;
}

/**
 * Observations at given times (a labels file's observation days, UTC midnights), ascending. Times
 * the watermark never passes are observed when the input ends: every event is applied by then.
 */
export interface ListSchedule {
  readonly times: readonly number[];
}

export type ObservationSchedule = GridSchedule | ListSchedule;

export interface ObservationMarker {
  readonly tag: 'observe';
  readonly time: number;
}

export function insertObservationMarkers(schedule: ObservationSchedule, watermarks: WatermarkTracker): OperatorFunction<Routed, Routed | ObservationMarker> {
  return (source) =>
    defer(() => {
      const times = 'times' in schedule ? schedule.times : undefined;
      let k = 0;
      let next: number | undefined = times?.[0];
      const advance = () => {
        if (times) next = times[++k];
        else next! += (schedule as GridSchedule).everyDays * DAY_MS;
      };
      const main: Observable<Routed | ObservationMarker> = source.pipe(
        mergeMap((item) => {
          if (item.tag !== 'accepted') return of<Routed | ObservationMarker>(item);
          if (next === undefined && !times) next = (Math.floor(item.event.eventTime / DAY_MS) + 1 + (schedule as GridSchedule).warmupDays) * DAY_MS;
          const wm = watermarks.overall();
          const markers: ObservationMarker[] = [];
          while (wm !== undefined && next !== undefined && wm >= next) {
            markers.push({ tag: 'observe', time: next });
            advance();
          }
          return from<(Routed | ObservationMarker)[]>([...markers, item]);
        }),
      );
      // A grid ends with the data; listed times past the last watermark are still asked for.
      const rest = defer(() => from<ObservationMarker[]>(times ? times.slice(k).map((time) => ({ tag: 'observe', time })) : []));
      return concat(main, rest);
    });
}
