import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { redactSecrets, redactText } from '../../../src/config/redact-secrets.js';
import { createLogger } from '../../../src/observability/logger.js';

test('URL userinfo: the password is masked, the user kept; a lone userinfo (a token) is masked', () => {
  assert.equal(redactText('redis://user:pa55@host:6379/0'), 'redis://user:***@host:6379/0');
  assert.equal(redactText('rediss://:pa55@host'), 'rediss://:***@host');
  assert.equal(redactText('see https://tok3n@registry/x and redis://a:b@c'), 'see https://***@registry/x and redis://a:***@c');
  assert.equal(redactText('redis://host:6379 user@example.com'), 'redis://host:6379 user@example.com', 'no userinfo, nothing to hide');
});

test('secret-named keys lose their whole value at any depth; other values keep theirs (URLs redacted)', () => {
  const input = { kafka: { sasl: { mechanism: 'plain', password: 'p' }, brokers: ['b:1'] }, registry: { auth: { user: 'u' }, apiKey: 'k' }, nested: [{ token: 't', url: 'redis://u:p@h' }], keyPrefix: 'cf:' };
  assert.deepEqual(redactSecrets(input), {
    kafka: { sasl: '***', brokers: ['b:1'] },
    registry: { auth: '***', apiKey: '***' },
    nested: [{ token: '***', url: 'redis://u:***@h' }],
    keyPrefix: 'cf:',
  });
});

test('log lines never carry a secret: keys, URLs in values and messages, error messages, stacks and causes', async () => {
  const secret = 'hunter2-s3cr3t';
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => ((out += chunk.toString()), cb()) });
  const logger = createLogger({ destination: sink, level: 'debug' });
  const err = new Error(`connect to redis://default:${secret}@h:6379 failed`, { cause: new Error(`https://${secret}@registry`) });
  logger.error({ err, config: { kafka: { sasl: { username: 'u', password: secret } }, state: { redis: { url: `redis://:${secret}@h` } } }, password: secret, token: secret }, `url redis://a:${secret}@b`);
  logger.child({ stage: 'x' }).warn({ deep: { a: { b: { secret } } } }, 'plain %s', `redis://a:${secret}@b`);
  await new Promise((r) => setImmediate(r));
  assert.ok(out.length > 0 && out.includes('connect to redis://default:***@h:6379 failed'), out);
  assert.ok(!out.includes(secret), `a secret reached the log: ${out}`);
});
