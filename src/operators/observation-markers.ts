// Inserts observation markers into the event stream for point-in-time snapshots: marker(T) is emitted
// just before the first record that moves the event-time watermark past T. Everything accepted before
// it has event_time < T or lies in a day bucket that starts at or after T, and anything with
// event_time < T arriving later is routed as late; so rows taken at the marker see exactly the past.
import { defer, from, mergeMap, of, type OperatorFunction } from 'rxjs';
import { DAY_MS } from '../events/activity-event.js';
import type { Routed } from '../events/routed.js';
import type { WatermarkTracker } from '../time/watermark.js';

export interface ObservationSchedule {
  /** Days between observations (at 00:00 UTC). */
  readonly everyDays: number;
  /** Days after the first event before the first observation, so windows have history. */
  readonly warmupDays: number;
}

export interface ObservationMarker {
  readonly tag: 'observe';
  readonly time: number;
}

export function insertObservationMarkers(schedule: ObservationSchedule, watermarks: WatermarkTracker): OperatorFunction<Routed, Routed | ObservationMarker> {
  return (source) =>
    defer(() => {
      let next: number | undefined;
      return source.pipe(
        mergeMap((item) => {
          if (item.tag !== 'accepted') return of<Routed | ObservationMarker>(item);
          if (next === undefined) next = (Math.floor(item.event.eventTime / DAY_MS) + 1 + schedule.warmupDays) * DAY_MS;
          const wm = watermarks.overall();
          const markers: ObservationMarker[] = [];
          while (wm !== undefined && wm >= next) {
            markers.push({ tag: 'observe', time: next });
            next += schedule.everyDays * DAY_MS;
          }
          return from<(Routed | ObservationMarker)[]>([...markers, item]);
        }),
      );
    });
}
