// The fault run with the state on the Redis Cluster (npm run services -- start redis-cluster): ≥ 20,000
// simulated events, an uninterrupted reference run, then a run under 2 master failovers (kill -9 of a
// master mid-stream; its replica takes over; the node rejoins as a replica) and a kill -9 of the engine.
// Its risk topic must equal the reference's id for id and byte for byte (processing_time aside), and
// the states on the cluster must be equal. CHURNFLOW_FAULTS_SEED replays a plan.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { riskLine } from '../faults/compare-risk.js';
import { stateLine } from '../faults/compare-state.js';
import { parseFaultOptions } from '../faults/fault-options.js';
import { runFaults } from '../faults/fault-run.js';

const options = parseFaultOptions(
  ['--small', '--store', 'cluster', '--events', '20000', '--failovers', '2', '--kills', '1', '--sigterms', '0', '--redis-restarts', '0', '--broker-restarts', '0', '--rebalances', '0'],
  process.env,
);

test(`faults on the Redis Cluster (seed ${options.seed}): risk events and state under master failovers and a kill -9 equal an uninterrupted run`, { timeout: options.timeoutMs + 120_000 }, async () => {
  const result = await runFaults(options, (line) => console.log(line));
  for (const line of [...result.anomalies.map((a) => `[faults] anomaly: ${a}`), ...result.risk.examples, ...result.state.examples]) console.log(line);
  const report = `${riskLine(result.risk)}\n${stateLine(result.state)}`;
  console.log(report);
  assert.ok(result.events >= 20_000 && result.risk.expected > 0, `a run of ${result.events} events with ${result.risk.expected} risk events`);
  assert.ok(result.state.customers > 0, 'the states were read back from the cluster (not an empty scan)');
  assert.deepEqual(result.anomalies, [], 'no engine died by itself (a failover is retried, never fatal)');
  assert.deepEqual(
    { missing: result.risk.missing, extra: result.risk.extra, different: result.risk.different, stateMismatched: result.state.mismatched },
    { missing: 0, extra: 0, different: 0, stateMismatched: 0 },
    report,
  );
});
