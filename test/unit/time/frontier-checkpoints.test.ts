// FrontierCheckpoints (src/time/frontier-checkpoints.ts) answers frontierAt exactly as the array of
// checkpoint objects it replaced (scan from the start, splice what precedes the answer), on random
// runs long enough to compact many times; redelivered offsets raise the checkpoints from them on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrontierCheckpoints } from '../../../src/time/frontier-checkpoints.js';
import { rng } from '../../helpers/rng.js';

/** The previous implementation, kept as the reference. */
class Reference {
  cps: { offset: number; frontier: number }[] = [];
  base: number | undefined;
  at(offset: number): number | undefined {
    let i = -1;
    while (i + 1 < this.cps.length && this.cps[i + 1]!.offset <= offset) i++;
    if (i < 0) return undefined;
    const { frontier } = this.cps[i]!;
    if (i > 0) this.base = this.cps.splice(0, i).at(-1)!.frontier;
    return frontier;
  }
}

for (const seed of [1, 2, 3]) {
  test(`the same answers and the same "before the first" frontier as the object array (seed ${seed})`, () => {
    const next = rng(seed);
    const cps = new FrontierCheckpoints();
    const ref = new Reference();
    let base: number | undefined;
    let offset = 0;
    let frontier = 0;
    let asked = 0;
    for (let step = 0; step < 40_000; step++) {
      offset += 1 + Math.floor(next() * 3);
      frontier += Math.floor(next() * 1000);
      cps.push(offset, frontier);
      ref.cps.push({ offset, frontier });
      if (next() < 0.02) {
        // A commit: somewhere between the last one asked and now (commits only move forward).
        asked = asked + Math.floor(next() * (offset - asked + 1));
        assert.equal(cps.at(asked, (f) => (base = f)), ref.at(asked), `at(${asked}) after step ${step}`);
        assert.equal(base, ref.base);
        assert.equal(cps.size, ref.cps.length);
      }
    }
  });
}

test('shift drops the oldest; a redelivered offset raises the frontier of the checkpoints from it on', () => {
  const cps = new FrontierCheckpoints();
  cps.push(10, 100);
  cps.push(20, 200);
  cps.push(30, 300);
  cps.push(20, 250); // offset 20 again, now moving the frontier to 250
  assert.equal(cps.size, 3);
  assert.equal(cps.at(25, () => {}), 250);
  assert.equal(cps.at(30, () => {}), 300);
  assert.equal(cps.shift(), 300);
  assert.equal(cps.size, 0);
  assert.equal(cps.at(40, () => {}), undefined);
});
