import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunTally } from '../../../src/monitoring/run-tally.js';

const tallyOf = (t: Partial<Record<'records' | 'events' | 'duplicates' | 'late' | 'riskEvents', number>>, first?: number, last?: number, maps: [string, string, number][] = []) => {
  const r = new RunTally();
  Object.assign(r, t);
  r.firstEventTime = first;
  r.lastEventTime = last;
  for (const [which, k, n] of maps) (r[which as 'deadLetters'] as Map<string, number>).set(k, n);
  return r;
};

test("a parallel replay's tallies add up to one: sums, merged maps, the widest event-time span", () => {
  const a = tallyOf({ records: 10, events: 8, duplicates: 1, late: 1, riskEvents: 3 }, 500, 900, [['deadLetters', 'BAD_JSON', 1], ['riskEventsByBand', 'high', 2], ['suppressed', 'cooldown', 4]]);
  const b = tallyOf({ records: 7, events: 6, duplicates: 0, late: 0, riskEvents: 2 }, 300, 800, [['deadLetters', 'BAD_JSON', 2], ['deadLetters', 'FUTURE', 1], ['riskEventsByBand', 'high', 1], ['riskEventsByBand', 'low', 1]]);
  const sum = new RunTally();
  sum.add(a.counts());
  sum.add(b.counts());
  sum.add(new RunTally().counts()); // a worker that owned nothing
  assert.deepEqual(
    { ...sum.counts(), deadLetters: new Map(sum.counts().deadLetters), riskEventsByBand: new Map(sum.counts().riskEventsByBand), suppressed: new Map(sum.counts().suppressed) },
    {
      records: 17,
      events: 14,
      duplicates: 1,
      late: 1,
      riskEvents: 5,
      deadLetters: new Map([['BAD_JSON', 3], ['FUTURE', 1]]),
      riskEventsByBand: new Map([['high', 3], ['low', 1]]),
      suppressed: new Map([['cooldown', 4]]),
      firstEventTime: 300,
      lastEventTime: 900,
    },
  );
  assert.equal(sum.deadLettered, 4);
});
