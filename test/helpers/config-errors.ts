// A config refusal in tests: CF_CONFIG_INVALID with the expected message, and — given a secret —
// the secret nowhere in anything the error carries or serializes to.
import assert from 'node:assert/strict';
import { ChurnflowError } from '../../src/errors.js';

export function refusedAsConfigError(fn: () => unknown, expect: RegExp, secret?: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ChurnflowError && caught.code === 'CF_CONFIG_INVALID', `expected CF_CONFIG_INVALID, got ${String(caught)}`);
  assert.match(caught.message, expect);
  if (secret === undefined) return;
  const serialized = [caught.message, caught.stack ?? '', JSON.stringify(caught), JSON.stringify(caught.details), String(caught)].join('\n');
  assert.ok(!serialized.includes(secret), `the secret leaked: ${serialized}`);
}
