import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { redisConnectionOptions } from '../../../src/config/redis-connection.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('redisConnectionOptions: plaintext without TLS keys; rediss:// turns TLS on (system CAs, verification on); files and ACL credentials from config', () => {
  assert.deepEqual(redisConnectionOptions(loadConfig({ env: {} }).state.redis), {});
  assert.deepEqual(redisConnectionOptions(loadConfig({ env: { CHURNFLOW_REDIS_URL: 'rediss://r:6380' } }).state.redis), { tls: { rejectUnauthorized: true } });
  const dir = mkdtempSync(join(tmpdir(), 'cf-redis-tls-'));
  writeFileSync(join(dir, 'ca.pem'), PEM);
  writeFileSync(join(dir, 'pw'), 'redis-acl-pa55\n');
  const c = loadConfig({
    env: { CHURNFLOW_REDIS_URL: 'rediss://r:6380', CHURNFLOW_REDIS_TLS_CA_FILE: join(dir, 'ca.pem'), CHURNFLOW_REDIS_PASSWORD_FILE: join(dir, 'pw') },
    overrides: { state: { redis: { username: 'engine', tls: { servername: 'redis.internal' } } } },
  });
  assert.deepEqual(redisConnectionOptions(c.state.redis), { tls: { rejectUnauthorized: true, ca: PEM, servername: 'redis.internal' }, username: 'engine', password: 'redis-acl-pa55' });
  // A redis:// URL with TLS settings: the settings win (a CA given is never silently unused).
  const plainUrl = loadConfig({ env: {}, overrides: { state: { redis: { url: 'redis://r:6379', tls: { caFile: join(dir, 'ca.pem') } } } } });
  assert.deepEqual(redisConnectionOptions(plainUrl.state.redis).tls, { rejectUnauthorized: true, ca: PEM });
});
