// Calendar arithmetic on epoch ms (UTC): monthly renewal dates, day of week, and placing a local
// clock time inside a simulated day.

import { DAY_MS } from '../events/activity-event.js';

/** `t` moved by `months` calendar months, day clamped to the month's end (Jan 31 + 1 → Feb 28/29). */
export function addMonthsUtc(t: number, months: number): number {
  const d = new Date(t);
  const year = d.getUTCFullYear();
  const month = d.getUTCMonth() + months;
  const msOfDay = t - Date.UTC(year, d.getUTCMonth(), d.getUTCDate());
  const daysInTarget = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return Date.UTC(year, month, Math.min(d.getUTCDate(), daysInTarget)) + msOfDay;
}

/** Smallest n ≥ 1 with addMonthsUtc(anchor, n) > t. */
export function monthsUntilAfter(anchor: number, t: number): number {
  // Estimate, then correct: month lengths vary so the estimate can be off by one either way.
  let n = Math.max(1, Math.floor((t - anchor) / (30.44 * DAY_MS)));
  while (n > 1 && addMonthsUtc(anchor, n - 1) > t) n--;
  while (addMonthsUtc(anchor, n) <= t) n++;
  return n;
}

/** 0 = Sunday … 6 = Saturday. */
export function dayOfWeekUtc(t: number): number {
  // 1970-01-01 was a Thursday (4).
  return (((Math.floor(t / DAY_MS) + 4) % 7) + 7) % 7;
}

/** The instant in [windowStart, windowStart + 1 day) whose local clock (UTC + tzOffsetMs) reads msOfDay. */
export function localTimeInWindow(windowStart: number, msOfDay: number, tzOffsetMs: number): number {
  const shift = (msOfDay - tzOffsetMs - windowStart) % DAY_MS;
  return windowStart + (shift < 0 ? shift + DAY_MS : shift);
}
