import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ActivityEventJson } from '../../../src/events/wire-types.js';
import { DAY, collect, validEvents } from './sim-helpers.js';

const BASE = { customers: 300, days: 60, seed: 11 };
const FROM_DAY = 30;
const SPLIT = Date.UTC(2025, 0, 1) + FROM_DAY * DAY;
const baseline = validEvents(collect(BASE));

const count = (events: readonly ActivityEventJson[], kind: string, after: boolean) =>
  events.filter((e) => e.kind === kind && (e.event_time >= SPLIT) === after).length;

test('loginFactor lowers logins from fromDay on and leaves the days before untouched', () => {
  const drifted = validEvents(collect({ ...BASE, drift: { fromDay: FROM_DAY, loginFactor: 0.5 } }));
  const before = (events: readonly ActivityEventJson[]) => events.filter((e) => e.event_time < SPLIT).map((e) => JSON.stringify(e));
  assert.deepEqual(before(drifted), before(baseline));
  const ratio = count(drifted, 'login', true) / count(baseline, 'login', true);
  assert.ok(ratio > 0.4 && ratio < 0.65, `logins after fromDay at ${ratio.toFixed(2)} of baseline`);
});

test('sessionFactor lowers sessions per login', () => {
  const drifted = validEvents(collect({ ...BASE, drift: { fromDay: FROM_DAY, sessionFactor: 0.5 } }));
  const perLogin = (events: readonly ActivityEventJson[]) => count(events, 'session', true) / count(events, 'login', true);
  const ratio = perLogin(drifted) / perLogin(baseline);
  assert.ok(ratio > 0.4 && ratio < 0.65, `sessions per login at ${ratio.toFixed(2)} of baseline`);
});

test('newPlan goes to a share of new signups and plan changes, only after fromDay', () => {
  const drifted = validEvents(collect({ ...BASE, customers: 1500, drift: { fromDay: FROM_DAY, newPlan: 'family', newPlanShare: 0.5 } }));
  const uses = drifted.filter(
    (e) => (e.kind === 'profile' && e.payload.plan === 'family') || (e.kind === 'plan_change' && e.payload.to_plan === 'family'),
  );
  assert.ok(uses.length > 0);
  assert.ok(uses.every((e) => e.event_time >= SPLIT));
  const signupsAfter = drifted.filter((e) => e.kind === 'profile' && e.event_time === e.payload.signup_time && e.event_time >= SPLIT);
  const share = signupsAfter.filter((e) => e.kind === 'profile' && e.payload.plan === 'family').length / signupsAfter.length;
  assert.ok(share > 0.3 && share < 0.7, `new plan share of signups ${share.toFixed(2)} (${signupsAfter.length} signups)`);
  assert.ok(drifted.some((e) => e.kind === 'plan_change' && e.payload.to_plan === 'family'), 'some plan changes move to it');
});
