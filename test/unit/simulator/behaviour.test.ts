import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEventJson } from '../../../src/events/wire-types.js';
import { REGIONS } from '../../../src/simulator/catalogue.js';
import { DAY, byCustomer, cancelTimes, collect, firstProfiles, validEvents } from './sim-helpers.js';

// One medium run shared by the behavioural checks: long enough to see 12 weeks before late cancels.
const OPTIONS = { customers: 1000, days: 150, seed: 5 };
const START = Date.UTC(2025, 0, 1);
const events = validEvents(collect(OPTIONS));
const profiles = firstProfiles(events);
const cancels = cancelTimes(events);
const grouped = byCustomer(events);

const isEngagement = (e: ActivityEventJson): boolean => e.kind === 'login' || e.kind === 'session';

test('about 15% of customers active at the start cancel within 90 days', () => {
  const initial = [...profiles].filter(([, p]) => p.signup_time < START).map(([id]) => id);
  const churned = initial.filter((id) => (cancels.get(id) ?? Infinity) < START + 90 * DAY).length;
  const rate = churned / initial.length;
  assert.ok(rate >= 0.08 && rate <= 0.25, `90-day churn ${rate.toFixed(3)}`);
});

test('churners disengage: less activity in the 4 weeks before cancelling than 8–12 weeks before', () => {
  let recent = 0;
  let earlier = 0;
  let churners = 0;
  for (const [id, t] of cancels) {
    const signup = profiles.get(id)?.signup_time ?? Infinity;
    if (t - 84 * DAY < Math.max(START, signup)) continue; // need the full 12 weeks of history
    churners++;
    for (const e of grouped.get(id) ?? []) {
      if (!isEngagement(e)) continue;
      const before = t - e.event_time;
      if (before > 0 && before <= 28 * DAY) recent++;
      else if (before > 56 * DAY && before <= 84 * DAY) earlier++;
    }
  }
  assert.ok(churners >= 30, `only ${churners} churners with 12 weeks of history`);
  assert.ok(recent < 0.75 * earlier, `recent ${recent} vs earlier ${earlier}`);
});

test('complaints and payment failures concentrate in the month before a cancellation', () => {
  const rate = (filter: (e: ActivityEventJson) => boolean) => {
    let inWindow = 0;
    let exposureDays = 0;
    let other = 0;
    let otherDays = 0;
    for (const [id, list] of grouped) {
      const t = cancels.get(id);
      const from = Math.max(START, profiles.get(id)?.signup_time ?? START);
      const until = t ?? START + OPTIONS.days * DAY;
      const windowStart = t === undefined ? until : Math.max(from, t - 30 * DAY);
      exposureDays += (until - windowStart) / DAY;
      otherDays += (windowStart - from) / DAY;
      for (const e of list) {
        if (!filter(e) || e.event_time >= until) continue;
        if (e.event_time >= windowStart) inWindow++;
        else other++;
      }
    }
    return { before: inWindow / exposureDays, otherwise: other / otherDays };
  };
  const complaints = rate((e) => e.kind === 'support_ticket' && e.payload.is_complaint);
  assert.ok(complaints.before > 3 * complaints.otherwise, JSON.stringify(complaints));
  const failures = rate((e) => e.kind === 'payment' && e.payload.status === 'FAILED');
  assert.ok(failures.before > 2 * failures.otherwise, JSON.stringify(failures));
});

test('gift cards and bank transfers fail more often than cards', () => {
  const stats = new Map<string, { paid: number; failed: number }>();
  for (const e of events) {
    if (e.kind !== 'payment') continue;
    const method = profiles.get(e.customer_id)?.payment_method ?? '?';
    const s = stats.get(method) ?? { paid: 0, failed: 0 };
    s.paid++;
    if (e.payload.status === 'FAILED') s.failed++;
    stats.set(method, s);
  }
  const failRate = (m: string) => (stats.get(m)?.failed ?? 0) / (stats.get(m)?.paid ?? 1);
  assert.ok(failRate('gift_card') > 1.5 * failRate('card'), JSON.stringify([...stats]));
  assert.ok(failRate('bank_transfer') > failRate('card'), JSON.stringify([...stats]));
});

test('weekly and daily rhythm: busier weekends and local evenings than local nights', () => {
  const offsetByRegion = new Map(REGIONS.map((r) => [r.name, r.tzOffsetMs]));
  let weekend = 0;
  let weekday = 0;
  let evening = 0;
  let night = 0;
  for (const e of events) {
    if (e.kind !== 'login') continue;
    const dow = new Date(e.event_time).getUTCDay();
    if (dow === 0 || dow === 6) weekend++;
    else weekday++;
    const local = new Date(e.event_time + (offsetByRegion.get(profiles.get(e.customer_id)?.region ?? '') ?? 0));
    const hour = local.getUTCHours();
    if (hour >= 18 && hour < 23) evening++;
    if (hour >= 2 && hour < 7) night++;
  }
  assert.ok(weekend / 2 > 1.2 * (weekday / 5), `weekend/day ${weekend / 2} vs weekday/day ${weekday / 5}`);
  assert.ok(evening > 5 * night, `evening ${evening} vs night ${night}`);
});

test('customers differ in engagement and content variety', () => {
  const logins: number[] = [];
  const variety: number[] = [];
  for (const [id, list] of grouped) {
    if ((profiles.get(id)?.signup_time ?? Infinity) >= START || cancels.has(id)) continue;
    logins.push(list.filter((e) => e.kind === 'login').length);
    variety.push(new Set(list.flatMap((e) => (e.kind === 'session' && e.payload.content_id !== null ? [e.payload.content_id] : []))).size);
  }
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const quantile = (xs: number[], q: number) => sorted(xs)[Math.floor(q * (xs.length - 1))] ?? 0;
  assert.ok(quantile(logins, 0.9) > 3 * quantile(logins, 0.1), 'login counts vary across customers');
  assert.ok(quantile(variety, 0.9) > 2 * quantile(variety, 0.1), 'distinct content varies across customers');
});

test('new customers sign up throughout the run', () => {
  const signups = [...profiles.values()].filter((p) => p.signup_time >= START).map((p) => (p.signup_time - START) / DAY);
  assert.ok(signups.length > 0.1 * OPTIONS.customers, `${signups.length} signups`);
  const firstHalf = signups.filter((d) => d < OPTIONS.days / 2).length;
  assert.ok(Math.abs(firstHalf / signups.length - 0.5) < 0.1);
});
