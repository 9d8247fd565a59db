// Encodes the engine's outputs (risk events, drift metrics, dead letters, and activity events for
// `simulate --to kafka`) in the Confluent wire format for a topic's `<topic>-value` subject.
// The schema id is looked up (or registered) once, asynchronously, in prepare(); encode() is then a
// synchronous avsc encode plus the 5-byte header: no promise per record, the same avsc types the
// decoders use, and no schema inference (the package's AvroSerializer is async per record and,
// without useLatestVersion/useSchemaId, infers and registers a schema from the JS object).
import avro from 'avsc';
import type { ActivityEvent } from '../events/activity-event.js';
import type { CurrentRiskRecord, DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../events/wire-types.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import { ActivityCodec } from './activity-codec.js';
import type { RecordEncoder } from './record-encoder.js';
import { RegistryError, subjectForTopic, type RegistryClient, type SubjectVersion } from './registry-client.js';
import { avroType, schemaJson, type SchemaName } from './schemas.js';

export interface RegistryEncoderOptions<T> {
  readonly registry: RegistryClient;
  readonly topic: string;
  /** Which schema of schemas/ the records follow. */
  readonly schema: SchemaName;
  /**
   * true: register the schema under `<topic>-value` if it is not there (the registry's compatibility
   * rule decides; an incompatible schema fails prepare()). false: never write to the registry; the
   * schema must already be registered under the subject (any version: its id is used), or the
   * subject's latest schema must be able to read ours (then records are written with the latest
   * schema, like Confluent's use.latest.version; fields the latest schema lacks are dropped).
   */
  readonly autoRegister: boolean;
  /** Turns a record into the Avro form of the schema (e.g. ActivityEvent → wrapped-union object). */
  readonly toAvro?: (record: T) => unknown;
}

/** How records are written: with our own schema's id, or resolved to the subject's latest schema. */
export type EncoderMode = 'exact' | 'latest';

interface Resolved {
  readonly schemaId: number;
  readonly mode: EncoderMode;
  readonly registered: boolean;
  readonly header: Buffer;
  readonly writeAs: ((value: unknown) => Buffer) | null;
}

/**
 * A RecordEncoder (src/serde/record-encoder.ts) for one topic: prepare() looks up or registers the
 * schema once (memoised; a failed attempt is retried by the next call), encode() is synchronous.
 */
export class RegistryEncoder<T> implements RecordEncoder<T> {
  readonly subject: string;
  readonly topic: string;
  readonly schemaName: SchemaName;
  private readonly registry: RegistryClient;
  private readonly autoRegister: boolean;
  private readonly type: avro.Type;
  private readonly toAvro: (record: T) => unknown;
  private resolved: Resolved | null = null;
  /** Where records are written before they are copied out (writeExact). */
  private scratch = Buffer.allocUnsafe(2048);
  private preparing: Promise<void> | null = null;

  constructor(options: RegistryEncoderOptions<T>) {
    this.registry = options.registry;
    this.topic = options.topic;
    this.subject = subjectForTopic(options.topic);
    this.schemaName = options.schema;
    this.autoRegister = options.autoRegister;
    this.type = avroType(options.schema);
    this.toAvro = options.toAvro ?? ((r: T) => r as unknown);
  }

  /** A prepared encoder. */
  static async create<T>(options: RegistryEncoderOptions<T>): Promise<RegistryEncoder<T>> {
    const encoder = new RegistryEncoder<T>(options);
    await encoder.prepare();
    return encoder;
  }

  /** The schema id in every record's header (after prepare()). */
  get schemaId(): number {
    return this.ready().schemaId;
  }

  get mode(): EncoderMode {
    return this.ready().mode;
  }

  /** True when prepare() registered the schema (a new version or a new subject). */
  get registered(): boolean {
    return this.ready().registered;
  }

  /** Looks up or registers the schema once; throws CF_SINK_FAILED naming the subject when it can't (retriable if the registry is unreachable). */
  prepare(): Promise<void> {
    if (this.resolved) return Promise.resolve();
    this.preparing ??= this.resolve().then(
      (r) => {
        this.resolved = r;
      },
      (err: unknown) => {
        this.preparing = null;
        throw err;
      },
    );
    return this.preparing;
  }

  /** The record in the Confluent wire format. Throws CF_SINK_FAILED naming the bad field. */
  encode(record: T): Buffer {
    const r = this.ready();
    const value = this.toAvro(record);
    try {
      if (r.writeAs) {
        const body = r.writeAs(value);
        return Buffer.concat([r.header, body], 5 + body.length);
      }
      return this.writeExact(r.header, value);
    } catch (err) {
      throw new ChurnflowError('CF_SINK_FAILED', `cannot encode a ${this.schemaName} record for topic '${this.topic}': ${invalidFields(this.type, value) ?? errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  /**
   * Header and body written once into a scratch buffer that grows to the largest record seen, then
   * copied out at their exact length (a pooled allocation for records under 4 KB). avsc's toBuffer
   * wrote the body into its own 1 KB buffer, zero-filled a new one for it (and wrote the record a
   * second time when it passed that 1 KB), and the header made a third.
   */
  private writeExact(header: Buffer, value: unknown): Buffer {
    let scratch = this.scratch;
    header.copy(scratch, 0);
    let end = this.type.encode(value, scratch, 5);
    if (end < 0) {
      // avsc returns (buffer length − bytes needed) when the record does not fit.
      scratch = this.scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
      header.copy(scratch, 0);
      end = this.type.encode(value, scratch, 5);
    }
    const out = Buffer.allocUnsafe(end);
    scratch.copy(out, 0, 0, end);
    return out;
  }

  private ready(): Resolved {
    if (!this.resolved) throw new ChurnflowError('CF_LIFECYCLE', `the ${this.schemaName} encoder for topic '${this.topic}' is used before prepare() finished`);
    return this.resolved;
  }

  private async resolve(): Promise<Resolved> {
    const { registry, subject, topic, schemaName: schema } = this;
    const text = JSON.stringify(schemaJson(schema));
    const make = (schemaId: number, mode: EncoderMode, registered: boolean, writeAs: Resolved['writeAs']): Resolved => {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(schemaId, 1);
      return { schemaId, mode, registered, header, writeAs };
    };
    try {
      const existing = await registry.lookup(subject, text);
      if (existing) return make(existing.id, 'exact', false, null);
      if (this.autoRegister) return make(await registry.register(subject, text), 'exact', true, null);
      const latest = await registry.latest(subject);
      if (!latest) {
        throw new ChurnflowError(
          'CF_SINK_FAILED',
          `subject '${subject}' is not registered at ${registry.url} and autoRegister is off: run \`churnflow schemas register\` (or enable autoRegister)`,
          { details: { subject } },
        );
      }
      return make(latest.id, 'latest', false, writerForLatest(this.type, latest, schema));
    } catch (err) {
      if (err instanceof RegistryError) {
        throw new ChurnflowError('CF_SINK_FAILED', `cannot set up the ${schema} encoder for topic '${topic}': ${err.message}`, {
          retriable: err.retriable,
          cause: err,
          details: { subject, ...err.details },
        });
      }
      throw err;
    }
  }
}

/** Writes values of `ours` with the latest registered schema (our schema as writer, latest as reader). */
function writerForLatest(ours: avro.Type, latest: SubjectVersion, name: SchemaName): (value: unknown) => Buffer {
  let latestType: avro.Type;
  let resolver: avro.Resolver;
  try {
    latestType = avro.Type.forSchema(JSON.parse(latest.schema) as avro.Schema, { wrapUnions: name === 'activity-event' ? true : 'auto' });
    resolver = latestType.createResolver(ours);
  } catch (err) {
    throw new ChurnflowError(
      'CF_SINK_FAILED',
      `subject '${latest.subject}' does not contain schemas/${name}.avsc, and its latest version ${latest.version} (id ${latest.id}) cannot take our records: ${errorMessage(err)}; autoRegister is off, so register ours with \`churnflow schemas register\``,
      { details: { subject: latest.subject, version: latest.version, id: latest.id } },
    );
  }
  return (value) => latestType.toBuffer(latestType.fromBuffer(ours.toBuffer(value), resolver));
}

function invalidFields(type: avro.Type, value: unknown): string | null {
  const problems: string[] = [];
  type.isValid(value, {
    errorHook: (path: string[], v: unknown) => {
      problems.push(`${path.join('.') || '(record)'} = ${v === undefined ? 'undefined' : JSON.stringify(v)?.slice(0, 60) ?? String(v)}`);
    },
  });
  return problems.length > 0 ? `invalid ${problems.slice(0, 3).join('; ')}` : null;
}

export type EncoderArgs = Omit<RegistryEncoderOptions<never>, 'schema' | 'toAvro'>;

// Typed encoders for each output; not yet prepared (the Kafka sink calls prepare() before the first write).

export function riskEventEncoder(args: EncoderArgs): RegistryEncoder<RiskEventRecord> {
  return new RegistryEncoder<RiskEventRecord>({ ...args, schema: 'risk-event' });
}

export function currentRiskEncoder(args: EncoderArgs): RegistryEncoder<CurrentRiskRecord> {
  return new RegistryEncoder<CurrentRiskRecord>({ ...args, schema: 'current-risk' });
}

export function driftMetricEncoder(args: EncoderArgs): RegistryEncoder<DriftMetricRecord> {
  return new RegistryEncoder<DriftMetricRecord>({ ...args, schema: 'drift-metric' });
}

export function deadLetterEncoder(args: EncoderArgs): RegistryEncoder<DeadLetterRecord> {
  return new RegistryEncoder<DeadLetterRecord>({ ...args, schema: 'dead-letter' });
}

/** Activity events (e.g. `simulate --to kafka`): ActivityEvent → the schema's wrapped-union form. */
export function activityEventEncoder(args: EncoderArgs, codec = new ActivityCodec()): RegistryEncoder<ActivityEvent> {
  return new RegistryEncoder<ActivityEvent>({ ...args, schema: 'activity-event', toAvro: (e) => codec.toAvroObject(e) });
}
