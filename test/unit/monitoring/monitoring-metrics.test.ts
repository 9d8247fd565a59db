import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { DriftMonitor } from '../../../src/monitoring/drift-monitor.js';
import { referenceProfile } from '../../../src/monitoring/drift/reference-profile.js';
import { registerMonitoringMetrics } from '../../../src/monitoring/monitoring-metrics.js';
import { createEngineMetrics } from '../../../src/observability/metrics.js';
import { bundledManifest, churnColumns, HOUR, referenceRow, rng, T0 } from './fixtures.js';

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v?.value;
}

test('the monitor sets its gauges and counts alerts and triggers on the engine registry', async () => {
  const engine = createEngineMetrics({ defaultMetrics: false });
  const metrics = registerMonitoringMetrics(engine.registry);
  const manifest = bundledManifest();
  const columns = churnColumns();
  const profile = referenceProfile(columns, manifest);
  const m = new DriftMonitor(columns, manifest, { windowMs: HOUR, slideMs: HOUR, minSamples: 50, maxFeaturesInAlert: 1 }, metrics);
  const r = rng(3);
  const rows = Array.from({ length: 800 }, () => referenceRow(profile, columns.length, r, { shiftBins: { logins_7d: 4, sessions_7d: 4 } }));
  m.observe({ rows, scores: rows.map(() => 0.01), eventTimes: rows.map((_, i) => T0 + i * 1000), customerIds: rows.map((_, i) => `c${i}`) });
  m.advance(T0 + HOUR);
  const v = { model_version: manifest.version };
  assert.ok((await value(engine.registry, 'churnflow_feature_psi', { feature: 'logins_7d', ...v }))! > 0.25);
  assert.ok((await value(engine.registry, 'churnflow_feature_psi', { feature: 'plan', ...v }))! < 0.1);
  assert.ok((await value(engine.registry, 'churnflow_feature_ks_statistic', { feature: 'sessions_7d', ...v }))! > 0.2);
  assert.equal(await value(engine.registry, 'churnflow_predicted_positive_rate', v), 0);
  assert.equal(await value(engine.registry, 'churnflow_drift_window_samples', v), 800);
  assert.equal(await value(engine.registry, 'churnflow_model_validation_recall', v), manifest.metrics.validation.recall);
  assert.ok((await value(engine.registry, 'churnflow_drift_alerts_total', { subject: 'logins_7d', severity: 'alert' }))! >= 2);
  assert.equal(await value(engine.registry, 'churnflow_retraining_triggers_total', { reason: 'data_drift' }), 1);
  assert.ok((await value(engine.registry, 'churnflow_model_age_days', v))! > 0);
});

test('registering twice on one registry is refused (one monitor per engine registry)', () => {
  const registry = new Registry();
  registerMonitoringMetrics(registry);
  assert.throws(() => registerMonitoringMetrics(registry), /already been registered/);
});
