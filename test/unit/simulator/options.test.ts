import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../../src/errors.js';
import {
  DEFAULT_SIMULATOR_OPTIONS,
  resolveSimulatorOptions,
  simulate,
  simulationEndTime,
  type SimulatorOptions,
} from '../../../src/simulator/index.js';

test('defaults apply and the end is startTime + days', () => {
  const o = resolveSimulatorOptions();
  assert.deepEqual(o, { customers: 2000, days: 120, seed: 7, startTime: Date.UTC(2025, 0, 1) });
  assert.deepEqual(o, { ...DEFAULT_SIMULATOR_OPTIONS });
  assert.equal(simulationEndTime(o), Date.UTC(2025, 0, 1) + 120 * 86_400_000);
  assert.deepEqual(resolveSimulatorOptions({ customers: undefined, days: 10 }), { ...o, days: 10 });
});

test('drift sub-options get defaults', () => {
  const o = resolveSimulatorOptions({ days: 30, drift: { fromDay: 10 } });
  assert.deepEqual(o.drift, { fromDay: 10, loginFactor: 1, sessionFactor: 1, newPlanShare: 0 });
  const p = resolveSimulatorOptions({ days: 30, drift: { fromDay: 10, newPlan: 'family' } });
  assert.equal(p.drift?.newPlan, 'family');
  assert.equal(p.drift?.newPlanShare, 0.3);
});

const INVALID: Array<[string, unknown, RegExp]> = [
  ['customers', { customers: 0 }, /"customers".*\[1, 1000000\].*got 0/],
  ['customers', { customers: 2.5 }, /"customers"/],
  ['days', { days: 0 }, /"days".*\[1, 3650\]/],
  ['days', { days: '10' }, /"days".*got "10"/],
  ['seed', { seed: Number.NaN }, /"seed".*integer/],
  ['startTime', { startTime: -1 }, /"startTime"/],
  ['drift.fromDay', { days: 30, drift: { fromDay: 31 } }, /"drift\.fromDay".*\[0, 30\]/],
  ['drift.loginFactor', { drift: { fromDay: 1, loginFactor: 0 } }, /"drift\.loginFactor".*\(0, 10\]/],
  ['drift.sessionFactor', { drift: { fromDay: 1, sessionFactor: -1 } }, /"drift\.sessionFactor"/],
  ['drift.newPlan', { drift: { fromDay: 1, newPlan: '' } }, /"drift\.newPlan"/],
  ['drift.newPlanShare', { drift: { fromDay: 1, newPlan: 'x', newPlanShare: 1.5 } }, /"drift\.newPlanShare".*\[0, 1\]/],
  ['drift.newPlanShare', { drift: { fromDay: 1, newPlanShare: 0.5 } }, /"drift\.newPlanShare".*newPlan/],
  ['badRecords.rate', { badRecords: { rate: 2 } }, /"badRecords\.rate".*\[0, 1\]/],
  ['badRecords', { badRecords: 0.1 }, /"badRecords".*object/],
  ['lateEvents.rate', { lateEvents: { rate: -0.1, maxDelayMs: 1000 } }, /"lateEvents\.rate"/],
  ['lateEvents.maxDelayMs', { lateEvents: { rate: 0.1, maxDelayMs: 0 } }, /"lateEvents\.maxDelayMs".*integer/],
  ['lateEvents.extra', { lateEvents: { rate: 0.1, maxDelayMs: 10, extra: 1 } }, /"lateEvents\.extra"/],
  ['customer', { customer: 10 }, /"customer".*known: customers/],
];

for (const [option, partial, message] of INVALID) {
  test(`invalid ${option} is rejected with CF_CONFIG_INVALID naming it (${JSON.stringify(partial)})`, () => {
    assert.throws(
      () => resolveSimulatorOptions(partial as Partial<SimulatorOptions>),
      (err: unknown) => {
        assert.ok(err instanceof ChurnflowError);
        assert.equal(err.code, 'CF_CONFIG_INVALID');
        assert.match(err.message, message);
        assert.equal(err.details['option'], option);
        return true;
      },
    );
  });
}

test('simulate validates on the call, before any record is pulled', () => {
  assert.throws(() => simulate({ days: -3 }), /"days"/);
});
