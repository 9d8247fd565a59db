// User-declared kinds: config checks, the Custom branch in the codec (checked against the
// declaration, round-trips), mappings onto declared kinds, their ranges in validation (no built-in
// cap), the no-match guard, and the schema change being compatible both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import avro from 'avsc';
import type { RawRecord } from '../../../src/events/activity-event.js';
import { validateEvent, DEFAULT_VALIDATION_RULES } from '../../../src/events/validate-event.js';
import { ChurnflowError } from '../../../src/errors.js';
import { ActivityCodec, DecodeError } from '../../../src/serde/activity-codec.js';
import { declaredKindRanges } from '../../../src/serde/declared-kinds.js';
import { createMappedDecoder, parseInputMapping, type InputMappingConfigInput } from '../../../src/serde/input-mapping.js';
import { schemaJson } from '../../../src/serde/schemas.js';

const KINDS = [{ name: 'page_view', fields: { seconds: { min: 0, max: 3600 }, scroll: 'number' as const }, attributes: ['page'] }];
const input = (over: Partial<InputMappingConfigInput> = {}) => parseInputMapping({ kinds: KINDS, ...over });
const codec = () => new ActivityCodec(undefined, { kinds: input().kinds });
const custom = (payload: Record<string, unknown>) => ({ event_id: 'e1', customer_id: 'c1', event_time: Date.UTC(2025, 0, 2), kind: 'custom', payload });
const configError = (raw: unknown): string => {
  try {
    parseInputMapping(raw);
  } catch (err) {
    assert.ok(err instanceof ChurnflowError && err.code === 'CF_CONFIG_INVALID');
    return err.message;
  }
  return assert.fail('accepted');
};
const decodeError = (fn: () => unknown): DecodeError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DecodeError) return err;
    throw err;
  }
  return assert.fail('decoded');
};

test('declared kinds are checked when the config loads, naming the key', () => {
  assert.match(configError({ kinds: [{ name: 'login' }] }), /input\.kinds\.0\.name: 'login' is a built-in kind/);
  assert.match(configError({ kinds: [{ name: 'custom' }] }), /input\.kinds\.0\.name: 'custom' is a built-in kind/);
  assert.match(configError({ kinds: [{ name: 'a' }, { name: 'a' }] }), /input\.kinds\.1\.name: kind 'a' is declared twice/);
  assert.match(configError({ kinds: [{ name: 'a', fields: { value: 'number' } }] }), /input\.kinds\.0\.fields\.value: 'value' is reserved/);
  assert.match(configError({ kinds: [{ name: 'a', fields: { n: 'number' }, attributes: ['n'] }] }), /'n' is declared both as a field and as an attribute/);
  assert.match(configError({ kinds: [{ name: 'a', fields: { n: { min: 5, max: 1 } } }] }), /input\.kinds\.0\.fields\.n: min must not be above max/);
  assert.match(configError({ kinds: [{ name: 'Page' }] }), /input\.kinds\.0\.name: lower snake case/);
  assert.match(configError({ kinds: [{ name: 'a', fields: { n: 'text' } }] }), /input\.kinds\.0\.fields\.n/);
});

test('the codec reads a declared kind from the Custom branch: kind = its name, payload = value, fields, attributes', () => {
  const c = codec();
  const e = c.fromJsonObject(custom({ name: 'page_view', value: 3, measures: { seconds: 40 }, attributes: { page: 'home' } }));
  assert.deepEqual(e, { eventId: 'e1', customerId: 'c1', eventTime: Date.UTC(2025, 0, 2), kind: 'page_view', payload: { value: 3, seconds: 40, page: 'home' } });
  assert.deepEqual(c.fromAvroBuffer(c.toAvroBuffer(e)), e, 'Avro round trip');
  assert.deepEqual(c.fromJsonObject(c.toJsonObject(e)), e, 'NDJSON round trip');
  // defaults: value 1, no fields, no attributes
  assert.deepEqual(c.fromJsonObject(custom({ name: 'page_view' })).payload, { value: 1 });
});

test('a custom event is held to its declaration', () => {
  const c = codec();
  const undeclared = decodeError(() => c.fromJsonObject(custom({ name: 'refund' })));
  assert.equal(undeclared.code, 'UNKNOWN_KIND');
  assert.match(undeclared.detail, /custom kind 'refund' is not declared \(input\.kinds: page_view\)/);
  assert.match(decodeError(() => new ActivityCodec().fromJsonObject(custom({ name: 'page_view' }))).detail, /input\.kinds declares none/);
  const field = decodeError(() => c.fromJsonObject(custom({ name: 'page_view', measures: { clicks: 2 } })));
  assert.equal(field.code, 'SCHEMA');
  assert.match(field.detail, /page_view\.clicks is not a declared field of page_view \(declared: seconds, scroll\)/);
  assert.match(decodeError(() => c.fromJsonObject(custom({ name: 'page_view', attributes: { ref: 'x' } }))).detail, /page_view\.ref is not a declared attribute of page_view \(declared: page\)/);
  assert.equal(decodeError(() => c.fromJsonObject(custom({ name: 'page_view', measures: { seconds: 'long' } }))).code, 'SCHEMA');
  const required = new ActivityCodec(undefined, { kinds: parseInputMapping({ kinds: [{ name: 'daily', fields: { n: { required: true } } }] }).kinds });
  const missing = decodeError(() => required.fromJsonObject(custom({ name: 'daily' })));
  assert.equal(missing.code, 'MISSING_FIELD');
  assert.match(missing.detail, /daily\.n is missing \(declared required\)/);
});

test("declared ranges are validated; a custom kind has no built-in cap (unlike session.content_items' 10,000)", () => {
  const kinds = input().kinds;
  const rules = { ...DEFAULT_VALIDATION_RULES, ranges: [...DEFAULT_VALIDATION_RULES.ranges, ...declaredKindRanges(kinds)] };
  const c = codec();
  const now = Date.UTC(2025, 0, 3);
  const ev = (measures: Record<string, number>, value = 1) => c.fromJsonObject(custom({ name: 'page_view', value, measures }));
  assert.equal(validateEvent(ev({ seconds: 3600, scroll: 250_000 }, 1_000_000), rules, now), null);
  assert.deepEqual(validateEvent(ev({ seconds: 3601 }), rules, now), { code: 'OUT_OF_RANGE', detail: 'page_view.seconds = 3601 is outside [0, 3600]' });
  assert.deepEqual(validateEvent(ev({ seconds: -1 }), rules, now), { code: 'OUT_OF_RANGE', detail: 'page_view.seconds = -1 is outside [0, 3600]' });
});

test('a mapping produces declared kinds; numeric text becomes numbers, and what is not a number is a MAPPING error naming the field', () => {
  const decoder = createMappedDecoder({
    kinds: KINDS,
    mappings: [
      {
        name: 'daily-log',
        customerId: 'user',
        eventId: { hash: ['user', 'day', 'event'] },
        eventTime: { path: 'day', unit: 'iso8601' },
        kind: { path: 'event', values: { view: 'page_view', login: 'login' } },
        payload: { page_view: { value: 'n', seconds: 'secs', page: 'page' }, login: { device: { const: 'web' } } },
      },
    ],
  });
  const rec = (value: Record<string, string>, offset = 0): RawRecord => ({ position: { stream: 'file:x.csv', offset }, format: 'json-object', value, receivedAt: 0 });
  const e = decoder.decode(rec({ user: 'u1', day: '2025-01-02', event: 'view', n: '12000', secs: '30', page: 'pricing' }));
  assert.equal(e.kind, 'page_view');
  assert.deepEqual(e.payload, { value: 12000, seconds: 30, page: 'pricing' });
  assert.equal(decoder.decode(rec({ user: 'u1', day: '2025-01-02', event: 'login' })).kind, 'login', 'built-in kinds alongside');
  const bad = decodeError(() => decoder.decode(rec({ user: 'u1', day: '2025-01-02', event: 'view', n: 'many' })));
  assert.equal(bad.code, 'MAPPING');
  assert.equal(bad.detail, `mapping 'daily-log': payload.page_view.value (path 'n') = "many" is not a number`);
  // config: payload fields of a declared kind are its value, fields and attributes
  assert.match(configError({ kinds: KINDS, mappings: [{ customerId: 'u', eventId: 'i', eventTime: 't', kind: { constant: 'page_view' }, payload: { page_view: { clicks: 'c' } } }] }), /input\.mappings\.0\.payload\.page_view\.clicks: 'clicks' is not a field of page_view \(value, seconds, scroll, page\)/);
  assert.match(configError({ mappings: [{ customerId: 'u', eventId: 'i', eventTime: 't', kind: { constant: 'page_view' } }] }), /input\.mappings\.0\.kind\.constant: 'page_view' is not a kind of the activity schema nor declared in input\.kinds/);
});

test('a mapping that maps none of the first noMatchLimit records it claims throws CF_MAPPING_NO_MATCH; one success disarms it', () => {
  const mapping = { name: 'm', customerId: 'uid', eventId: 'id', eventTime: 'ts', kind: { constant: 'login' }, payload: { login: { device: 'dev' } } } as const;
  const rec = (value: unknown, offset: number): RawRecord => ({ position: { stream: 'file:a.ndjson', offset }, format: 'json-object', value, receivedAt: 0 });
  const failing = createMappedDecoder({ noMatchLimit: 3, mappings: [mapping] });
  for (const i of [0, 1]) assert.ok(decodeError(() => failing.decode(rec({ uid: 'c' }, i))));
  assert.throws(() => failing.decode(rec({ uid: 'c' }, 2)), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_MAPPING_NO_MATCH' && /input mapping 'm' mapped none of the first 3 records it claimed \(file:a\.ndjson\)/.test(err.message));
  const fine = createMappedDecoder({ noMatchLimit: 3, mappings: [mapping] });
  fine.decode(rec({ uid: 'c', id: 'e', ts: 1, dev: 'web' }, 0));
  for (const i of [1, 2, 3, 4]) assert.ok(decodeError(() => fine.decode(rec({ uid: 'c' }, i))));
  fine.finish();
  const few = createMappedDecoder({ noMatchLimit: 3, mappings: [mapping] });
  assert.ok(decodeError(() => few.decode(rec({}, 0))));
  assert.throws(() => few.finish(), /mapped none of all 1 records it claimed/);
});

test('the Custom branch is a compatible schema change: old data reads with the new schema, and new data of the old kinds with the old one', () => {
  const current = schemaJson('activity-event') as { fields: { name: string; type: unknown }[] };
  const previous = structuredClone(current);
  const payload = previous.fields.find((f) => f.name === 'payload')!;
  const branches = payload.type as { name: string }[];
  assert.equal(branches[branches.length - 1]!.name, 'Custom', 'added last, so the existing branch indices stay');
  payload.type = branches.slice(0, -1);
  const oldType = avro.Type.forSchema(previous as avro.Schema, { wrapUnions: true });
  const newType = avro.Type.forSchema(current as avro.Schema, { wrapUnions: true });
  const login = { event_id: 'e', customer_id: 'c', event_time: 1, payload: { 'io.churnflow.events.Login': { device: 'web', success: true } } };
  const plainJson = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
  // backward: a new reader reads what old writers wrote
  assert.deepEqual(plainJson(newType.fromBuffer(oldType.toBuffer(login), newType.createResolver(oldType))), login);
  // the old kinds are encoded identically by both (same branch index), so old readers read new writers' built-in events
  assert.ok(newType.toBuffer(login).equals(oldType.toBuffer(login)));
  assert.deepEqual(plainJson(oldType.fromBuffer(newType.toBuffer(login))), login);
});
