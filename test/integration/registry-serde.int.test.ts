// Against the REAL schema registry (Apicurio's Confluent-compatible API; start it with
// `bash scripts/services/services.sh start registry`). Every test uses its own subjects.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { AvroDeserializer, AvroSerializer, SerdeType, TopicNameStrategy } from '@confluentinc/schemaregistry';
import type { ActivityEvent, RawRecord } from '../../src/events/activity-event.js';
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { ChurnflowError } from '../../src/errors.js';
import { ActivityCodec, DecodeError } from '../../src/serde/activity-codec.js';
import { createMappedDecoder, loadInputMappingFile } from '../../src/serde/input-mapping.js';
import { RegistryClient, RegistryError, subjectForTopic } from '../../src/serde/registry-client.js';
import { RegistryActivityDecoder } from '../../src/serde/registry-decoder.js';
import { activityEventEncoder, riskEventEncoder, RegistryEncoder } from '../../src/serde/registry-encoder.js';
import { schemaJson } from '../../src/serde/schemas.js';
import { checkSchemas, registerSchemas, schemasCommand, schemaTargets, type SchemasIo } from '../../src/cli/schemas.js';
import { SERVICES, uniqueName } from '../helpers/services.js';
import { T0, day, ev, profile } from '../helpers/events.js';

const URL_ = SERVICES.schemaRegistryUrl;
const EXAMPLE = fileURLToPath(new URL('../../../examples/foreign-events/', import.meta.url));
const registry = new RegistryClient({ url: URL_ });
const codec = new ActivityCodec();

before(async () => {
  try {
    await registry.latest(uniqueName('probe'));
  } catch (err) {
    throw new Error(`schema registry not reachable at ${URL_} (start it: bash scripts/services/services.sh start registry): ${(err as Error).message}`);
  }
});
after(async () => {
  await registry.close();
});

/** One event of every kind. */
function sampleEvents(prefix: string): ActivityEvent[] {
  return [
    profile(`${prefix}-c1`, day(0), { age: null }),
    ev('login', `${prefix}-c1`, day(1), { device: 'ios', success: false }),
    ev('session', `${prefix}-c1`, day(1, 13), { duration_seconds: 1800, content_items: 3, content_id: 'm-17' }),
    ev('payment', `${prefix}-c1`, day(2), { status: 'SUCCEEDED', amount_cents: 1299, discount_cents: 100, currency: 'EUR' }),
    ev('plan_change', `${prefix}-c1`, day(3), { change: 'DOWNGRADE', from_plan: 'premium', to_plan: 'basic', reason: null }),
    ev('support_ticket', `${prefix}-c1`, day(4), { category: 'billing', is_complaint: true, satisfaction: 2 }),
  ];
}

/** An encoder after its one-time registry set-up. */
async function ready<T>(encoder: RegistryEncoder<T>): Promise<RegistryEncoder<T>> {
  await encoder.prepare();
  return encoder;
}

let offset = 0;
function kafkaRecord(value: unknown, topic: string, format: RawRecord['format'] = 'confluent-avro'): RawRecord {
  return { position: { stream: `kafka:${topic}/0`, offset: offset++ }, format, value, topic, partition: 0, receivedAt: T0 };
}

function frame(id: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(id, 1);
  return Buffer.concat([header, body]);
}

function decodeError(decoder: RegistryActivityDecoder, record: RawRecord): DecodeError {
  try {
    decoder.decode(record);
  } catch (err) {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a DecodeError');
}

/** The activity schema with changes (schema evolution). */
function activitySchemaWith(change: (s: { fields: Record<string, unknown>[] }) => void): Record<string, unknown> {
  const s = structuredClone(schemaJson('activity-event')) as { fields: Record<string, unknown>[] };
  change(s);
  return s as unknown as Record<string, unknown>;
}

function branchOf(s: { fields: Record<string, unknown>[] }, name: string): { fields: Record<string, unknown>[] } {
  const payload = s.fields.find((f) => f['name'] === 'payload') as { type: { name: string; fields: Record<string, unknown>[] }[] };
  return payload.type.find((b) => b.name === name)!;
}

test('round trip: activity events encoded for a topic decode back to the same events; autoRegister off needs the subject', async () => {
  const topic = uniqueName('cf-it-activity');
  const strict = activityEventEncoder({ registry, topic, autoRegister: false });
  await assert.rejects(strict.prepare(), (err: unknown) => {
    assert.ok(err instanceof ChurnflowError);
    assert.equal(err.code, 'CF_SINK_FAILED');
    assert.match(err.message, new RegExp(`subject '${subjectForTopic(topic)}' is not registered .* autoRegister is off`));
    return true;
  });
  const unprepared = activityEventEncoder({ registry, topic, autoRegister: true });
  assert.throws(() => unprepared.encode(sampleEvents(topic)[0]!), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_LIFECYCLE');
  await Promise.all([unprepared.prepare(), unprepared.prepare()]); // one set-up, however often it's called
  const encoder = await ready(unprepared);
  assert.equal(encoder.subject, `${topic}-value`);
  assert.equal(encoder.registered, true);
  assert.equal(encoder.mode, 'exact');
  assert.equal((await registry.latest(encoder.subject))?.id, encoder.schemaId);
  // a second encoder (e.g. after a restart) finds the id without registering; so does autoRegister off
  const again = await ready(activityEventEncoder({ registry, topic, autoRegister: true }));
  const readOnly = await ready(strict); // a failed prepare() is tried again on the next call
  assert.deepEqual([again.schemaId, again.registered, readOnly.schemaId, readOnly.mode], [encoder.schemaId, false, encoder.schemaId, 'exact']);

  const events = sampleEvents(topic);
  const records = events.map((e) => kafkaRecord(encoder.encode(e), topic));
  for (const r of records) {
    const buf = r.value as Buffer;
    assert.equal(buf[0], 0);
    assert.equal(buf.readUInt32BE(1), encoder.schemaId);
  }
  const decoder = new RegistryActivityDecoder({ registry });
  await decoder.prepare(records);
  assert.deepEqual(records.map((r) => decoder.decode(r)), events);
  // other formats on the same decoder go to the ActivityCodec
  assert.deepEqual(decoder.decode(kafkaRecord(JSON.stringify(codec.toJsonObject(events[1]!)), topic, 'json')), events[1]);
});

test('interop with the @confluentinc/schemaregistry serdes: its serializer → our decoder, our risk encoder → its deserializer', async () => {
  const topic = uniqueName('cf-it-interop');
  const id = await registry.register(subjectForTopic(topic), schemaJson('activity-event'));
  const ser = new AvroSerializer(await registry.packageClient(), SerdeType.VALUE, { useSchemaId: id, subjectNameStrategy: TopicNameStrategy, wrapUnions: true });
  const events = sampleEvents(topic);
  const records: RawRecord[] = [];
  for (const e of events) records.push(kafkaRecord(await ser.serialize(topic, codec.toAvroObject(e)), topic));
  const decoder = new RegistryActivityDecoder({ registry });
  await decoder.prepare(records);
  assert.deepEqual(records.map((r) => decoder.decode(r)), events);

  const riskTopic = uniqueName('cf-it-risk');
  const risk = await ready(riskEventEncoder({ registry, topic: riskTopic, autoRegister: true }));
  const rec: RiskEventRecord = {
    event_id: 'r-1', customer_id: 'c-1', score: 0.42, band: 'medium', previous_band: null, threshold: 0.31, above_threshold: true,
    model_name: 'churn-gbdt', model_version: '1.0.0', scorer: 'model', experiment_arm: null,
    reasons: [{ feature: 'logins_7d', value: 0, contribution: 0.2 }, { feature: 'age', value: null, contribution: -0.01 }],
    trigger_event_id: 'e-1', event_time: day(5), processing_time: day(5) + 12,
  };
  const des = new AvroDeserializer(await registry.packageClient(), SerdeType.VALUE, { subjectNameStrategy: TopicNameStrategy });
  assert.deepEqual(JSON.parse(JSON.stringify(await des.deserialize(riskTopic, risk.encode(rec)))), rec);
  assert.throws(() => risk.encode({ ...rec, score: 'high' as unknown as number }), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_SINK_FAILED' && /score = "high"/.test(err.message));
});

test('schema evolution: newer and older writer schemas decode with the engine schema as reader; check reports it', async () => {
  const topic = uniqueName('cf-it-evolve');
  const subject = subjectForTopic(topic);
  const v1 = await ready(activityEventEncoder({ registry, topic, autoRegister: true }));
  // v2 adds an envelope field and a session field, both with defaults: BACKWARD compatible
  const v2Schema = activitySchemaWith((s) => {
    s.fields.push({ name: 'source_system', type: 'string', default: 'web' });
    branchOf(s, 'Session').fields.push({ name: 'player', type: ['null', 'string'], default: null });
  });
  const v2Id = await registry.register(subject, v2Schema);
  assert.notEqual(v2Id, v1.schemaId);
  const v2Type = avro.Type.forSchema(v2Schema as avro.Schema, { wrapUnions: true });
  const events = sampleEvents(topic);
  const v2Records = events.map((e) => {
    const obj = codec.toAvroObject(e) as Record<string, unknown> & { payload: Record<string, Record<string, unknown>> };
    const session = obj.payload['io.churnflow.events.Session'];
    if (session) session['player'] = { string: 'exo' };
    return kafkaRecord(frame(v2Id, v2Type.toBuffer({ ...obj, source_system: 'ios-app' })), topic);
  });
  const v1Records = events.map((e) => kafkaRecord(v1.encode(e), topic));
  const decoder = new RegistryActivityDecoder({ registry });
  await decoder.prepare([...v1Records, ...v2Records]);
  assert.deepEqual(v2Records.map((r) => decoder.decode(r)), events);
  assert.deepEqual(v1Records.map((r) => decoder.decode(r)), events);

  // an older writer: Session without content_items (the reader's default 0 fills in)
  const oldTopic = uniqueName('cf-it-older');
  const v0Schema = activitySchemaWith((s) => {
    const session = branchOf(s, 'Session');
    session.fields = session.fields.filter((f) => f['name'] !== 'content_items');
  });
  const v0Id = await registry.register(subjectForTopic(oldTopic), v0Schema);
  const v0Type = avro.Type.forSchema(v0Schema as avro.Schema, { wrapUnions: true });
  const old = kafkaRecord(frame(v0Id, v0Type.toBuffer({ event_id: 'o1', customer_id: 'c', event_time: day(1), payload: { 'io.churnflow.events.Session': { duration_seconds: 60, content_id: null } } })), oldTopic);
  await decoder.prepare([old]);
  assert.deepEqual(decoder.decode(old), { eventId: 'o1', customerId: 'c', eventTime: day(1), kind: 'session', payload: { duration_seconds: 60, content_items: 0, content_id: null } });

  // `check`: our schema is registered (v1) but not the latest; it is still compatible with v2
  const [c] = await checkSchemas(registry, schemaTargets({ topics: { 'activity-event': topic }, only: ['activity-event'] }));
  assert.equal(c!.status, 'compatible');
  assert.deepEqual(c!.latest, { version: 2, id: v2Id });
  assert.deepEqual(c!.registered, { version: 1, id: v1.schemaId });
  // `register` leaves it alone: the registry would return the same id and add no version
  const [r] = await registerSchemas(registry, schemaTargets({ topics: { 'activity-event': topic }, only: ['activity-event'] }));
  assert.deepEqual([r!.outcome, r!.id, r!.message], ['unchanged', v1.schemaId, 'registered as version 1; the latest is version 2']);
  // an encoder with autoRegister off writes our records with our own (registered) id
  const enc = await ready(activityEventEncoder({ registry, topic, autoRegister: false }));
  assert.equal(enc.schemaId, v1.schemaId);

  // an encoder with autoRegister off on a subject holding only v2: written with v2 (defaults filled)
  const onlyV2 = uniqueName('cf-it-onlyv2');
  const onlyV2Id = await registry.register(subjectForTopic(onlyV2), v2Schema);
  const latestEnc = await ready(activityEventEncoder({ registry, topic: onlyV2, autoRegister: false }));
  assert.deepEqual([latestEnc.mode, latestEnc.schemaId], ['latest', onlyV2Id]);
  const written = latestEnc.encode(events[2]!);
  assert.equal(written.readUInt32BE(1), onlyV2Id);
  const asV2 = v2Type.fromBuffer(written.subarray(5)) as { source_system: string; payload: Record<string, Record<string, unknown>> };
  assert.equal(asV2.source_system, 'web');
  assert.equal(asV2.payload['io.churnflow.events.Session']?.['player'], null);
  const back = kafkaRecord(written, onlyV2);
  await decoder.prepare([back]);
  assert.deepEqual(decoder.decode(back), events[2]);
});

test('the Custom branch (user-declared kinds) is a compatible change: check passes over the previous schema, and a custom event decodes with input.kinds', async () => {
  const topic = uniqueName('cf-it-custom');
  const subject = subjectForTopic(topic);
  // The activity schema before user-declared kinds: the same union without its last branch.
  const previous = activitySchemaWith((s) => {
    const payload = s.fields.find((f) => f['name'] === 'payload') as { type: { name: string }[] };
    assert.equal(payload.type[payload.type.length - 1]!.name, 'Custom');
    payload.type = payload.type.slice(0, -1);
  });
  const previousId = await registry.register(subject, previous);
  const [c] = await checkSchemas(registry, schemaTargets({ topics: { 'activity-event': topic }, only: ['activity-event'] }));
  assert.deepEqual([c!.status, c!.level], ['compatible', 'BACKWARD'], c!.messages.join('\n'));
  const [r] = await registerSchemas(registry, schemaTargets({ topics: { 'activity-event': topic }, only: ['activity-event'] }));
  assert.equal(r!.outcome, 'registered');
  assert.notEqual(r!.id, previousId);
  // Records of the previous writer still decode; a custom event written with the new schema decodes to its declared kind.
  const kinds = [{ name: 'page_view', fields: { seconds: { min: 0 } }, attributes: ['page'] }];
  const decoder = new RegistryActivityDecoder({ registry, input: { kinds } });
  const oldType = avro.Type.forSchema(previous as avro.Schema, { wrapUnions: true });
  const newCodec = new ActivityCodec(undefined, { kinds: [{ name: 'page_view', fields: { seconds: { required: false } }, attributes: ['page'], value: {} }] });
  const login = ev('login', 'c1', day(1), { device: 'web', success: true });
  const view = { eventId: 'v1', customerId: 'c1', eventTime: day(2), kind: 'page_view', payload: { value: 3, seconds: 40, page: 'pricing' } };
  const records = [kafkaRecord(frame(previousId, oldType.toBuffer(codec.toAvroObject(login))), topic), kafkaRecord(frame(r!.id!, newCodec.toAvroBuffer(view)), topic)];
  await decoder.prepare(records);
  assert.deepEqual(records.map((x) => decoder.decode(x)), [login, view]);
  // Without the declaration the same record is an unknown kind, not a crash.
  const undeclared = new RegistryActivityDecoder({ registry });
  await undeclared.prepare(records);
  assert.equal(decodeError(undeclared, records[1]!).code, 'UNKNOWN_KIND');
});

test('an incompatible change is reported by check (with the field) and refused by register', async () => {
  const prefix = `${uniqueName('cf-it-incompat')}.`;
  const [risk] = schemaTargets({ topicPrefix: prefix, only: ['risk-event'] });
  // the registry holds a risk-event whose score was a string: ours (double) cannot read it
  const old = structuredClone(schemaJson('risk-event')) as { fields: { name: string; type: unknown }[] };
  old.fields.find((f) => f.name === 'score')!.type = 'string';
  await registry.register(risk!.subject, old);
  const [c] = await checkSchemas(registry, [risk!]);
  assert.equal(c!.status, 'incompatible');
  assert.equal(c!.level, 'BACKWARD');
  assert.ok(c!.messages.some((m) => /score: cannot read "string" as "double"/.test(m)), c!.messages.join('\n'));
  const comp = await registry.checkCompatibility(risk!.subject, schemaJson('risk-event'));
  assert.equal(comp.isCompatible, false);

  const [refused] = await registerSchemas(registry, [risk!]);
  assert.equal(refused!.outcome, 'refused');
  const [forced] = await registerSchemas(registry, [risk!], { force: true });
  assert.equal(forced!.outcome, 'failed'); // the registry enforces BACKWARD itself (409)
  assert.match(forced!.message ?? '', /HTTP 409.*change the subject's compatibility level/s);
  assert.equal((await registry.latest(risk!.subject))?.version, 1);
});

test('corrupt records: each gets its DecodeError code', async () => {
  const topic = uniqueName('cf-it-corrupt');
  const encoder = await ready(activityEventEncoder({ registry, topic, autoRegister: true }));
  const good = encoder.encode(sampleEvents(topic)[2]!);
  const unknownId = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
  const foreignId = await registry.register(subjectForTopic(uniqueName('cf-it-other')), { type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] });
  const cases: [string, Buffer, DecodeError['code'], RegExp][] = [
    ['wrong magic byte', Buffer.concat([Buffer.from([1]), good.subarray(1)]), 'BAD_MAGIC_BYTE', /first byte is 0x01, expected 0x00/],
    ['JSON on an Avro topic', Buffer.from('{"event_id":"e1"}'), 'BAD_MAGIC_BYTE', /looks like JSON/],
    ['shorter than the header', good.subarray(0, 3), 'TRUNCATED', /only 3 bytes/],
    ['empty', Buffer.alloc(0), 'TRUNCATED', /only 0 bytes/],
    ['truncated body', good.subarray(0, good.length - 4), 'TRUNCATED', /ends early/],
    ['garbage body', frame(encoder.schemaId, Buffer.from([0x02, 0x41, 0x02, 0x42, 0x04, 0x40])), 'DECODE_AVRO', /corrupt: .*union/],
    ['trailing bytes', Buffer.concat([good, Buffer.from([7, 7])]), 'DECODE_AVRO', /trailing data/],
    ['unknown schema id', frame(unknownId, good.subarray(5)), 'UNKNOWN_SCHEMA_ID', new RegExp(`schema id ${unknownId}: the schema registry does not know this id`)],
    ['writer schema that is not an activity', frame(foreignId, Buffer.from([2])), 'SCHEMA', new RegExp(`writer schema id ${foreignId} cannot be read as the engine's activity schema`)],
  ];
  const records = cases.map(([, buf]) => kafkaRecord(buf, topic));
  const decoder = new RegistryActivityDecoder({ registry });
  await decoder.prepare(records); // never throws for bad records
  for (const [i, [name, , code, detail]] of cases.entries()) {
    const err = decodeError(decoder, records[i]!);
    assert.equal(err.code, code, `${name}: ${err.message}`);
    assert.match(err.detail, detail, name);
  }
  assert.deepEqual(decoder.knownIds().unknown, [unknownId]);
  // a record whose batch was never prepared
  const fresh = new RegistryActivityDecoder({ registry });
  const e = decodeError(fresh, kafkaRecord(good, topic));
  assert.equal(e.code, 'UNKNOWN_SCHEMA_ID');
  assert.match(e.detail, /prepare\(\) was not called/);
  assert.equal(decodeError(fresh, kafkaRecord('not bytes', topic)).code, 'DECODE_AVRO');
});

/** A pass-through HTTP proxy to the registry that counts requests (and can delay them). */
async function countingProxy(target: string, delayMs = 0) {
  const t = new URL(target);
  const counts = new Map<string, number>();
  const auth: string[] = [];
  let inflight = 0;
  let maxInflight = 0;
  const server = http.createServer((req, res) => {
    const key = `${req.method} ${(req.url ?? '').replace(t.pathname, '').replace(/\?.*$/, '')}`; // the resource, without the query string
    counts.set(key, (counts.get(key) ?? 0) + 1);
    auth.push(req.headers.authorization ?? '');
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const up = http.request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
          r.on('end', () => inflight--);
        });
        up.on('error', () => {
          inflight--;
          res.writeHead(502).end();
        });
        up.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${t.pathname}`,
    count: (key: string) => counts.get(key) ?? 0,
    maxInflight: () => maxInflight,
    authHeaders: () => auth,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test('prepare fetches each unknown id once, in parallel; unknown ids are remembered for a while', async () => {
  const proxy = await countingProxy(URL_, 150);
  const client = new RegistryClient({ url: proxy.url });
  try {
    const topicA = uniqueName('cf-it-prepA');
    const topicB = uniqueName('cf-it-prepB');
    const encA = await ready(activityEventEncoder({ registry, topic: topicA, autoRegister: true }));
    const v2 = activitySchemaWith((s) => void s.fields.push({ name: 'extra', type: 'long', default: 0 }));
    const idB = await registry.register(subjectForTopic(topicB), v2);
    const typeB = avro.Type.forSchema(v2 as avro.Schema, { wrapUnions: true });
    const missing = 2_100_000_000 + Math.floor(Math.random() * 40_000_000);
    const events = sampleEvents('p');
    const batch: RawRecord[] = [];
    for (let i = 0; i < 50; i++) {
      const e = events[i % events.length]!;
      batch.push(kafkaRecord(encA.encode(e), topicA));
      batch.push(kafkaRecord(frame(idB, typeB.toBuffer({ ...codec.toAvroObject(e), extra: i })), topicB));
      batch.push(kafkaRecord(frame(missing, Buffer.from([0])), topicB));
    }
    let clock = 1_000_000;
    const decoder = new RegistryActivityDecoder({ registry: client, unknownIdTtlMs: 30_000, now: () => clock });
    const started = performance.now();
    await decoder.prepare(batch);
    const took = performance.now() - started;
    await decoder.prepare(batch); // all known (or known unknown): no requests
    await decoder.prepare(batch.slice(0, 30));
    for (const id of [encA.schemaId, idB, missing]) assert.equal(proxy.count(`GET /schemas/ids/${id}`), 1, `id ${id}`);
    assert.equal(decoder.fetches, 3);
    assert.ok(proxy.maxInflight() >= 3, `fetches overlap (max in flight ${proxy.maxInflight()})`);
    assert.ok(took < 3 * 150, `parallel: ${took.toFixed(0)} ms for 3 fetches delayed 150 ms each`);
    const decoded = batch.map((r) => {
      try {
        return decoder.decode(r).kind;
      } catch (err) {
        return (err as DecodeError).code;
      }
    });
    assert.deepEqual(decoded.slice(0, 6), ['profile', 'profile', 'UNKNOWN_SCHEMA_ID', 'login', 'login', 'UNKNOWN_SCHEMA_ID']);
    // after the TTL, the unknown id is asked for again (once), the known ones are not
    clock += 30_001;
    await decoder.prepare(batch);
    assert.equal(proxy.count(`GET /schemas/ids/${missing}`), 2);
    assert.equal(proxy.count(`GET /schemas/ids/${encA.schemaId}`), 1);
    // the id memory is bounded, least recently used forgotten first (garbage ids can't grow it)
    const small = new RegistryActivityDecoder({ registry, maxCachedIds: 2 });
    const garbage = [1, 2, 3].map((k) => kafkaRecord(frame(missing + k, Buffer.from([0])), topicB));
    for (const g of garbage) await small.prepare([g]);
    assert.deepEqual(small.knownIds().unknown, [missing + 2, missing + 3]);
  } finally {
    await client.close();
    await proxy.close();
  }
});

test('an unreachable registry fails prepare with a retriable error instead of dead-lettering good records', async () => {
  const down = new RegistryClient({ url: 'http://127.0.0.1:9/apis/ccompat/v7', maxRetries: 0, timeoutMs: 2000 });
  const decoder = new RegistryActivityDecoder({ registry: down });
  await assert.rejects(decoder.prepare([kafkaRecord(frame(1, Buffer.from([0])), 't')]), (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.retriable, true);
    assert.match(err.message, /schema registry at http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 is unreachable \(ECONNREFUSED\) while trying to fetch schema id 1/);
    return true;
  });
  assert.deepEqual(decoder.knownIds(), { ready: [], unknown: [], invalid: [] });
  // credentials never appear in messages
  const secret = new RegistryClient({ url: 'http://alice:s3cret@127.0.0.1:9/apis/ccompat/v7', maxRetries: 0 });
  await assert.rejects(secret.latest('x-value'), (err: unknown) => err instanceof Error && !/s3cret|alice/.test(err.message));
  assert.equal(secret.url, 'http://127.0.0.1:9/apis/ccompat/v7');
});

test('basic auth goes out as a header (config or URL user info), never into messages; a wrong base URL is named', async () => {
  const proxy = await countingProxy(URL_);
  try {
    const fromConfig = new RegistryClient({ url: proxy.url, basicAuth: { username: 'svc-churn', password: 'p@ss:word' } });
    assert.equal(await fromConfig.latest(uniqueName('auth')), null);
    const fromUrl = new RegistryClient({ url: proxy.url.replace('http://', 'http://bob:hunter2@') });
    assert.equal(await fromUrl.latestId(uniqueName('auth')), null);
    assert.deepEqual(proxy.authHeaders(), [`Basic ${Buffer.from('svc-churn:p@ss:word').toString('base64')}`, `Basic ${Buffer.from('bob:hunter2').toString('base64')}`]);
    assert.equal(fromUrl.url, proxy.url);
  } finally {
    await proxy.close();
  }
  const wrong = new RegistryClient({ url: URL_.replace('/apis/ccompat/v7', '/apis/nope'), maxRetries: 0 });
  await assert.rejects(wrong.latest('x-value'), (err: unknown) => {
    assert.ok(err instanceof RegistryError);
    assert.equal(err.retriable, false);
    assert.match(err.message, /HTTP 404.*is http:\/\/127\.0\.0\.1:\d+\/apis\/nope the base URL of the Confluent-compatible API\?/);
    return true;
  });
});

test('foreign events: the example UserActivity schema, encoded in wire format, decodes through the mapping', async () => {
  const topic = uniqueName('streamco.user-activity');
  const schema = JSON.parse(readFileSync(`${EXAMPLE}user-activity.avsc`, 'utf8')) as avro.Schema;
  const id = await registry.register(subjectForTopic(topic), schema);
  const type = avro.Type.forSchema(schema, { wrapUnions: false });
  const samples = JSON.parse(readFileSync(`${EXAMPLE}sample-records.json`, 'utf8')) as unknown[];
  const expected = readFileSync(`${EXAMPLE}expected-events.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown);
  const config = loadInputMappingFile(`${EXAMPLE}mapping.yaml`);
  const mapping = { ...config.mappings[0]!, topics: [topic] }; // the example's topic, made unique for this test
  const records = samples.map((s) => kafkaRecord(frame(id, type.toBuffer(s)), topic));

  // 1) the registry decoder with the mapping configured for the topic
  const decoder = new RegistryActivityDecoder({ registry, input: { mappings: [mapping] } });
  await decoder.prepare(records);
  assert.deepEqual(records.map((r) => codec.toJsonObject(decoder.decode(r))), expected);
  // native activity records on another topic still decode through the same decoder
  const nativeTopic = uniqueName('cf-it-native');
  const enc = await ready(activityEventEncoder({ registry, topic: nativeTopic, autoRegister: true }));
  const nativeEvent = sampleEvents('n')[1]!;
  const nativeRec = kafkaRecord(enc.encode(nativeEvent), nativeTopic);
  await decoder.prepare([nativeRec]);
  assert.deepEqual(decoder.decode(nativeRec), nativeEvent);
  // the writer-schema decode the mapping sees: unions unwrapped, enums as text, longs as numbers
  assert.deepEqual(decoder.readForeign(records[3]!), samples[3]);

  // 2) createMappedDecoder over a plain registry decoder
  const mapped = createMappedDecoder({ mappings: [mapping] }, new RegistryActivityDecoder({ registry }));
  await mapped.prepare(records);
  assert.deepEqual(records.map((r) => codec.toJsonObject(mapped.decode(r))), expected);
  // an unmapped action is a MAPPING dead letter
  const search = kafkaRecord(frame(id, type.toBuffer({ ...(samples[1] as object), action: 'SEARCH' })), topic);
  assert.throws(() => mapped.decode(search), (err: unknown) => err instanceof DecodeError && err.code === 'MAPPING' && /"SEARCH" is not in the kind table/.test(err.detail));
});

test('CLI: `schemas register` then `schemas check` on fresh subjects; INCOMPATIBLE exits 1; unreachable registry is named', async () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    let exitCode = 0;
    const io: SchemasIo = { out: (t) => out.push(t), err: (t) => err.push(t), setExitCode: (c) => (exitCode = c), env: { CHURNFLOW_SCHEMA_REGISTRY_URL: URL_ } };
    await schemasCommand(io).parseAsync(args, { from: 'user' });
    return { out: out.join(''), err: err.join(''), exitCode };
  };
  const prefix = `${uniqueName('cf-it-cli')}.`;
  const before = await run(['check', '--topic-prefix', prefix]);
  assert.equal(before.exitCode, 0);
  assert.match(before.out, new RegExp(`${prefix.replace(/\./g, '\\.')}churnflow\\.activity-value +activity-event +not registered`));
  assert.equal((before.out.match(/not registered/g) ?? []).length, 5);

  const reg = await run(['register', '--topic-prefix', prefix, '--registry', URL_]);
  assert.equal(reg.exitCode, 0, reg.err);
  const ids = [...reg.out.matchAll(/(\S+-value) +(\S+) +→ id (\d+) \(registered, new subject\)/g)].map((m) => [m[1], m[2], Number(m[3])] as const);
  assert.deepEqual(ids.map(([s]) => s), ['activity', 'risk', 'current-risk', 'drift', 'dead-letter'].map((t) => `${prefix}churnflow.${t}-value`));
  for (const [subject, , id] of ids) assert.equal(await registry.latestId(subject!), id);

  const check = await run(['check', '--topic-prefix', prefix, '--json']);
  assert.equal(check.exitCode, 0);
  const parsed = JSON.parse(check.out) as { subject: string; status: string; latest: { id: number } }[];
  assert.deepEqual(parsed.map((c) => c.status), ['identical', 'identical', 'identical', 'identical', 'identical']);
  assert.deepEqual(parsed.map((c) => c.latest.id), ids.map(([, , id]) => id));
  const again = await run(['register', '--topic-prefix', prefix, 'drift-metric']);
  assert.match(again.out, /churnflow\.drift-value +drift-metric +→ id \d+ \(already the latest version\)/);

  // an incompatible registered dead-letter schema (received_time was a string): check exits 1, register refuses
  const badPrefix = `${uniqueName('cf-it-cli-bad')}.`;
  const old = structuredClone(schemaJson('dead-letter')) as { fields: { name: string; type: unknown }[] };
  old.fields.find((f) => f.name === 'received_time')!.type = 'string';
  await registry.register(`${badPrefix}churnflow.dead-letter-value`, old);
  const bad = await run(['check', '--topic-prefix', badPrefix]);
  assert.equal(bad.exitCode, 1);
  assert.match(bad.out, /churnflow\.dead-letter-value +dead-letter +INCOMPATIBLE with version 1 \(id \d+\) under BACKWARD/);
  assert.match(bad.out, /- new schema cannot read data written with the registered one: received_time: cannot read "string" as "long"/);
  assert.match(bad.err, /1 schema is incompatible/);
  const refused = await run(['register', '--topic-prefix', badPrefix, 'dead-letter', 'risk-event']);
  assert.equal(refused.exitCode, 1);
  assert.match(refused.out, /dead-letter-value +dead-letter +→ REFUSED: incompatible with version 1 under BACKWARD \(use --force/);
  assert.match(refused.out, /risk-value +risk-event +→ id \d+ \(registered, new subject\)/);

  // a custom topic per schema
  const custom = uniqueName('cf-it-custom');
  const one = await run(['check', '--topic', `risk-event=${custom}`, 'risk-event']);
  assert.match(one.out, new RegExp(`${custom}-value +risk-event +not registered`));

  await assert.rejects(run(['check', '--registry', 'http://127.0.0.1:9/apis/ccompat/v7']), /schema registry at http:\/\/127\.0\.0\.1:9\/apis\/ccompat\/v7 is unreachable \(ECONNREFUSED\)/);
  await assert.rejects(
    (async () => {
      const io: SchemasIo = { out: () => undefined, err: () => undefined, setExitCode: () => undefined, env: {} };
      await schemasCommand(io).parseAsync(['check'], { from: 'user' });
    })(),
    (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_CONFIG_INVALID' && /--registry/.test(err.message),
  );
});

test('RegistryEncoder refuses a subject whose latest schema cannot take our records (autoRegister off)', async () => {
  const topic = uniqueName('cf-it-enc-bad');
  await registry.register(subjectForTopic(topic), { type: 'record', name: 'Unrelated', fields: [{ name: 'x', type: 'int' }] });
  await assert.rejects(RegistryEncoder.create({ registry, topic, schema: 'drift-metric', autoRegister: false }), (err: unknown) => {
    assert.ok(err instanceof ChurnflowError);
    assert.equal(err.code, 'CF_SINK_FAILED');
    assert.match(err.message, /does not contain schemas\/drift-metric\.avsc, and its latest version 1 \(id \d+\) cannot take our records/);
    return true;
  });
  // autoRegister on: the registry's BACKWARD rule refuses it, and the message says so
  await assert.rejects(RegistryEncoder.create({ registry, topic, schema: 'drift-metric', autoRegister: true }), (err: unknown) => {
    assert.ok(err instanceof ChurnflowError);
    assert.equal(err.code, 'CF_SINK_FAILED');
    assert.match(err.message, /cannot set up the drift-metric encoder for topic '.*': schema registry at .* refused to register a schema under subject '.*-value': HTTP 409/);
    return true;
  });
});
