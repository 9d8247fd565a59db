// What flows between the per-record operators: an accepted event, or a rejection that carries its
// original record and where it must go (dead-letter or late), so nothing is lost on the way.
import type { ActivityEvent, RawRecord } from './activity-event.js';

export type RejectRoute = 'dead-letter' | 'late';

export interface Accepted {
  readonly tag: 'accepted';
  readonly record: RawRecord;
  readonly event: ActivityEvent;
}

export interface Rejected {
  readonly tag: 'rejected';
  readonly record: RawRecord;
  readonly route: RejectRoute;
  readonly code: string;
  readonly detail: string;
  readonly event?: ActivityEvent;
}

export type Routed = Accepted | Rejected;

export function reject(record: RawRecord, route: RejectRoute, code: string, detail: string, event?: ActivityEvent): Rejected {
  return event === undefined ? { tag: 'rejected', record, route, code, detail } : { tag: 'rejected', record, route, code, detail, event };
}
