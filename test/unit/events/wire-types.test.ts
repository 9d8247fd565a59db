// Proves the TypeScript wire types match schemas/*.avsc: a fully populated value of each TS type (the
// compiler checks it has every field and no other) must have exactly the schema's fields, recursively,
// and be valid for the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeadLetterRecord, DriftMetricRecord, PayloadByKind, RiskEventRecord } from '../../../src/events/wire-types.js';
import { AVRO_BRANCH_BY_KIND } from '../../../src/events/wire-types.js';
import { avroType, schemaJson } from '../../../src/serde/schemas.js';
import { ActivityCodec } from '../../../src/serde/activity-codec.js';

type Field = { name: string; type: unknown };
function recordFields(schema: unknown): Field[] {
  return (schema as { fields: Field[] }).fields;
}

const risk: RiskEventRecord = {
  event_id: 'x', customer_id: 'c', score: 0.5, band: 'high', previous_band: null, threshold: 0.3, above_threshold: true,
  model_name: 'm', model_version: '1.0.0', scorer: 'model', experiment_arm: null,
  reasons: [{ feature: 'f', value: 1, contribution: 0.2 }], trigger_event_id: 'e', event_time: 1, processing_time: 2,
};
const drift: DriftMetricRecord = {
  metric_id: 'm', model_name: 'm', model_version: '1.0.0', subject: 'f', statistic: 'psi', value: 0.1, p_value: null,
  severity: 'ok', sample_size: 10, window_start: 1, window_end: 2,
};
const dead: DeadLetterRecord = {
  dead_letter_id: 'd', route: 'dead-letter', reason_code: 'X', reason_detail: 'y', source: 's', source_topic: null, source_partition: null,
  source_offset: null, original_key: null, payload: Buffer.from('x'), customer_id: null, event_time: null, received_time: 3, payload_bytes: 1, original_key_bytes: null, truncated: false,
};
const payloads: PayloadByKind = {
  login: { device: 'web', success: true },
  session: { duration_seconds: 1, content_items: 1, content_id: null },
  payment: { status: 'FAILED', amount_cents: 1, discount_cents: 0, currency: 'USD' },
  plan_change: { change: 'CANCEL', from_plan: 'a', to_plan: null, reason: null },
  support_ticket: { category: 'billing', is_complaint: true, satisfaction: null },
  profile: { signup_time: 1, plan: 'basic', payment_method: 'card', region: 'eu', age: null, renewal_time: null },
  custom: { name: 'page_view', value: 2, measures: { seconds: 30 }, attributes: { page: 'home' } },
};

for (const [name, value] of [['risk-event', risk], ['drift-metric', drift], ['dead-letter', dead]] as const) {
  test(`${name}: TS type has exactly the schema's fields and validates`, () => {
    const schemaFields = recordFields(schemaJson(name)).map((f) => f.name).sort();
    assert.deepEqual(Object.keys(value).sort(), schemaFields);
    assert.ok(avroType(name).isValid(value), `${name} sample is valid Avro`);
  });
}

test('risk reasons item type matches the RiskReason record', () => {
  const reasons = recordFields(schemaJson('risk-event')).find((f) => f.name === 'reasons')!.type as { items: unknown };
  assert.deepEqual(recordFields(reasons.items).map((f) => f.name).sort(), Object.keys(risk.reasons[0]!).sort());
});

test('activity payload types match each union branch, and every branch has a kind', () => {
  const payloadField = recordFields(schemaJson('activity-event')).find((f) => f.name === 'payload')!;
  const branches = payloadField.type as { name: string; fields: Field[] }[];
  assert.deepEqual(branches.map((b) => `io.churnflow.events.${b.name}`).sort(), Object.values(AVRO_BRANCH_BY_KIND).sort());
  const codec = new ActivityCodec(undefined, { kinds: [{ name: 'page_view', fields: { seconds: { required: false } }, attributes: ['page'], value: {} }] });
  for (const [kind, payload] of Object.entries(payloads)) {
    const branch = branches.find((b) => `io.churnflow.events.${b.name}` === AVRO_BRANCH_BY_KIND[kind as keyof PayloadByKind])!;
    assert.deepEqual(Object.keys(payload).sort(), branch.fields.map((f) => f.name).sort(), kind);
    const e = codec.fromJsonObject({ event_id: 'e', customer_id: 'c', event_time: 1, kind, payload });
    assert.deepEqual(codec.fromAvroBuffer(codec.toAvroBuffer(e)), e, `${kind} round-trips through Avro binary`);
  }
});
