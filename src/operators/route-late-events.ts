// Routes events older than their stream's watermark to the late output, counted, never silently dropped.
import { defer, map, type OperatorFunction } from 'rxjs';
import { reject, type Routed } from '../events/routed.js';
import { WatermarkTracker, type WatermarkOptions } from '../time/watermark.js';

export function routeLateEvents(options: WatermarkOptions, tracker?: WatermarkTracker): OperatorFunction<Routed, Routed> {
  return (source) =>
    defer(() => {
      // One tracker per subscription unless the caller shares one (to read watermarks elsewhere).
      const watermarks = tracker ?? new WatermarkTracker(options);
      return source.pipe(
        map((item) => {
          if (item.tag !== 'accepted') return item;
          const late = watermarks.observe(item.record.position.stream, item.event.eventTime, item.record.position.offset);
          if (!late) return item;
          const wm = watermarks.watermark(item.record.position.stream)!;
          return reject(
            item.record,
            'late',
            'LATE_EVENT',
            `event_time ${new Date(item.event.eventTime).toISOString()} is before the watermark ${new Date(wm).toISOString()} (allowed lateness ${options.allowedLatenessMs} ms)`,
            item.event,
          );
        }),
      );
    });
}
