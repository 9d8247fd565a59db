import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEventJson } from '../../../src/events/wire-types.js';
import { ACTIVITY_KINDS } from '../../../src/events/wire-types.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../../src/simulator/index.js';
import { DAY, byCustomer, collect, firstProfiles, validEvents } from './sim-helpers.js';

const OPTIONS = { customers: 300, days: 75, seed: 21 };
const events = validEvents(collect(OPTIONS));
const o = resolveSimulatorOptions(OPTIONS);
const end = simulationEndTime(o);

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNullableString = (v: unknown): boolean => v === null || typeof v === 'string';

/** Problems with one event's payload, empty when it is well-formed and in range. */
function payloadProblems(e: ActivityEventJson): string[] {
  const p = e.payload;
  const bad: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) bad.push(`${e.event_id} ${e.kind}: ${what} in ${JSON.stringify(p)}`);
  };
  switch (e.kind) {
    case 'login':
      check(['web', 'ios', 'android', 'tv', 'other'].includes(e.payload.device), 'device');
      check(typeof e.payload.success === 'boolean', 'success');
      break;
    case 'session':
      check(isInt(e.payload.duration_seconds) && e.payload.duration_seconds >= 0 && e.payload.duration_seconds <= 6 * 3600, 'duration');
      check(isInt(e.payload.content_items) && e.payload.content_items >= 1, 'content_items');
      check(e.payload.content_id === null || /^m-\d+$/.test(e.payload.content_id), 'content_id');
      break;
    case 'payment':
      check(['SUCCEEDED', 'FAILED'].includes(e.payload.status), 'status');
      check(isInt(e.payload.amount_cents) && e.payload.amount_cents > 0 && e.payload.amount_cents <= 5000, 'amount');
      check(isInt(e.payload.discount_cents) && e.payload.discount_cents >= 0 && e.payload.discount_cents < 5000, 'discount');
      check(['USD', 'EUR'].includes(e.payload.currency), 'currency');
      break;
    case 'plan_change':
      check(['UPGRADE', 'DOWNGRADE', 'CANCEL'].includes(e.payload.change), 'change');
      check(isNullableString(e.payload.from_plan) && isNullableString(e.payload.to_plan) && isNullableString(e.payload.reason), 'fields');
      check((e.payload.change === 'CANCEL') === (e.payload.to_plan === null), 'to_plan null iff CANCEL');
      break;
    case 'support_ticket':
      check(['billing', 'technical', 'content', 'account', 'cancellation', 'other'].includes(e.payload.category), 'category');
      check(typeof e.payload.is_complaint === 'boolean', 'is_complaint');
      check(e.payload.satisfaction === null || (isInt(e.payload.satisfaction) && e.payload.satisfaction >= 1 && e.payload.satisfaction <= 5), 'satisfaction');
      break;
    case 'profile':
      check(isInt(e.payload.signup_time) && e.payload.signup_time <= e.event_time, 'signup_time');
      check(e.payload.signup_time >= o.startTime - 3 * 366 * DAY, 'tenure at most ~3 years');
      check(['basic', 'standard', 'premium'].includes(e.payload.plan), 'plan');
      check(['card', 'paypal', 'bank_transfer', 'gift_card'].includes(e.payload.payment_method), 'payment_method');
      check(['na', 'eu', 'apac', 'latam'].includes(e.payload.region), 'region');
      check(e.payload.age === null || (isInt(e.payload.age) && e.payload.age >= 18 && e.payload.age <= 100), 'age');
      check(isInt(e.payload.renewal_time) && (e.payload.renewal_time ?? 0) > e.payload.signup_time, 'renewal_time');
      break;
  }
  return bad;
}

test('every valid event has the envelope, a known kind and a well-formed payload in range', () => {
  assert.ok(events.length > 20_000, `only ${events.length} events`);
  const problems: string[] = [];
  for (const e of events) {
    if (!/^c\d{6}$/.test(e.customer_id)) problems.push(`customer id ${e.customer_id}`);
    if (!e.event_id.startsWith(`${e.customer_id}-`)) problems.push(`event id ${e.event_id}`);
    if (!isInt(e.event_time) || e.event_time < o.startTime || e.event_time >= end) problems.push(`time ${e.event_id}`);
    if (!ACTIVITY_KINDS.includes(e.kind)) problems.push(`kind ${e.kind}`);
    problems.push(...payloadProblems(e));
  }
  assert.deepEqual(problems.slice(0, 5), []);
});

test('all six kinds occur, logins and sessions dominate', () => {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  for (const k of ACTIVITY_KINDS) assert.ok((counts.get(k) ?? 0) > 0, `no ${k}`);
  assert.ok((counts.get('login') ?? 0) + (counts.get('session') ?? 0) > 0.85 * events.length);
});

test('each customer announces a profile first and acts only after signing up', () => {
  const profiles = firstProfiles(events);
  assert.equal(profiles.size, OPTIONS.customers);
  let existing = 0;
  for (const [customer, list] of byCustomer(events)) {
    const first = list[0];
    const profile = profiles.get(customer);
    assert.ok(first !== undefined && profile !== undefined);
    assert.equal(first.kind, 'profile', `${customer} starts with ${first.kind}`);
    if (profile.signup_time < o.startTime) {
      existing++;
      assert.equal(first.event_time, o.startTime, 'existing customers are announced at the start');
    } else {
      assert.equal(first.event_time, profile.signup_time, 'new customers are announced at signup');
    }
    for (const e of list) assert.ok(e.event_time >= profile.signup_time, `${e.event_id} before signup`);
  }
  assert.ok(existing > 0.7 * OPTIONS.customers && existing < OPTIONS.customers, `${existing} existing customers`);
});

test('monthly renewals: a successful renewal is followed by a profile moving renewal_time one month on', () => {
  let renewals = 0;
  for (const list of byCustomer(events).values()) {
    let renewalTime: number | null = null;
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e?.kind === 'profile') renewalTime = e.payload.renewal_time;
      if (e?.kind !== 'payment' || e.payload.status !== 'SUCCEEDED' || renewalTime === null) continue;
      const next = list[i + 1];
      if (next?.kind !== 'profile' || next.event_time !== e.event_time + 1000) continue; // last day of the run
      if (e.event_time < renewalTime) continue; // the first payment, at signup
      renewals++;
      const gapDays = ((next.payload.renewal_time ?? 0) - renewalTime) / DAY;
      assert.ok(gapDays >= 28 && gapDays <= 31, `next renewal ${gapDays} days on`);
      // Paid on the renewal date, or on a retry at most a week later.
      assert.ok(e.event_time - renewalTime <= 7 * DAY);
    }
  }
  // ~300 customers over ~2.5 months.
  assert.ok(renewals > 400, `${renewals} renewals`);
});

test('after a cancellation a customer goes quiet (at most a stray login)', () => {
  let cancelled = 0;
  for (const list of byCustomer(events).values()) {
    const idx = list.findIndex((e) => e.kind === 'plan_change' && e.payload.change === 'CANCEL');
    if (idx < 0) continue;
    cancelled++;
    const after = list.slice(idx + 1);
    assert.ok(after.every((e) => e.kind === 'login'), `activity after cancel: ${after.map((e) => e.kind).join(',')}`);
    assert.ok(after.length <= 3);
  }
  assert.ok(cancelled > 10);
});
