// `churnflow demo` as a user runs it: with injected bad records it finishes, every bad record is in
// the dead-letter output with a reason, and /metrics, /healthz and /readyz answer while it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSimulatorOptions, simulate } from '../../src/simulator/index.js';

test('demo with bad records: completes, dead-letters every bad record, serves metrics while running', async () => {
  const out = mkdtempSync(join(tmpdir(), 'cf-demo-'));
  const args = ['--customers', '120', '--days', '30', '--seed', '4', '--bad-rate', '0.02', '--late-rate', '0', '--speed', '4000', '--port', '0', '--out', out, '--show', '3'];
  const child = spawn(process.execPath, ['bin/churnflow.js', 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /metrics: (http:\/\/[^/\s]+)\/metrics/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`demo exited before serving metrics: ${stdout}\n${stderr}`)));
  });
  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /churnflow_records_received_total/);
  assert.match(metrics, /# TYPE churnflow_risk_suppressed_total counter/);
  assert.match(metrics, /churnflow_model_info\{model_name="churn-gbdt"/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  const ready = await fetch(`${url}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true, lifecycle: 'RUNNING' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.match(stdout, /── summary/);
  assert.match(stdout, /riskiest customers/);
  assert.match(stdout, /per customer +\d+\.\d\d risk events per 30 days/);
  assert.match(stdout, /suppressed +[\d,]+ scores not published +\(same_band \d+, within_hysteresis [\d,]+, cooldown [\d,]+, small_move [\d,]+\)/);

  const expectedBad = [...simulate(resolveSimulatorOptions({ customers: 120, days: 30, seed: 4, badRecords: { rate: 0.02 } }))].filter((r) => r.type === 'bad');
  const dead = readFileSync(join(out, 'dead-letters.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { payload: string; reason_code: string; reason_detail: string });
  const payloads = new Set(dead.map((d) => Buffer.from(d.payload, 'base64').toString('utf8')));
  for (const b of expectedBad) if (b.type === 'bad') assert.ok(payloads.has(b.raw), `bad record (${b.defect}) dead-lettered`);
  assert.ok(dead.every((d) => d.reason_code.length > 0 && d.reason_detail.length > 0));
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { dead_lettered: Record<string, number>; late: number; risk_events: number; riskiest: unknown[] };
  assert.equal(Object.values(summary.dead_lettered).reduce((a, b) => a + b, 0) + summary.late, dead.length);
  assert.ok(summary.risk_events > 0);
  assert.equal(summary.riskiest.length, 10);
  // Every scored event is either a risk event or a suppressed decision, counted by reason.
  const s = summary as unknown as { events_applied: number; risk_events_per_customer_per_30_days: number; risk_suppressed: Record<string, number> };
  assert.equal(summary.risk_events + Object.values(s.risk_suppressed).reduce((a, b) => a + b, 0), s.events_applied);
  assert.ok(s.risk_events_per_customer_per_30_days > 0);
  // The current-risk output: its last record per customer is that customer's last risk event.
  const risk = readFileSync(join(out, 'risk-events.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { customer_id: string; event_id: string });
  const current = readFileSync(join(out, 'current-risk.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { customer_id: string; risk_event_id: string });
  assert.deepEqual(current.map((c) => c.risk_event_id), risk.map((e) => e.event_id));
});

test('demo with the lifecycle on: shadow output, canary and experiment arms on risk events, reasons above the threshold, agreement in the summary', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const out = mkdtempSync(join(tmpdir(), 'cf-demo-lc-'));
  const args = ['--customers', '150', '--days', '30', '--seed', '6', '--port', '0', '--out', out, '--quiet', '--shadow', '--canary', '0.25', '--experiment'];
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/churnflow.js', 'demo', ...args]);
  assert.match(stdout, /model churn-gbdt@1\.1\.0 .*candidate 1\.2\.0 in shadow on 25 % of customers; experiment arms/);
  assert.match(stdout, /shadow +1\.2\.0: [\d,]+ shadow risk events; over the last [\d,]+ scores correlation/);
  const lines = (f: string) => readFileSync(join(out, f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { model_version: string; experiment_arm: string | null; above_threshold: boolean; reasons: unknown[] });
  const risk = lines('risk-events.ndjson');
  assert.deepEqual([...new Set(risk.map((e) => e.model_version))].sort(), ['1.1.0', '1.2.0'], 'production and canary versions');
  assert.ok(risk.every((e) => e.experiment_arm === 'treatment' || e.experiment_arm === 'control'));
  assert.ok(risk.filter((e) => e.above_threshold).every((e) => e.reasons.length === 3));
  const shadow = lines('shadow-risk-events.ndjson');
  assert.ok(shadow.length > 0 && shadow.every((e) => e.model_version === '1.2.0'));
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { shadow: { version: string; pairs: number } };
  assert.equal(summary.shadow.version, '1.2.0');
  assert.ok(summary.shadow.pairs > 0);
});
