import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaClientConfig } from '../../../src/config/kafka-client-config.js';
import { loadConfig } from '../../../src/config/load-config.js';
import { ChurnflowError } from '../../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'cf-kafka-tls-'));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

test('kafkaClientConfig: plaintext without ssl/sasl; TLS reads the PEM files and keeps verification on; SASL from config', () => {
  const plain = kafkaClientConfig({ brokers: ['h:9092'] }, 'cid');
  assert.equal(plain.ssl, undefined);
  assert.equal(plain.sasl, undefined);
  assert.deepEqual(plain.brokers, ['h:9092']);
  writeFileSync(join(dir, 'ca.pem'), PEM);
  writeFileSync(join(dir, 'c.pem'), PEM);
  writeFileSync(join(dir, 'k.pem'), '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n');
  writeFileSync(join(dir, 'pw'), 'pw-from-file\n');
  const config = loadConfig({
    env: {},
    overrides: { kafka: { brokers: ['h:9093'], ssl: { enabled: true, caFile: join(dir, 'ca.pem'), certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem'), servername: 'kafka.internal' }, sasl: { mechanism: 'scram-sha-256', username: 'svc', passwordFile: join(dir, 'pw') } } },
  });
  const k = kafkaClientConfig(config.kafka, 'cid', { retries: 3 });
  assert.deepEqual(k.ssl, { rejectUnauthorized: true, ca: PEM, cert: PEM, key: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n', servername: 'kafka.internal' });
  assert.deepEqual(k.sasl, { mechanism: 'scram-sha-256', username: 'svc', password: 'pw-from-file' });
  assert.deepEqual(k.retry, { retries: 3 });
});

test('kafkaClientConfig: an unreadable or non-PEM file is CF_CONFIG_INVALID naming its key, never quoting the file', () => {
  writeFileSync(join(dir, 'notpem'), 'top-s3cret-bytes');
  const base = { brokers: ['h:9093'] };
  for (const [ssl, expect] of [
    [{ enabled: true, rejectUnauthorized: true, caFile: join(dir, 'missing.pem') }, /kafka\.ssl\.caFile: cannot read .*missing\.pem \(ENOENT\)/],
    [{ enabled: true, rejectUnauthorized: true, keyFile: join(dir, 'notpem'), certFile: join(dir, 'c.pem') }, /kafka\.ssl\.keyFile: .*notpem is not PEM/],
  ] as const) {
    assert.throws(
      () => kafkaClientConfig({ ...base, ssl }, 'cid'),
      (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_CONFIG_INVALID' && expect.test(err.message) && !err.message.includes('top-s3cret'),
    );
  }
  // TLS explicitly off: nothing is read. A CA alone turns it on (a CA nobody uses would be silent plaintext).
  assert.equal(kafkaClientConfig({ ...base, ssl: { enabled: false, rejectUnauthorized: true, caFile: join(dir, 'missing.pem') } }, 'cid').ssl, undefined);
  assert.deepEqual(kafkaClientConfig({ ...base, ssl: { rejectUnauthorized: true, caFile: join(dir, 'ca.pem') } }, 'cid').ssl, { rejectUnauthorized: true, ca: PEM });
  assert.deepEqual(kafkaClientConfig({ ...base, ssl: { enabled: true, rejectUnauthorized: true } }, 'cid').ssl, { rejectUnauthorized: true });
});
