// Turns activity records (NDJSON text, Avro objects) into the engine's ActivityEvent and back. Every
// shape check is the Avro schema's own (avsc isValid with an error hook), so JSON and Avro inputs
// are held to one definition; failures say which field and why. User-declared kinds travel in the
// generic `Custom` branch; the engine's event then carries the declared name as its kind.
import type avro from 'avsc';
import type { ActivityEvent, RawRecord, Scalar } from '../events/activity-event.js';
import type { DeclaredKind } from './declared-kinds.js';
import type { RecordDecoder } from './record-decoder.js';
import { avroType } from './schemas.js';

export class DecodeError extends Error {
  constructor(
    readonly code:
      | 'DECODE_JSON'
      | 'DECODE_AVRO'
      | 'SCHEMA'
      | 'UNKNOWN_KIND'
      | 'MISSING_FIELD'
      | 'BAD_MAGIC_BYTE'
      | 'UNKNOWN_SCHEMA_ID'
      | 'TRUNCATED'
      | 'MAPPING',
    readonly detail: string,
  ) {
    // No stack: a decode failure is the record's fault, not the engine's, and becomes a dead letter that
    // says which record and why. Capturing a stack per bad record was 7 % of the engine's CPU while
    // every record of a topic was undecodable (a schema the registry no longer has).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${code}: ${detail}`);
    Error.stackTraceLimit = limit;
  }
}

const NAMESPACE = 'io.churnflow.events.';
/** The generic branch of user-declared kinds. */
export const CUSTOM_KIND = 'custom';

/** `PlanChange` → `plan_change`. */
export function kindOfBranch(branch: string): string {
  const local = branch.startsWith(NAMESPACE) ? branch.slice(NAMESPACE.length) : branch;
  return local.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export class ActivityCodec implements RecordDecoder {
  private readonly type: avro.Type;
  private readonly branchByKind = new Map<string, string>();
  private readonly envelopeFields: readonly string[];

  private readonly declared: ReadonlyMap<string, DeclaredKind>;
  private readonly customBranch: string | undefined;
  /** Branch name → engine kind, so no regular expression runs per event. */
  private readonly kindByBranch = new Map<string, string>();

  /** `kinds`: the user-declared kinds (input.kinds); a custom event of any other name is UNKNOWN_KIND. */
  constructor(type: avro.Type = avroType('activity-event'), options: { kinds?: readonly DeclaredKind[] } = {}) {
    this.type = type;
    const record = type as unknown as { fields: { name: string; type: { types?: { name?: string }[] } }[] };
    this.envelopeFields = record.fields.map((f) => f.name);
    const payload = record.fields.find((f) => f.name === 'payload');
    for (const branch of payload?.type.types ?? []) {
      if (branch.name) {
        this.branchByKind.set(kindOfBranch(branch.name), branch.name);
        this.kindByBranch.set(branch.name, kindOfBranch(branch.name));
      }
    }
    this.customBranch = this.branchByKind.get(CUSTOM_KIND);
    this.declared = new Map((options.kinds ?? []).map((k) => [k.name, k]));
  }

  /** The kinds of the NDJSON form: the schema's branches (`custom` for every declared kind). */
  get kinds(): readonly string[] {
    return [...this.branchByKind.keys()];
  }

  /** The user-declared kinds this codec accepts. */
  get declaredKinds(): readonly DeclaredKind[] {
    return [...this.declared.values()];
  }

  /** Decodes a record by its format; Confluent-framed Avro needs the registry decoder instead. */
  decode(record: RawRecord): ActivityEvent {
    const v = record.value;
    switch (record.format) {
      case 'json':
        return this.fromJsonText(typeof v === 'string' ? v : Buffer.from(v as Uint8Array).toString('utf8'));
      case 'json-object':
        return this.fromJsonObject(v);
      case 'avro':
        return this.fromAvroBuffer(Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
      case 'avro-object':
        return this.fromAvroObject(v);
      default:
        throw new DecodeError('DECODE_AVRO', `format '${String(record.format)}' needs a Schema Registry decoder`);
    }
  }

  /** Parses one NDJSON line. */
  fromJsonText(text: string): ActivityEvent {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new DecodeError('DECODE_JSON', `not valid JSON: ${(err as Error).message}`);
    }
    return this.fromJsonObject(obj);
  }

  /** Checks an NDJSON-shaped object ({event_id, customer_id, event_time, kind, payload}) against the schema. */
  fromJsonObject(obj: unknown): ActivityEvent {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new DecodeError('DECODE_JSON', 'a record must be a JSON object');
    }
    const rec = obj as Record<string, unknown>;
    const kind = rec['kind'];
    if (typeof kind !== 'string') throw new DecodeError('MISSING_FIELD', "field 'kind' is missing or not a string");
    const branch = this.branchByKind.get(kind);
    if (!branch) throw new DecodeError('UNKNOWN_KIND', `kind '${kind}' is not one of ${this.kinds.join(', ')}`);
    for (const f of this.envelopeFields) {
      if (rec[f] === undefined) throw new DecodeError('MISSING_FIELD', `field '${f}' is missing`);
    }
    const payload = rec['payload'];
    if (payload === null || typeof payload !== 'object') throw new DecodeError('MISSING_FIELD', "field 'payload' must be an object");
    const wrapped = pick(rec, this.envelopeFields);
    wrapped['payload'] = { [branch]: this.wrapNullable(branch, payload as Record<string, unknown>) };
    return this.fromAvroObject(wrapped);
  }

  /** Validates an Avro-form object (wrapped union) and maps it to the engine's event. */
  fromAvroObject(obj: unknown): ActivityEvent {
    // The valid case first, without the error hook (a closure and an array per event); an invalid
    // record is checked again with it, to say where.
    if (!this.type.isValid(obj)) {
      const problems: string[] = [];
      this.type.isValid(obj, {
        errorHook: (path: string[], value: unknown) => {
          problems.push(`${path.join('.') || '(record)'} = ${describe(value)}`);
        },
      });
      const missing = problems.find((p) => p.endsWith('= undefined'));
      if (missing) throw new DecodeError('MISSING_FIELD', `required field missing: ${missing.replace(/ = undefined$/, '')}`);
      throw new DecodeError('SCHEMA', `does not match the activity schema: ${problems.slice(0, 3).join('; ')}`);
    }
    const rec = obj as { event_id: string; customer_id: string; event_time: number; payload: Record<string, Record<string, unknown>> };
    // Own keys only (Object.keys): avsc's decoded records carry enumerable methods on their prototype.
    const branch = Object.keys(rec.payload)[0]!; // a valid union value has exactly one branch
    const body = rec.payload[branch]!;
    if (branch === this.customBranch) return { eventId: rec.event_id, customerId: rec.customer_id, eventTime: Number(rec.event_time), ...this.customEvent(body) };
    const payload: Record<string, Scalar> = {};
    for (const k of Object.keys(body)) payload[k] = unwrapScalar(body[k]);
    return { eventId: rec.event_id, customerId: rec.customer_id, eventTime: Number(rec.event_time), kind: this.kindByBranch.get(branch) ?? kindOfBranch(branch), payload };
  }

  /** Decodes Avro binary (no framing) written with this schema. */
  fromAvroBuffer(buf: Buffer): ActivityEvent {
    let obj: unknown;
    try {
      obj = this.type.fromBuffer(buf);
    } catch (err) {
      throw new DecodeError('DECODE_AVRO', `not a valid Avro activity record: ${(err as Error).message}`);
    }
    return this.fromAvroObject(obj);
  }

  toJsonObject(event: ActivityEvent): Record<string, unknown> {
    if (this.declared.has(event.kind)) return { event_id: event.eventId, customer_id: event.customerId, event_time: event.eventTime, kind: CUSTOM_KIND, payload: this.customPayload(event) };
    return { event_id: event.eventId, customer_id: event.customerId, event_time: event.eventTime, kind: event.kind, payload: event.payload };
  }

  toAvroObject(event: ActivityEvent): Record<string, unknown> {
    const custom = this.declared.has(event.kind);
    const branch = custom ? this.customBranch : this.branchByKind.get(event.kind);
    if (!branch) throw new DecodeError('UNKNOWN_KIND', `kind '${event.kind}' is not one of ${this.kinds.join(', ')}`);
    return {
      event_id: event.eventId,
      customer_id: event.customerId,
      event_time: event.eventTime,
      payload: { [branch]: custom ? this.customPayload(event) : this.wrapNullable(branch, event.payload as Record<string, unknown>) },
    };
  }

  /** A custom branch body → the declared kind's event (kind = its name; payload = value, fields, attributes), checked against the declaration. */
  private customEvent(body: Record<string, unknown>): Pick<ActivityEvent, 'kind' | 'payload'> {
    const name = body['name'] as string;
    const decl = this.declared.get(name);
    if (!decl) {
      const known = [...this.declared.keys()];
      throw new DecodeError('UNKNOWN_KIND', `custom kind '${name}' is not declared (${known.length > 0 ? `input.kinds: ${known.join(', ')}` : 'input.kinds declares none'})`);
    }
    const value = body['value'] as number;
    if (!Number.isFinite(value)) throw new DecodeError('SCHEMA', `${name}.value = ${String(value)} is not a finite number`);
    const payload: Record<string, Scalar> = { value };
    for (const [field, v] of Object.entries(body['measures'] as Record<string, number>)) {
      if (!(field in decl.fields)) throw new DecodeError('SCHEMA', `${name}.${field} is not a declared field of ${name} (${declaredList(Object.keys(decl.fields))})`);
      if (!Number.isFinite(v)) throw new DecodeError('SCHEMA', `${name}.${field} = ${String(v)} is not a finite number`);
      payload[field] = v;
    }
    for (const [field, f] of Object.entries(decl.fields)) {
      if (f.required && payload[field] === undefined) throw new DecodeError('MISSING_FIELD', `${name}.${field} is missing (declared required)`);
    }
    for (const [attr, v] of Object.entries(body['attributes'] as Record<string, string>)) {
      if (!decl.attributes.includes(attr)) throw new DecodeError('SCHEMA', `${name}.${attr} is not a declared attribute of ${name} (${declaredList(decl.attributes)})`);
      payload[attr] = v;
    }
    return { kind: name, payload };
  }

  /** The Custom branch body of a declared kind's event (the inverse of customEvent). */
  private customPayload(event: ActivityEvent): Record<string, unknown> {
    const decl = this.declared.get(event.kind)!;
    const measures: Record<string, number> = {};
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(event.payload)) {
      if (k === 'value' || v === null) continue;
      if (decl.attributes.includes(k)) attributes[k] = String(v);
      else measures[k] = Number(v);
    }
    const value = event.payload['value'];
    return { name: event.kind, value: typeof value === 'number' ? value : 1, measures, attributes };
  }

  toAvroBuffer(event: ActivityEvent): Buffer {
    return this.type.toBuffer(this.toAvroObject(event));
  }

  /** Plain JSON payloads write nullable unions unwrapped; avsc's wrapped form needs {"string": "x"} etc. */
  private wrapNullable(branch: string, payload: Record<string, unknown>): Record<string, unknown> {
    const fields = this.payloadFields(branch);
    const out: Record<string, unknown> = {};
    for (const f of fields) {
      const v = payload[f.name];
      if (f.union) {
        if (v === undefined || v === null) out[f.name] = null;
        else if (typeof v === 'object') out[f.name] = v; // already wrapped
        else out[f.name] = { [f.union]: v };
      } else {
        out[f.name] = v === undefined && f.hasDefault ? f.defaultValue : v;
      }
    }
    const known = this.fieldNames(branch);
    for (const k of Object.keys(payload)) {
      if (!known.has(k)) out[k] = payload[k]; // unknown field: let the schema check name it
    }
    return out;
  }

  private readonly fieldNameCache = new Map<string, ReadonlySet<string>>();
  private fieldNames(branch: string): ReadonlySet<string> {
    let names = this.fieldNameCache.get(branch);
    if (!names) this.fieldNameCache.set(branch, (names = new Set(this.payloadFields(branch).map((f) => f.name))));
    return names;
  }

  private readonly fieldCache = new Map<string, { name: string; union: string | null; hasDefault: boolean; defaultValue: unknown }[]>();
  private payloadFields(branch: string) {
    let cached = this.fieldCache.get(branch);
    if (!cached) {
      const record = this.type as unknown as { fields: { name: string; type: { types: avro.Type[] } }[] };
      const payloadType = record.fields.find((f) => f.name === 'payload')!.type.types.find((t) => (t as unknown as { name: string }).name === branch);
      const fields = (payloadType as unknown as { fields: { name: string; type: avro.Type; defaultValue(): unknown }[] }).fields;
      cached = fields.map((f) => {
        const types = (f.type as unknown as { types?: avro.Type[] }).types;
        const nonNull = types?.find((t) => t.typeName !== 'null');
        const defaultValue = f.defaultValue();
        return {
          name: f.name,
          union: types ? ((nonNull as unknown as { branchName?: string })?.branchName ?? nonNull?.typeName ?? null) : null,
          hasDefault: defaultValue !== undefined,
          defaultValue,
        };
      });
      this.fieldCache.set(branch, cached);
    }
    return cached;
  }
}

function declaredList(names: readonly string[]): string {
  return names.length > 0 ? `declared: ${names.join(', ')}` : 'none declared';
}

function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = obj[k];
  return out;
}

function unwrapScalar(v: unknown): Scalar {
  if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'object') {
    const inner = Object.values(v as Record<string, unknown>)[0];
    return unwrapScalar(inner);
  }
  return null;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
