// The multi-instance scenarios: two and three engines at their peak, steps in order, only running members stopped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScenario, peakMembers, THREE_INSTANCES, TWO_INSTANCES, type FleetScenario } from '../../faults/fleet-plan.js';

test('the two- and three-instance scenarios are valid, reach their size, and each has a join, a SIGTERM leave and a kill -9', () => {
  for (const s of [TWO_INSTANCES, THREE_INSTANCES]) {
    checkScenario(s);
    assert.equal(peakMembers(s), s.instances, s.name);
    for (const action of ['join', 'leave', 'kill'] as const) assert.ok(s.steps.some((st) => st.action === action), `${s.name}: ${action}`);
  }
});

test('checkScenario refuses an unordered plan, a stop of a member not running, an empty group, too many members', () => {
  const base: FleetScenario = { name: 'x', instances: 2, initial: ['a'], steps: [] };
  assert.throws(() => checkScenario({ ...base, steps: [{ atShare: 0.5, action: 'join', member: 'b' }, { atShare: 0.4, action: 'leave', member: 'b' }] }), /increasing/);
  assert.throws(() => checkScenario({ ...base, steps: [{ atShare: 0.5, action: 'kill', member: 'b' }] }), /not running/);
  assert.throws(() => checkScenario({ ...base, steps: [{ atShare: 0.5, action: 'leave', member: 'a' }] }), /no engine left/);
  assert.throws(() => checkScenario({ ...base, steps: [{ atShare: 0.2, action: 'join', member: 'b' }, { atShare: 0.3, action: 'join', member: 'c' }] }), /more than its 2/);
});
