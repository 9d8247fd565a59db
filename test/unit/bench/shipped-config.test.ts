import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SHIPPED_CONFIG_FILE, shippedConfig } from '../../../bench/shipped-config.js';
import { loadConfig } from '../../../src/config/load-config.js';

const run = { groupId: 'g-bench', topics: { activity: 'a', risk: 'r', deadLetter: 'd', drift: 'dr', shadow: 's' }, redisKeyPrefix: 'p:' };

/** Every leaf path where two config trees differ. */
function differingPaths(a: unknown, b: unknown, at = ''): string[] {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) => differingPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [at];
}

test('the benches run deploy/churnflow.yaml with only the listed keys changed', () => {
  const shipped = loadConfig({ file: SHIPPED_CONFIG_FILE, env: {} });
  const paths = differingPaths(shipped, shippedConfig(run));
  const allowed = /^(kafka\.brokers|kafka\.groupId|kafka\.topics\.\w+|schemaRegistry\.url|state\.redis\.(url|keyPrefix)|http\.port|log\.level)$/;
  assert.deepEqual(paths.filter((p) => !allowed.test(p)), []);
  assert.ok(paths.includes('kafka.groupId'));
});

test('the variants change one more key each: reasons off, or a risk event for every event', () => {
  const base = shippedConfig(run);
  assert.deepEqual(differingPaths(base, shippedConfig({ ...run, noReasons: true })), ['model.reasons.topK']);
  assert.deepEqual(differingPaths(base, shippedConfig({ ...run, emitEvery: true })), ['engine.risk.emit']);
});
