// Every churnflow metric carries the engine's instance label; the id comes from config, else HOSTNAME
// (a pod's name), else host-pid; a bad configured id is refused naming the key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../../src/config/load-config.js';
import { resolveInstanceId } from '../../../src/observability/instance-id.js';
import { createEngineMetrics } from '../../../src/observability/metrics.js';
import { registerMonitoringMetrics } from '../../../src/monitoring/monitoring-metrics.js';

test('instance id: configured, else HOSTNAME, else host-pid (an unusable HOSTNAME is passed over)', () => {
  assert.equal(resolveInstanceId('engine-7', { HOSTNAME: 'pod-a' }), 'engine-7');
  assert.equal(resolveInstanceId(undefined, { HOSTNAME: 'churnflow-5d9f-x2k' }), 'churnflow-5d9f-x2k');
  assert.equal(resolveInstanceId(undefined, {}, () => 'box.local', 42), 'box.local-42');
  assert.equal(resolveInstanceId(undefined, { HOSTNAME: 'has space' }, () => 'h ost', 7), 'h-ost-7');
});

test('instance.id is validated and set by CHURNFLOW_INSTANCE_ID', () => {
  assert.equal(loadConfig({ env: { CHURNFLOW_INSTANCE_ID: 'engine-2' } }).instance.id, 'engine-2');
  assert.throws(() => loadConfig({ env: { CHURNFLOW_INSTANCE_ID: 'bad id!' } }), (err: Error & { code?: string }) => err.code === 'CF_CONFIG_INVALID' && err.message.includes('instance.id'));
});

test('every series of the registry (engine, process and drift monitor metrics) carries the instance label', async () => {
  const m = createEngineMetrics({ instance: 'engine-3' });
  registerMonitoringMetrics(m.registry);
  m.eventsProcessed.inc({ kind: 'login' });
  m.consumerLag.set({ topic: 't', partition: '0' }, 5);
  m.batchSeconds.observe(0.01);
  const text = await m.registry.metrics();
  const series = text.split('\n').filter((l) => l.startsWith('churnflow_'));
  assert.ok(series.length > 20, `${series.length} series`);
  const unlabelled = series.filter((l) => !l.includes('instance="engine-3"'));
  assert.deepEqual(unlabelled, []);
  assert.equal(m.instance, 'engine-3');
});
