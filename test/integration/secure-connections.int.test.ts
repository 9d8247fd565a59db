// Secure connections against the real services (scripts/services/secure.sh): Kafka over TLS with a
// client certificate and over SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (the password
// read from a file, as a Kubernetes Secret mount gives it), Redis over TLS, the registry over HTTPS.
// Every client is built from config through the same factories the engine uses; a wrong CA, a
// missing client certificate, a wrong name or password fails start-up as CF_CONFIG_INVALID naming
// the key, without the secret.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { Subscription } from 'rxjs';
import { loadConfig } from '../../src/config/load-config.js';
import type { ChurnflowConfigInput } from '../../src/config/config-schema.js';
import { ChurnflowError } from '../../src/errors.js';
import type { RawRecord } from '../../src/events/activity-event.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { createLogger } from '../../src/observability/logger.js';
import { checkKafka } from '../../src/preflight/check-kafka.js';
import { checkRedis } from '../../src/preflight/check-redis.js';
import { checkRegistry } from '../../src/preflight/check-registry.js';
import { schemaJson } from '../../src/serde/schemas.js';
import { registryClientFromConfig } from '../../src/serde/registry-from-config.js';
import { KafkaProducerPool } from '../../src/sinks/kafka-sink.js';
import { ensureTopics } from '../../src/sources/ensure-topics.js';
import { FlowControl } from '../../src/sources/flow-control.js';
import { createKafkaSource } from '../../src/sources/kafka-source.js';
import { redisClientOptions, redisConnection } from '../../src/config/redis-connection.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { systemClock } from '../../src/time/clock.js';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolveSimulatorOptions, simulate } from '../../src/simulator/index.js';
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { startEngine, stopEngine, waitCaughtUp, writeConfig } from '../helpers/engine-process.js';
import { deleteTopicsWithPrefix, produceSimulated, readAvroTopic, testTopics } from '../helpers/kafka.js';
import { SECURE_SERVICES as S, uniqueName } from '../helpers/services.js';

const tls = (name: string) => join(S.tlsDir, name);
const log = createLogger({ level: 'silent' });
const prefix = uniqueName('cf-secure');
after(() => deleteTopicsWithPrefix(prefix));

/** Config as a user writes it (file keys included), loaded and validated like any other. */
function config(overrides: ChurnflowConfigInput) {
  return loadConfig({ env: {}, overrides: overrides as Record<string, unknown> });
}

const mtls = { enabled: true, caFile: tls('ca.pem'), certFile: tls('client.pem'), keyFile: tls('client-key.pem') };
const serverCa = { enabled: true, caFile: tls('ca.pem') };

async function refusedAsConfig(run: Promise<unknown>, expect: RegExp, secret?: string): Promise<void> {
  await assert.rejects(run, (err: unknown) => {
    assert.ok(err instanceof ChurnflowError, `expected a ChurnflowError, got ${String(err)}`);
    assert.equal(err.code, 'CF_CONFIG_INVALID');
    assert.match(err.message, expect);
    if (secret) assert.ok(![err.message, err.stack, JSON.stringify(err.details)].join('\n').includes(secret), 'the secret leaked into the error');
    return true;
  });
}

/**
 * Admin (topic creation), the producer pool and the Kafka source, each from `kafka` config, move
 * `n` JSON records through `topic` and back; with `groupId` the source is a consumer group that
 * commits, else a bounded replay that completes at the end of the topic.
 */
async function roundTrip(kafka: ReturnType<typeof config>['kafka'], topic: string, n: number, groupId?: string): Promise<string[]> {
  assert.deepEqual(await ensureTopics(kafka, [topic], 2), [topic]);
  const pool = new KafkaProducerPool({ brokers: kafka.brokers, ssl: kafka.ssl, sasl: kafka.sasl, clientId: 'cf-secure-producer' });
  try {
    await pool.use((p) => p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `c-${i % 5}`, value: JSON.stringify({ i }) })) }));
  } finally {
    await pool.close();
  }
  const source = createKafkaSource(
    {
      brokers: kafka.brokers,
      ssl: kafka.ssl,
      sasl: kafka.sasl,
      clientId: 'cf-secure-source',
      groupId: groupId ?? uniqueName('cf-secure-replay'),
      topics: [topic],
      fromBeginning: true,
      format: 'json',
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      fetchMaxWaitMs: 200,
      ...(groupId ? {} : { bounds: { fromTime: 0 } }),
    },
    { logger: log, clock: systemClock },
  );
  const seen: string[] = [];
  const flow = new FlowControl(256);
  let sub: Subscription | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${n} records in 60 s`)), 60_000);
      const done = () => (clearTimeout(timer), resolve());
      sub = source.records(flow).subscribe({
        next: (r: RawRecord) => {
          seen.push(Buffer.from(r.value as Uint8Array).toString());
          void source.commit([r]).finally(() => flow.release(1));
          if (groupId && seen.length === n) done();
        },
        error: (e: unknown) => (clearTimeout(timer), reject(e)),
        complete: done,
      });
    });
  } finally {
    sub?.unsubscribe();
    await source.close();
  }
  return seen.sort();
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ i })).sort();

describe('Kafka over TLS (client certificate required by the listener)', () => {
  test('admin, producer and a bounded replay connect with the CA and client certificate from files', async () => {
    const c = config({ kafka: { brokers: S.kafkaTlsBrokers, ssl: mtls } });
    assert.equal(await checkKafka(c.kafka), undefined);
    assert.deepEqual(await roundTrip(c.kafka, `${prefix}.tls`, 40), expected(40));
  });

  test('a wrong CA, the system CAs (verification is on by default), no client certificate, a wrong name: CF_CONFIG_INVALID naming kafka.ssl', async () => {
    const brokers = S.kafkaTlsBrokers;
    await refusedAsConfig(checkKafka(config({ kafka: { brokers, ssl: { ...mtls, caFile: tls('other-ca.pem') } } }).kafka), /^kafka\.ssl: the TLS handshake .* failed \(SELF_SIGNED_CERT_IN_CHAIN\)/);
    await refusedAsConfig(checkKafka(config({ kafka: { brokers, ssl: { enabled: true, certFile: mtls.certFile, keyFile: mtls.keyFile } } }).kafka), /^kafka\.ssl: .*\((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    await refusedAsConfig(checkKafka(config({ kafka: { brokers, ssl: serverCa } }).kafka), /^kafka\.ssl: .*\(ERR_SSL_(SSLV3_ALERT_BAD_CERTIFICATE|TLSV13_ALERT_CERTIFICATE_REQUIRED)\)/);
    await refusedAsConfig(checkKafka(config({ kafka: { brokers, ssl: { ...mtls, servername: 'kafka.example.com' } } }).kafka), /^kafka\.ssl: .*\(ERR_TLS_CERT_ALTNAME_INVALID\)/);
  });
});

describe('Kafka over SASL_SSL', () => {
  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    test(`${mechanism}: the password from a file; admin, producer and a consumer group that commits`, async () => {
      const c = config({ kafka: { brokers: S.kafkaSaslBrokers, ssl: serverCa, sasl: { mechanism, username: S.kafkaSaslUser, passwordFile: tls('sasl-password') } } });
      assert.equal(c.kafka.sasl?.password, readFileSync(tls('sasl-password'), 'utf8').trim());
      assert.equal(await checkKafka(c.kafka), undefined);
      assert.deepEqual(await roundTrip(c.kafka, `${prefix}.${mechanism}`, 30, uniqueName(`cf-secure-${mechanism}`)), expected(30));
    });
  }

  test('a wrong password or user is CF_CONFIG_INVALID naming kafka.sasl, and the password is in no error', async () => {
    const wrong = 'wrong-but-secret-password-42';
    for (const mechanism of ['plain', 'scram-sha-512'] as const) {
      const c = config({ kafka: { brokers: S.kafkaSaslBrokers, ssl: serverCa, sasl: { mechanism, username: S.kafkaSaslUser, password: wrong } } });
      await refusedAsConfig(checkKafka(c.kafka), new RegExp(`^kafka\\.sasl: the brokers .* refused the ${mechanism} login of user '${S.kafkaSaslUser}'`), wrong);
    }
    // The topic creation path (no preflight) fails too, also without the password.
    const c = config({ kafka: { brokers: S.kafkaSaslBrokers, ssl: serverCa, sasl: { mechanism: 'scram-sha-256', username: 'nobody', password: wrong } } });
    await assert.rejects(ensureTopics(c.kafka, [`${prefix}.never`], 1), (err: unknown) => err instanceof ChurnflowError && !err.message.includes(wrong) && /authentication failed/i.test(err.message));
  });
});

describe('Redis over TLS', () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);

  test('the start-up check and the state store connect with the CA and client certificate (rediss:// turns TLS on)', async () => {
    const c = config({ state: { kind: 'redis', redis: { url: S.redisTlsUrl, tls: { caFile: tls('ca.pem'), certFile: tls('client.pem'), keyFile: tls('client-key.pem') } } } });
    assert.equal(await checkRedis(redisConnection(c)), undefined);
    const store = new RedisStateStore({ ...redisClientOptions(redisConnection(c)), keyPrefix: `${uniqueName('cf-secure')}:`, layout: spec.layout });
    try {
      const [loaded] = await store.load(['c-1']);
      assert.ok(loaded, 'the store answered over TLS');
    } finally {
      await store.close();
    }
  });

  test('a wrong CA, the system CAs, a wrong name: a TLS error at start-up naming the key, not "max retries per request"', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ caFile: tls('other-ca.pem') }, /SELF_SIGNED_CERT_IN_CHAIN/],
      [{}, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/],
      [{ caFile: tls('ca.pem'), servername: 'redis.example.com' }, /ERR_TLS_CERT_ALTNAME_INVALID/],
    ];
    for (const [t, code] of cases) {
      const c = config({ state: { redis: { url: S.redisTlsUrl, tls: t } } });
      await refusedAsConfig(checkRedis(redisConnection(c)), new RegExp(`^state\\.redis\\.url: Redis at rediss://127\\.0\\.0\\.1:\\d+ failed the TLS handshake \\((${code.source})\\)`));
    }
  });
});

describe('Schema registry over HTTPS', () => {
  test('with the CA from config: register and read back; without it (verification on) or with a wrong one: CF_CONFIG_INVALID', async () => {
    const ok = registryClientFromConfig(config({ schemaRegistry: { url: S.schemaRegistryTlsUrl, tls: { caFile: tls('ca.pem') } } }).schemaRegistry);
    try {
      assert.equal(await checkRegistry(ok, 'schemaRegistry.url'), undefined);
      const id = await ok.register(`${prefix}-value`, schemaJson('risk-event'));
      assert.equal((JSON.parse((await ok.getSchemaById(id)).schema) as { name: string }).name, schemaJson('risk-event')['name']);
    } finally {
      await ok.close();
    }
    for (const t of [{}, { caFile: tls('other-ca.pem') }]) {
      const bad = registryClientFromConfig(config({ schemaRegistry: { url: S.schemaRegistryTlsUrl, tls: t } }).schemaRegistry, { maxRetries: 0 });
      try {
        await refusedAsConfig(checkRegistry(bad, 'schemaRegistry.url'), /^schemaRegistry\.url: the schema registry at https:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7 failed the TLS handshake \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/);
      } finally {
        await bad.close();
      }
    }
  });
});

describe('the engine on secure connections only', () => {
  test('churnflow run: SCRAM over TLS to Kafka, Redis over TLS, the registry over HTTPS, secrets from files; no secret in its logs, metrics or answers', async () => {
    const topics = await testTopics(2);
    const produced = await produceSimulated(topics.activity, simulate(resolveSimulatorOptions({ customers: 40, days: 20, seed: 7 })));
    assert.ok(produced.events > 0);
    const password = readFileSync(tls('sasl-password'), 'utf8').trim();
    const token = `lookup-${uniqueName('token')}`;
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'cf-secret-')), 'token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const groupId = uniqueName('cf-secure-engine');
    const configFile = writeConfig({
      source: { kind: 'kafka' },
      kafka: {
        groupId,
        topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift },
        sessionTimeoutMs: 6000,
        heartbeatIntervalMs: 500,
        ssl: serverCa,
        sasl: { mechanism: 'scram-sha-512', username: S.kafkaSaslUser, passwordFile: tls('sasl-password') },
      },
      schemaRegistry: { tls: { caFile: tls('ca.pem') } },
      state: { kind: 'redis', redis: { keyPrefix: `${uniqueName('t')}:`, tls: { caFile: tls('ca.pem'), certFile: tls('client.pem'), keyFile: tls('client-key.pem') } } },
      http: { port: 0, customerLookup: { bearerTokenFile: tokenFile } },
      log: { level: 'debug' },
    });
    // The env the helper sets points at the plaintext ports: these override it with the secure ones only.
    const engine = startEngine(configFile, {
      CHURNFLOW_KAFKA_BROKERS: S.kafkaSaslBrokers.join(','),
      CHURNFLOW_REDIS_URL: S.redisTlsUrl,
      CHURNFLOW_SCHEMA_REGISTRY_URL: S.schemaRegistryTlsUrl,
    });
    let answers = '';
    try {
      const started = Date.now();
      let url: string | undefined;
      while (!(url = /"http":"(http:[^"]+)"/.exec(engine.logs())?.[1])) {
        if (engine.child.exitCode !== null || Date.now() - started > 60_000) throw new Error(`the engine did not start:\n${engine.logs().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitCaughtUp(groupId, topics.activity, 120_000, () => engine.child.exitCode === null).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${engine.logs().slice(-3000)}`);
      });
      const risk = await readAvroTopic<RiskEventRecord>(topics.risk, { idleMs: 2000, timeoutMs: 60_000 });
      assert.ok(risk.length > 0, 'risk events reached the risk topic');
      const customer = risk[0]!.value.customer_id;
      const denied = await fetch(`${url}/customers/${customer}/risk`);
      assert.equal(denied.status, 401);
      const allowed = await fetch(`${url}/customers/${customer}/risk`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(allowed.status, 200);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /churnflow_/);
      answers = [await denied.text(), await allowed.text(), metrics].join('\n');
      assert.equal(await stopEngine(engine), 0, 'a clean stop over the secure connections');
    } finally {
      if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
    }
    const everything = engine.logs() + answers;
    assert.match(engine.logs(), /churnflow running/);
    assert.ok(!everything.includes(password), 'the SASL password reached a log line or an answer');
    assert.ok(!everything.includes(token), 'the bearer token reached a log line or an answer');
  });
});
