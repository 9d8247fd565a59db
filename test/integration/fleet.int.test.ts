// Several instances in one consumer group (issue 12): an uninterrupted single engine is the
// reference; then two engines (one leaves and rejoins, the other is killed with -9 and restarted) and
// three engines (joins, a SIGTERM leave, a kill -9, a rejoin) consume the same 6-partition topic.
// Each fleet's risk topic must equal the reference's id for id and byte for byte (processing_time
// aside), its Redis state customer for customer, every engine started must have owned partitions,
// and the engines still running export their metrics under their own instance label (the lag of
// each partition reported by its owner only).
// The stream is produced live over CHURNFLOW_FLEET_PACE_S seconds (default 90) while the reference and
// both fleets consume it, so every step lands mid-stream on any machine.
// CHURNFLOW_FLEET_EVENTS / _PARTITIONS / _SEED change the size (defaults 30,000 events, 6 partitions).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { riskLine } from '../faults/compare-risk.js';
import { stateLine } from '../faults/compare-state.js';
import { THREE_INSTANCES, TWO_INSTANCES } from '../faults/fleet-plan.js';
import { runFleet } from '../faults/fleet-run.js';

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${raw}'`);
  return n;
}

const options = {
  events: envInt('CHURNFLOW_FLEET_EVENTS', 30_000, 1000),
  partitions: envInt('CHURNFLOW_FLEET_PARTITIONS', 6, 6),
  seed: envInt('CHURNFLOW_FLEET_SEED', Math.floor(Math.random() * 2 ** 31), 0),
  timeoutMs: 20 * 60_000,
  stallMs: 180_000,
  paceMs: envInt('CHURNFLOW_FLEET_PACE_S', 90, 1) * 1000,
  scenarios: [TWO_INSTANCES, THREE_INSTANCES],
};

test(`fleet (seed ${options.seed}, ${options.partitions} partitions): two and three instances joining and leaving mid-stream publish the risk events and leave the state of one uninterrupted engine`, { timeout: options.timeoutMs + 120_000 }, async () => {
  const result = await runFleet(options, (line) => console.log(line));
  assert.ok(result.events >= options.events, `a run of ${result.events} events`);
  for (const s of result.scenarios) {
    for (const line of [...s.anomalies.map((a) => `[fleet] ${s.scenario} anomaly: ${a}`), ...s.risk.examples, ...s.state.examples]) console.log(line);
    for (const [engine, joins] of s.assignments) console.log(`[fleet] ${s.scenario}: ${engine} owned ${joins.map((p) => `[${p.join(',')}]`).join(' → ')}`);
    const report = `${s.scenario}: ${riskLine(s.risk).replace('faults: ', '')}; ${stateLine(s.state).replace('faults: ', '')}`;
    console.log(`[fleet] ${report}`);
    assert.ok(s.risk.expected > 0, 'the reference published risk events');
    console.log(`[fleet] ${s.scenario}: ${s.idleSteps} of its steps came after the group had caught up`);
    // Otherwise the run tested fewer instances than it claims: more events (CHURNFLOW_FLEET_EVENTS) make the stream last longer.
    assert.ok(s.peakMidStream, `${s.scenario}: its full membership was never reached while events were left to consume`);
    assert.deepEqual(
      { missing: s.risk.missing, extra: s.risk.extra, different: s.risk.different, stateMismatched: s.state.mismatched, anomalies: s.anomalies },
      { missing: 0, extra: 0, different: 0, stateMismatched: 0, anomalies: [] },
      report,
    );
    // Metrics: every series of every engine carries its own instance id; no partition's lag is reported by two engines, nor by one that does not own it.
    for (const m of s.metrics) {
      console.log(`[fleet] ${s.scenario}: ${m.role} exports ${m.series} churnflow series, lag for partitions [${m.lagPartitions.join(',')}] (assigned [${m.assigned.join(',')}])`);
      assert.ok(m.series > 20, `${m.role}: ${m.series} series`);
      assert.deepEqual(m.foreign, [], `${m.role}: series without instance="${m.role}"`);
      assert.ok(m.lagPartitions.every((p) => m.assigned.includes(p)), `${m.role} reports lag for partitions it does not own`);
    }
    const reported = s.metrics.flatMap((m) => m.lagPartitions);
    assert.equal(new Set(reported).size, reported.length, `${s.scenario}: a partition's lag reported twice: ${reported.join(',')}`);
    assert.ok(s.metrics.length > 0, 'an engine was running at the end');
    // Each engine took part: owned at least one partition after some join (else the scenario tested one instance).
    for (const [engine, joins] of s.assignments) assert.ok(joins.some((p) => p.length > 0), `${s.scenario}: ${engine} never owned a partition`);
  }
});
