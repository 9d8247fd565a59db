import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnflowError, isRetriable } from '../../src/errors.js';

test('coded errors carry code and retriable flag', () => {
  const e = new ChurnflowError('CF_STATE_UNAVAILABLE', 'redis down', { retriable: true });
  assert.equal(e.code, 'CF_STATE_UNAVAILABLE');
  assert.equal(isRetriable(e), true);
  assert.equal(isRetriable(new Error('x')), false);
  assert.equal(new ChurnflowError('CF_CONFIG_INVALID', 'bad').retriable, false);
});
