// The small fault-injection run (the full one is `npm run test:faults`): ≥ 50,000 simulated events,
// an uninterrupted reference run, then a run under 5 kill -9, a SIGTERM, a Redis restart, a broker
// restart and a rebalance. Its risk topic must equal the reference's id for id and byte for byte
// (processing_time aside), and the Redis states must be equal. CHURNFLOW_FAULTS_SEED replays a plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { riskLine } from '../faults/compare-risk.js';
import { stateLine } from '../faults/compare-state.js';
import { parseFaultOptions } from '../faults/fault-options.js';
import { runFaults } from '../faults/fault-run.js';

const options = parseFaultOptions(['--small'], process.env);

test(`faults (small, seed ${options.seed}): risk events and state under kill -9, SIGTERM, Redis and broker restarts and a rebalance equal an uninterrupted run`, { timeout: options.timeoutMs + 120_000 }, async () => {
  const result = await runFaults(options, (line) => console.log(line));
  for (const line of [...result.anomalies.map((a) => `[faults] anomaly: ${a}`), ...result.risk.examples, ...result.state.examples]) console.log(line);
  const report = `${riskLine(result.risk)}\n${stateLine(result.state)}`;
  console.log(report);
  assert.ok(result.events >= 50_000 && result.risk.expected > 0, `a run of ${result.events} events with ${result.risk.expected} risk events`);
  assert.ok(result.state.customers > 0, 'the states were read back (not an empty scan)');
  assert.deepEqual(
    { missing: result.risk.missing, extra: result.risk.extra, different: result.risk.different, stateMismatched: result.state.mismatched },
    { missing: 0, extra: 0, different: 0, stateMismatched: 0 },
    report,
  );
});
