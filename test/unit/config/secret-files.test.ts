import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { SECRET_FILE_KEYS } from '../../../src/config/secret-files.js';
import { createLogger } from '../../../src/observability/logger.js';
import { refusedAsConfigError } from '../../helpers/config-errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cf-secrets-'));
function secretFile(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, 0o600);
  return p;
}

test('every <secret>File key is read at load into <secret> (one trailing newline dropped), and the File key is gone', () => {
  const pw = secretFile('sasl', 'sasl-pa55word\n');
  const redisPw = secretFile('redis', 'redis-pa55word');
  const regPw = secretFile('registry', 'registry-pa55word\r\n');
  const token = secretFile('token', 'a-bearer-token-of-32-characters!\n');
  const c = loadConfig({
    env: { CHURNFLOW_KAFKA_SASL_PASSWORD_FILE: pw, CHURNFLOW_KAFKA_SASL_MECHANISM: 'scram-sha-512', CHURNFLOW_KAFKA_SASL_USERNAME: 'svc', CHURNFLOW_REDIS_PASSWORD_FILE: redisPw, CHURNFLOW_HTTP_BEARER_TOKEN_FILE: token },
    overrides: { schemaRegistry: { basicAuth: { username: 'reg', passwordFile: regPw } } },
  });
  assert.deepEqual({ ...c.kafka.sasl }, { mechanism: 'scram-sha-512', username: 'svc', password: 'sasl-pa55word' });
  assert.equal(c.state.redis.password, 'redis-pa55word');
  assert.deepEqual({ ...c.schemaRegistry.basicAuth }, { username: 'reg', password: 'registry-pa55word' });
  assert.equal(c.http.customerLookup.bearerToken, 'a-bearer-token-of-32-characters!');
  assert.equal(c.http.customerLookup.bearerTokenFile, undefined);
  assert.deepEqual([...SECRET_FILE_KEYS].sort(), ['http.customerLookup.bearerToken', 'kafka.sasl.password', 'schemaRegistry.basicAuth.password', 'state.redis.password']);
});

test('a secret file that is missing, empty or given beside the inline value fails at load, naming the key and never the value', () => {
  const secret = 'inline-s3cr3t-value';
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', passwordFile: join(dir, 'nope') } } } }), /kafka\.sasl\.passwordFile: cannot read .*nope \(ENOENT\)/);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', passwordFile: secretFile('empty', '\n') } } } }), /kafka\.sasl\.passwordFile: .*empty is empty/);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret, passwordFile: secretFile('both', 'x') } } } }), /kafka\.sasl\.passwordFile: give kafka\.sasl\.password or kafka\.sasl\.passwordFile, not both/, secret);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u' } } } }), /kafka\.sasl\.password: required \(or passwordFile/);
  // Validated after reading: a short token from a file is refused like an inline one, without quoting it.
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { http: { customerLookup: { bearerTokenFile: secretFile('short', 'tiny-t0ken') } } } }), /http\.customerLookup\.bearerToken: at least 16 characters \(got \*\*\*\)/, 'tiny-t0ken');
});

test('TLS blocks: verification on by default, a client certificate needs its key, unknown keys are named', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.kafka.ssl.enabled, undefined, 'off unless enabled or a file is given');
  assert.equal(c.kafka.ssl.rejectUnauthorized, true);
  assert.equal(c.state.redis.tls.rejectUnauthorized, true);
  assert.equal(c.schemaRegistry.tls.rejectUnauthorized, true);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { ssl: { enabled: true, certFile: '/c.pem' } } } }), /kafka\.ssl\.certFile: certFile and keyFile go together/);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { state: { redis: { tls: { ca: '/x' } } } } }), /state\.redis\.tls\.ca: unknown key \(allowed under state\.redis\.tls: enabled, caFile, certFile, keyFile, servername, rejectUnauthorized\)/);
});

test('a secret read from a file never reaches a log line, whatever object logs the config', () => {
  const secret = 'file-borne-s3cr3t-9f8e7d';
  const c = loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'scram-sha-256', username: 'u', passwordFile: secretFile('log', secret) } }, http: { customerLookup: { bearerTokenFile: secretFile('logtok', `${secret}-token`) } }, state: { redis: { passwordFile: secretFile('logredis', secret) } } } });
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _enc, cb) => ((out += chunk.toString()), cb()) });
  const log = createLogger({ destination: sink, level: 'info' });
  log.info({ config: c }, 'config');
  log.info({ kafka: c.kafka, redis: c.state.redis, http: c.http }, 'parts');
  log.error({ err: new Error(`connect failed with ${JSON.stringify(c.kafka.sasl)}`) }, 'failure');
  assert.ok(out.includes('"config"'), out);
  assert.ok(!out.includes(secret), `the secret reached the log: ${out}`);
});
