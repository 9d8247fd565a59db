// The simulator's driver: runs the population day by day and yields records in arrival (emitTime)
// order, adding late arrivals and bad records on their own random streams.

import { DAY_MS } from '../events/activity-event.js';
import type { ActivityEventJson } from '../events/wire-types.js';
import { BadRecordFactory } from './bad-records.js';
import type { Customer } from './customer.js';
import type { EventSink } from './customer-day.js';
import { resolveSimulatorOptions, simulationEndTime, type SimulatorOptions } from './options.js';
import { Population } from './population.js';
import { Prng, STREAM } from './prng.js';
import { RecordHeap } from './record-heap.js';
import type { SimulatedRecord } from './records.js';

/**
 * Simulated activity as a lazy, emitTime-ordered stream. Options are validated on the call (not on
 * the first `next()`), so a bad configuration fails where it is given.
 */
export function simulate(options?: Partial<SimulatorOptions>): Generator<SimulatedRecord> {
  return run(resolveSimulatorOptions(options));
}

function* run(o: SimulatorOptions): Generator<SimulatedRecord> {
  const end = simulationEndTime(o);
  const heap = new RecordHeap();
  const population = new Population(o);
  const lateRate = o.lateEvents?.rate ?? 0;
  const maxDelayMs = o.lateEvents?.maxDelayMs ?? 0;
  const lateRng = new Prng(o.seed, STREAM.late, 0);
  const badRate = o.badRecords?.rate ?? 0;
  const badRng = new Prng(o.seed, STREAM.bad, 0);
  const bad = badRate > 0 ? new BadRecordFactory(o.seed, end) : null;

  const sink: EventSink = {
    emit(c: Customer, event: ActivityEventJson): void {
      if (event.event_time >= end) return; // a session or follow-up spilling past the simulated period
      let emitTime = event.event_time;
      if (lateRate > 0 && lateRng.next() < lateRate) emitTime += 1 + Math.floor(lateRng.next() * maxDelayMs);
      heap.push({ type: 'event', event, emitTime });
      if (bad !== null && badRng.next() < badRate) heap.push(bad.build(c, event, emitTime));
    },
  };

  for (let day = 0; day < o.days; day++) {
    population.runDay(day, sink);
    // Later days only produce events at or after their own start, so everything before it is final.
    const releaseBefore = day + 1 < o.days ? o.startTime + (day + 1) * DAY_MS : Infinity;
    while (heap.peekTime() < releaseBefore) yield heap.pop();
  }
}
