import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import type { ActivityEvent, RawRecord } from '../../../src/events/activity-event.js';
import { ChurnflowError } from '../../../src/errors.js';
import { canonicalJson, sha256Hex } from '../../../src/features/canonical-json.js';
import { ActivityCodec, DecodeError } from '../../../src/serde/activity-codec.js';
import {
  compileMapping,
  createMappedDecoder,
  inputMappingSchema,
  loadInputMappingFile,
  parseInputMapping,
  parsePath,
  toEpochMs,
  type TopicMappingInput,
} from '../../../src/serde/input-mapping.js';

const EXAMPLE = fileURLToPath(new URL('../../../../examples/foreign-events/', import.meta.url));

/** A minimal valid mapping (login events) to vary per test. */
function base(over: Record<string, unknown> = {}): TopicMappingInput {
  return {
    name: 't',
    customerId: 'uid',
    eventId: 'id',
    eventTime: 'ts',
    kind: { constant: 'login' },
    payload: { login: { device: 'dev' } },
    ...over,
  } as TopicMappingInput;
}

function mapOne(mapping: TopicMappingInput, source: unknown): ActivityEvent {
  const [m] = parseInputMapping({ mappings: [mapping] }).mappings;
  return compileMapping(m!).apply(source);
}

function mappingError(fn: () => unknown): DecodeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.equal(err.code, 'MAPPING');
    return err;
  }
  assert.fail('expected a MAPPING error');
}

function configError(raw: unknown): string {
  try {
    parseInputMapping(raw);
  } catch (err) {
    assert.ok(err instanceof ChurnflowError);
    assert.equal(err.code, 'CF_CONFIG_INVALID');
    return err.message;
  }
  assert.fail('expected CF_CONFIG_INVALID');
}

const rec = (value: unknown, format: RawRecord['format'] = 'json-object', topic?: string): RawRecord => ({
  position: { stream: 's', offset: 0 },
  format,
  value,
  receivedAt: 0,
  ...(topic !== undefined ? { topic } : {}),
});

test('paths: dotted fields, list indexes, quoted keys; syntax errors say where', () => {
  assert.deepEqual(parsePath('a.b.c'), ['a', 'b', 'c']);
  assert.deepEqual(parsePath('items[0].id'), ['items', 0, 'id']);
  assert.deepEqual(parsePath('m[2][10]'), ['m', 2, 10]);
  assert.deepEqual(parsePath('attrs["content.type"].x'), ['attrs', 'content.type', 'x']);
  assert.deepEqual(parsePath("attrs['k']"), ['attrs', 'k']);
  for (const bad of ['', 'a.', 'a..b', 'a[', 'a[x]', 'a[0]b', '.a']) assert.throws(() => parsePath(bad), /bad path/, bad);

  const src = { uid: 'c', id: 'e', ts: 1, dev: 'x', items: [{ id: 'i0' }, { id: 'i1', tags: ['t'] }], attrs: { 'content.type': 'movie' } };
  assert.equal(mapOne(base({ customerId: 'items[1].id' }), src).customerId, 'i1');
  assert.equal(mapOne(base({ payload: { login: { device: 'items[1].tags[0]' } } }), src).payload['device'], 't');
  assert.equal(mapOne(base({ payload: { login: { device: 'attrs["content.type"]' } } }), src).payload['device'], 'movie');
});

test('event time units: ms, s, us, iso8601 (with a zone), numeric strings', () => {
  const w = 'eventTime';
  assert.equal(toEpochMs(1735689600123, 'ms', w), 1735689600123);
  assert.equal(toEpochMs(1735689600, 's', w), 1735689600000);
  assert.equal(toEpochMs(1735689600.5, 's', w), 1735689600500);
  assert.equal(toEpochMs('1735689600', 's', w), 1735689600000);
  assert.equal(toEpochMs(1735689600123456, 'us', w), 1735689600123);
  assert.equal(toEpochMs(1735689600123456n, 'us', w), 1735689600123);
  assert.equal(toEpochMs('2025-01-01T00:00:00Z', 'iso8601', w), Date.UTC(2025, 0, 1));
  assert.equal(toEpochMs('2025-01-01T02:00:00.250+02:00', 'iso8601', w), Date.UTC(2025, 0, 1, 0, 0, 0, 250));
  assert.equal(toEpochMs('2025-01-01', 'iso8601', w), Date.UTC(2025, 0, 1));
  assert.throws(() => toEpochMs('2025-01-01T00:00:00', 'iso8601', w), /zone/); // local time would depend on the machine
  assert.throws(() => toEpochMs('yesterday', 's', w), /needs a number/);
  assert.throws(() => toEpochMs(1735689600, 'iso8601', w), /needs a string/);

  const src = { uid: 'c', id: 'e', dev: 'web', t: '2025-03-01T10:00:00Z' };
  assert.equal(mapOne(base({ eventTime: { path: 't', unit: 'iso8601' } }), src).eventTime, Date.UTC(2025, 2, 1, 10));
  const e = mappingError(() => mapOne(base({ eventTime: { path: 'when.at', unit: 's' } }), src));
  assert.match(e.detail, /mapping 't': eventTime \(path 'when\.at'\) is missing/);
});

test('payload rules: convert, multiply, round, map with otherwise, const, defaults for missing', () => {
  const mapping = base({
    kind: { constant: 'payment' },
    payload: {
      payment: {
        status: { path: 'state', map: { ok: 'SUCCEEDED', declined: 'FAILED' }, otherwise: 'UNKNOWN' },
        amount_cents: { path: 'amount', convert: 'toNumber', multiply: 100, round: 'round' },
        discount_cents: { path: 'discount', convert: 'toNumber', default: 0 },
        currency: { const: 'EUR' },
      },
    },
  });
  const src = { uid: 42, id: 7, ts: 1000, state: 'declined', amount: '12.34' };
  assert.deepEqual(mapOne(mapping, src), {
    eventId: '7',
    customerId: '42', // numeric ids become text
    eventTime: 1000,
    kind: 'payment',
    payload: { status: 'FAILED', amount_cents: 1234, discount_cents: 0, currency: 'EUR' },
  });
  assert.equal(mapOne(mapping, { ...src, state: 'weird' }).payload['status'], 'UNKNOWN');

  // booleans and text
  const login = base({ payload: { login: { device: { path: 'dev', convert: 'toString' }, success: { path: 'ok', convert: 'toBoolean' } } } });
  assert.deepEqual(mapOne(login, { uid: 'c', id: 'e', ts: 1, dev: 3, ok: 'no' }).payload, { device: '3', success: false });
  assert.deepEqual(mapOne(login, { uid: 'c', id: 'e', ts: 1, dev: 'tv', ok: 1 }).payload, { device: 'tv', success: true });
  // missing optional field → the engine schema's default (success defaults to true)
  assert.deepEqual(mapOne(login, { uid: 'c', id: 'e', ts: 1, dev: 'tv' }).payload, { device: 'tv', success: true });

  // nullable fields: missing or null → null
  const session = base({
    kind: { constant: 'session' },
    payload: { session: { duration_seconds: { path: 'ms', multiply: 0.001, round: 'floor' }, content_id: 'title' } },
  });
  assert.deepEqual(mapOne(session, { uid: 'c', id: 'e', ts: 1, ms: 61_999 }).payload, { duration_seconds: 61, content_items: 0, content_id: null });
  assert.deepEqual(mapOne(session, { uid: 'c', id: 'e', ts: 1, ms: 1000, title: null }).payload, { duration_seconds: 1, content_items: 0, content_id: null });
});

test('rule failures are MAPPING errors naming the mapping, the rule and the path', () => {
  const mapping = base({
    kind: { constant: 'payment' },
    payload: { payment: { status: { path: 'state', map: { ok: 'SUCCEEDED' } }, amount_cents: { path: 'amount', convert: 'toNumber' } } },
  });
  const src = { uid: 'c', id: 'e', ts: 1, state: 'ok', amount: 5 };
  assert.match(mappingError(() => mapOne(mapping, { ...src, amount: 'lots' })).detail, /mapping 't': payload\.payment\.amount_cents \(path 'amount'\) = "lots" is not a number/);
  assert.match(mappingError(() => mapOne(mapping, { ...src, state: 'meh' })).detail, /payload\.payment\.status \(path 'state'\) = "meh" is not in the map \(ok\) and the rule has no 'otherwise'/);
  assert.match(mappingError(() => mapOne(mapping, { ...src, amount: undefined })).detail, /payload\.payment\.amount_cents \(path 'amount'\) is missing and the rule has no default/);
  assert.match(mappingError(() => mapOne(mapping, { ...src, uid: undefined })).detail, /customerId: path 'uid' is missing/);
  assert.match(mappingError(() => mapOne(mapping, { ...src, uid: { a: 1 } })).detail, /customerId: path 'uid' is an object; ids need a string or a number/);
  assert.match(mappingError(() => mapOne(mapping, { ...src, id: '' })).detail, /eventId: path 'id' is an empty string/);
  assert.match(mappingError(() => mapOne(mapping, [1, 2])).detail, /the source record is a list, not an object/);
  // a payload path that lands on an object
  const obj = base({ payload: { login: { device: 'ctx' } } });
  assert.match(mappingError(() => mapOne(obj, { uid: 'c', id: 'e', ts: 1, ctx: { d: 'tv' } })).detail, /payload\.login\.device \(path 'ctx'\) is an object; payload fields need a scalar/);
  // the mapped event still has to pass the engine's schema: fractional seconds into an int field
  const session = base({ kind: { constant: 'session' }, payload: { session: { duration_seconds: { path: 'ms', multiply: 0.001 } } } });
  const e = mappingError(() => mapOne(session, { uid: 'c', id: 'e', ts: 1, ms: 1500 }));
  assert.match(e.detail, /the mapped session event does not fit the activity schema: SCHEMA: .*duration_seconds = 1\.5/);
});

test('kind: constant, value table with default, unknown values', () => {
  const mapping = base({
    kind: { path: 'type', values: { LOGIN: 'login', WATCH: 'session' }, default: 'login' },
    payload: { login: { device: { path: 'dev', default: 'other' } }, session: { duration_seconds: 'secs' } },
  });
  const src = { uid: 'c', id: 'e', ts: 1 };
  assert.equal(mapOne(mapping, { ...src, type: 'WATCH', secs: 5 }).kind, 'session');
  assert.deepEqual(mapOne(mapping, { ...src, type: 'LOGIN', dev: 'ios' }).payload, { device: 'ios', success: true });
  assert.equal(mapOne(mapping, { ...src, type: 'SEARCH' }).kind, 'login');
  const strict = base({ kind: { path: 'type', values: { LOGIN: 'login' } } });
  assert.match(mappingError(() => mapOne(strict, { ...src, dev: 'x', type: 'SEARCH' })).detail, /kind: path 'type' = "SEARCH" is not in the kind table \(LOGIN\) and there is no default kind/);
  assert.match(mappingError(() => mapOne(strict, { ...src, dev: 'x' })).detail, /kind: path 'type' is missing/);
});

test('event ids: path, template, hash (stable, key-order independent); missing parts are named', () => {
  const src = { uid: 'u1', ts: 1000, dev: 'web', a: { b: 7 }, map: { y: 1, x: 2 } };
  assert.equal(mapOne(base({ eventId: { template: 'x-{uid}-{a.b}-{{lit}}' } }), src).eventId, 'x-u1-7-{lit}');
  const hashed = mapOne(base({ eventId: { hash: ['uid', 'ts', 'map'], prefix: 'h-' } }), src).eventId;
  assert.equal(hashed, `h-${sha256Hex(canonicalJson(['u1', 1000, { x: 2, y: 1 }])).slice(0, 32)}`);
  assert.equal(mapOne(base({ eventId: { hash: ['uid', 'ts', 'map'], prefix: 'h-' } }), { ...src, map: { x: 2, y: 1 } }).eventId, hashed);
  assert.notEqual(mapOne(base({ eventId: { hash: ['uid', 'ts', 'map'], prefix: 'h-' } }), { ...src, ts: 1001 }).eventId, hashed);
  assert.match(mappingError(() => mapOne(base({ eventId: { template: '{uid}-{a.c}' } }), src)).detail, /eventId: template '\{uid\}-\{a\.c\}': \{a\.c\} is missing/);
  assert.match(mappingError(() => mapOne(base({ eventId: { hash: ['uid', 'q.r'] } }), src)).detail, /eventId: hash field 'q\.r' is missing \(q\)/);
});

test('config validation names the key: unknown kinds and fields, missing required rules, bad paths, ambiguous rules', () => {
  const withMapping = (over: Record<string, unknown>) => ({ mappings: [base(over)] });
  assert.match(configError(withMapping({ kind: { constant: 'teleport' } })), /input\.mappings\.0\.kind\.constant: 'teleport' is not a kind of the activity schema/);
  assert.match(configError(withMapping({ kind: { path: 't', values: { A: 'login', B: 'nope' } } })), /input\.mappings\.0\.kind\.values\.B: 'nope' is not a kind/);
  assert.match(configError(withMapping({ payload: { login: { device: 'd', colour: 'c' } } })), /input\.mappings\.0\.payload\.login\.colour: 'colour' is not a field of login \(device, success\)/);
  assert.match(configError(withMapping({ payload: {} })), /input\.mappings\.0\.payload\.login\.device: required: login events need 'device'/);
  assert.match(configError(withMapping({ kind: { constant: 'session' }, payload: {} })), /payload\.session\.duration_seconds: required/);
  assert.match(configError(withMapping({ customerId: 'a[' })), /input\.mappings\.0\.customerId\.path: bad path 'a\['/);
  assert.match(configError(withMapping({ eventId: { path: 'a', hash: ['b'] } })), /exactly one of 'path', 'template' or 'hash'/);
  assert.match(configError(withMapping({ eventId: { template: 'constant' } })), /no \{field\} placeholder/);
  assert.match(configError(withMapping({ payload: { login: { device: { path: 'd', const: 'web' } } } })), /exactly one of 'path' or 'const'/);
  assert.match(configError(withMapping({ eventTime: { path: 't', unit: 'minutes' } })), /input\.mappings\.0\.eventTime\.unit/);
  assert.match(configError(withMapping({ payload: { login: { device: { path: 'd', convert: 'toDate' } } } })), /payload\.login\.device\.convert/);
  assert.match(configError(withMapping({ extra: 1 })), /input\.mappings\.0/);
  assert.match(configError({ mapings: [] }), /input/);
  // the config section defaults to no mappings
  assert.deepEqual(inputMappingSchema.parse(undefined), { kinds: [], mappings: [], noMatchLimit: 100 });
});

test('mapped decoder: routes by topic, reads json text and objects, leaves other topics to the native codec', async () => {
  const decoder = createMappedDecoder({ mappings: [base({ topics: ['theirs'] })] });
  const native = new ActivityCodec();
  const nativeEvent = { event_id: 'n1', customer_id: 'c9', event_time: 5, kind: 'login', payload: { device: 'web', success: true } };
  assert.equal(decoder.decode(rec('{"uid":"c","id":"e","ts":1,"dev":"tv"}', 'json', 'theirs')).customerId, 'c');
  assert.equal(decoder.decode(rec(Buffer.from('{"uid":"c","id":"e","ts":1,"dev":"tv"}'), 'json', 'theirs')).eventId, 'e');
  assert.equal(decoder.decode(rec({ uid: 'c', id: 'e2', ts: 1, dev: 'tv' }, 'json-object', 'theirs')).eventId, 'e2');
  assert.deepEqual(decoder.decode(rec(nativeEvent, 'json-object', 'ours')), native.fromJsonObject(nativeEvent));
  assert.deepEqual(decoder.decode(rec(nativeEvent, 'json-object')), native.fromJsonObject(nativeEvent)); // no topic: not claimed
  assert.throws(() => decoder.decode(rec('{"uid":', 'json', 'theirs')), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_JSON');
  assert.throws(() => decoder.decode(rec(Buffer.from([0, 0, 0, 0, 1]), 'confluent-avro', 'theirs')), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_AVRO' && /Schema Registry decoder/.test(e.detail));
  assert.throws(() => decoder.decode(rec(Buffer.from([2]), 'avro', 'theirs')), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_AVRO' && /no writer schema/.test(e.detail));
  await decoder.prepare([]); // no base: nothing to fetch
  // a mapping without topics claims everything
  const all = createMappedDecoder(base());
  assert.equal(all.decode(rec({ uid: 'c', id: 'e', ts: 1, dev: 'tv' })).kind, 'login');
});

// ---------------------------------------------------------------------------------------------
// The documented example: examples/foreign-events/.

const samples = JSON.parse(readFileSync(`${EXAMPLE}sample-records.json`, 'utf8')) as Record<string, unknown>[];
const expected = readFileSync(`${EXAMPLE}expected-events.ndjson`, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as Record<string, unknown>);

test('example: the sample records are valid UserActivity records (JSON form of user-activity.avsc)', () => {
  const type = avro.Type.forSchema(JSON.parse(readFileSync(`${EXAMPLE}user-activity.avsc`, 'utf8')) as avro.Schema, { wrapUnions: false });
  for (const [i, s] of samples.entries()) {
    const problems: string[] = [];
    type.isValid(s, { errorHook: (p: string[]) => problems.push(p.join('.')) });
    assert.deepEqual(problems, [], `sample ${i}`);
  }
});

test('example: mapping.yaml maps every sample record to the expected activity events', () => {
  const config = loadInputMappingFile(`${EXAMPLE}mapping.yaml`);
  assert.equal(config.mappings.length, 1);
  const decoder = createMappedDecoder(config);
  const codec = new ActivityCodec();
  const got = samples.map((s) => codec.toJsonObject(decoder.decode(rec(JSON.stringify(s), 'json', 'streamco.user-activity'))));
  assert.deepEqual(got, expected);
  // spot checks against the mapping's rules, computed independently
  const first = samples[0]!;
  assert.equal(got[0]!['event_id'], `sc-${sha256Hex(canonicalJson([1001, first['occurred_at'], 'ACCOUNT_CREATED', first['details']])).slice(0, 32)}`);
  assert.deepEqual(got.map((e) => e['kind']), ['profile', 'login', 'session', 'login', 'payment', 'support_ticket', 'plan_change', 'payment']);
  assert.deepEqual(got[2]!['payload'], { duration_seconds: 2712, content_items: 2, content_id: 'tt-0042' }); // 2712345 ms, floor
  assert.deepEqual(got[3]!['payload'], { device: 'other', success: false }); // CONSOLE → otherwise
  assert.deepEqual(got[4]!['payload'], { status: 'FAILED', amount_cents: 999, discount_cents: 0, currency: 'EUR' }); // "9.99" dollars
  assert.equal(got[0]!['event_time'], Date.UTC(2025, 0, 1, 9)); // 1735722000 s
  assert.equal(got[1]!['customer_id'], 'sc-1001');
  // a SEARCH action has no kind: dead-lettered as MAPPING, naming the rule
  const search = { ...samples[1]!, action: 'SEARCH' };
  const e = mappingError(() => decoder.decode(rec(search, 'json-object', 'streamco.user-activity')));
  assert.match(e.detail, /mapping 'streamco': kind: path 'action' = "SEARCH" is not in the kind table/);
});
