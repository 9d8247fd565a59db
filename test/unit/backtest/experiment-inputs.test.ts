import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readoutJson, runExperiment } from '../../../src/cli/experiment.js';
import { ChurnflowError } from '../../../src/errors.js';
import { DAY_MS } from '../../../src/events/activity-event.js';
import type { ActivityEventJson, RiskEventRecord } from '../../../src/events/wire-types.js';
import { writeFlatCsv } from '../../helpers/flat-activity.js';

const T0 = Date.UTC(2025, 2, 1);

function risk(customer: string, day: number, above: boolean, arm: string | null): RiskEventRecord {
  return {
    event_id: `r-${customer}-${day}`,
    customer_id: customer,
    score: above ? 0.4 : 0.01,
    band: above ? 'high' : 'low',
    previous_band: null,
    threshold: 0.1,
    above_threshold: above,
    model_name: 'churn-gbdt',
    model_version: '1.0.0',
    scorer: 'model',
    experiment_arm: arm,
    reasons: [],
    trigger_event_id: `e-${customer}-${day}`,
    event_time: T0 + day * DAY_MS,
    processing_time: T0 + day * DAY_MS,
  };
}

const cancel = (customer: string, day: number): ActivityEventJson => ({
  event_id: `x-${customer}-${day}`,
  customer_id: customer,
  event_time: T0 + day * DAY_MS,
  kind: 'plan_change',
  payload: { change: 'CANCEL', from_plan: 'basic', to_plan: null, reason: null },
});
const login = (customer: string, day: number): ActivityEventJson => ({ event_id: `l-${customer}-${day}`, customer_id: customer, event_time: T0 + day * DAY_MS, kind: 'login', payload: { device: 'web', success: true } });

function files(riskEvents: readonly RiskEventRecord[], outcomes: readonly (ActivityEventJson | string)[]) {
  const dir = mkdtempSync(join(tmpdir(), 'cf-exp-'));
  const riskPath = join(dir, 'risk.ndjson');
  const outcomesPath = join(dir, 'events.ndjson');
  writeFileSync(riskPath, riskEvents.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(outcomesPath, outcomes.map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).join('\n') + '\n');
  return { dir, riskPath, outcomesPath };
}

const base = { treatment: 'treatment', control: 'control', confidence: 0.95, spec: 'builtin:churn_default' };

test('experiment from files: assignment, cancellations as outcomes, horizon, invalid outcome lines counted', async () => {
  const riskEvents = [
    risk('t1', 0, true, 'treatment'),
    risk('t1', 3, true, 'control'), // later: ignored
    risk('t2', 1, true, 'treatment'),
    risk('c1', 0, false, 'control'), // below threshold
    risk('c1', 2, true, 'control'),
    risk('c2', 0, true, 'control'),
    risk('n1', 0, true, null), // no arm
  ];
  const outcomes = [login('t1', 1), cancel('t1', 10), cancel('c1', 40), cancel('c2', 5), '{"not": "an event"}', login('z', 90)];
  const f = files(riskEvents, outcomes);
  const result = await runExperiment({ ...base, risk: f.riskPath, outcomes: f.outcomesPath });
  const byArm = Object.fromEntries(result.readout.arms.map((a) => [a.arm, a]));
  assert.equal(byArm['treatment']!.customers, 2);
  assert.equal(byArm['treatment']!.churned, 1);
  assert.equal(byArm['control']!.customers, 2);
  assert.equal(byArm['control']!.churned, 1, 'c1 cancels 38 days after assignment: outside the 30-day horizon');
  assert.equal(result.readout.horizonDays, 30, "the spec's label horizon by default");
  assert.equal(result.readout.dataEnd, T0 + 90 * DAY_MS);
  assert.deepEqual(result.inputs, { riskEvents: 7, belowThreshold: 1, aboveThresholdWithoutArm: 1, customersAssigned: 4, outcomeEvents: 5, labelEvents: 3, invalidOutcomeLines: 1 });

  const longer = await runExperiment({ ...base, risk: f.riskPath, outcomes: f.outcomesPath, horizonDays: 45 });
  assert.equal(longer.readout.arms.find((a) => a.arm === 'control')!.churned, 2);
  const early = await runExperiment({ ...base, risk: f.riskPath, outcomes: f.outcomesPath, outcomesEnd: T0 + 30 * DAY_MS });
  assert.equal(early.readout.arms.find((a) => a.arm === 'treatment')!.censored, 1, 't2 (assigned day 1) has no complete horizon by day 30');

  const json = JSON.parse(readoutJson(result)) as Record<string, unknown>;
  assert.equal(json['format'], 'churnflow.experiment-readout/v1');
  assert.ok('implied_customers_saved' in json && 'treatment_arm' in json);
});

test('a malformed risk event is refused with its file and line', async () => {
  const f = files([risk('a', 0, true, 'control')], [cancel('a', 1)]);
  writeFileSync(f.riskPath, `${JSON.stringify(risk('a', 0, true, 'control'))}\n{"event_id": "x"}\n`);
  await assert.rejects(runExperiment({ ...base, risk: f.riskPath, outcomes: f.outcomesPath }), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_INPUT_INVALID' && /risk\.ndjson:2: not a risk event/.test(e.message));
  await assert.rejects(runExperiment({ ...base, risk: join(f.dir, 'missing.ndjson'), outcomes: f.outcomesPath }), /cannot read/);
});

test('the experiment command prints the readout and writes the JSON', () => {
  const f = files([risk('t1', 0, true, 'treatment'), risk('c1', 0, true, 'control')], [cancel('c1', 3), login('t1', 60)]);
  const out = join(f.dir, 'readout.json');
  // In a child process: the command writes to stdout, which this process's test reporter owns.
  const cli = pathToFileURL(resolve('dist/src/cli/experiment.js')).href;
  const script = `import { experimentCommand } from '${cli}'; await experimentCommand().parseAsync(process.argv.slice(1), { from: 'user' });`;
  const printed = execFileSync(process.execPath, ['--input-type=module', '-e', script, '--', '--risk', f.riskPath, '--outcomes', f.outcomesPath, '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(printed, /treatment\s+1\s+0\s+0\.00%/);
  assert.match(printed, /control\s+1\s+1\s+100\.00%/);
  assert.match(printed, /two-sided p = /);
  const json = JSON.parse(readFileSync(out, 'utf8')) as { arms: { arm: string; churned: number }[] };
  assert.deepEqual(json.arms.map((a) => [a.arm, a.churned]), [['control', 1], ['treatment', 0]]);
});

test('outcomes in a user\'s own shape: a CSV through the config\'s input mapping reads out as the native NDJSON does', async () => {
  const riskEvents = [risk('t1', 0, true, 'treatment'), risk('t2', 1, true, 'treatment'), risk('c1', 0, true, 'control'), risk('c2', 0, true, 'control')];
  const outcomes = [login('t1', 1), cancel('t1', 10), cancel('c1', 4), cancel('c2', 5), login('z', 90)];
  const f = files(riskEvents, outcomes);
  const csv = join(f.dir, 'events.csv');
  writeFlatCsv(csv, outcomes as unknown as Record<string, unknown>[]);
  const native = await runExperiment({ ...base, risk: f.riskPath, outcomes: f.outcomesPath });
  const mapped = await runExperiment({ ...base, risk: f.riskPath, outcomes: csv, config: 'examples/file-events/mapping.yaml' });
  assert.deepEqual(mapped.readout, native.readout);
  assert.deepEqual(mapped.inputs, native.inputs);
  assert.equal(native.inputs.labelEvents, 3);
  // Without the mapping a CSV cannot be read at all: refused, naming input.mappings.
  await assert.rejects(runExperiment({ ...base, risk: f.riskPath, outcomes: csv }), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_CONFIG_INVALID' && /input\.mappings/.test(e.message));
});
