// Decodes Kafka values in the Confluent wire format (magic byte 0, 4-byte big-endian schema id,
// Avro body) into activity events. The body is read with its WRITER schema (fetched from the
// registry by id, in prepare(), per batch) resolved to the engine's activity schema as reader, so
// older and newer compatible writers work (fields added with defaults, removed fields with
// defaults in the reader, int→long promotions, ...). Topics with an input mapping are decoded with
// the writer schema alone and mapped (src/serde/input-mapping.ts). Other formats go to an ActivityCodec.
import avro from 'avsc';
import { LRUCache } from 'lru-cache';
import type { ActivityEvent, RawRecord } from '../events/activity-event.js';
import { errorMessage } from '../errors.js';
import { ActivityCodec, DecodeError } from './activity-codec.js';
import { compileMappings, MappedDecoder, parseInputMapping, type ForeignRecordReader, type InputMappingConfigInput } from './input-mapping.js';
import type { RecordDecoder } from './record-decoder.js';
import { RegistryClient, RegistryError, resolutionProblems, type RegisteredSchema } from './registry-client.js';
import { avroType } from './schemas.js';

/** Where writer schemas come from: the RegistryClient, or anything with the same call. */
export interface SchemaSource {
  getSchemaById(id: number): Promise<RegisteredSchema>;
}

export interface RegistryDecoderOptions {
  readonly registry: SchemaSource;
  /** Reader schema of native activity records (default: schemas/activity-event.avsc, wrapped unions). */
  readonly readerType?: avro.Type;
  /** Input mappings for topics with the users' own schemas (the `input` config section). */
  readonly input?: InputMappingConfigInput;
  /** How long an id the registry does not know stays "unknown" before prepare() asks again (default 60 s). */
  readonly unknownIdTtlMs?: number;
  /** At most this many schema ids are remembered, known or unknown (least recently used forgotten first; default 10,000): random garbage ids can't grow memory. */
  readonly maxCachedIds?: number;
  /** Parallel schema fetches per prepare() (default 8). */
  readonly maxConcurrentFetches?: number;
  /** Clock for the unknown-id memory (tests). */
  readonly now?: () => number;
}

/** The Confluent wire-format header: magic byte 0 + schema id. */
export const WIRE_HEADER_BYTES = 5;

/** Splits a Confluent-framed value; throws DecodeError(TRUNCATED | BAD_MAGIC_BYTE | DECODE_AVRO). */
export function parseWireFormat(value: unknown): { schemaId: number; body: Buffer } {
  if (!(value instanceof Uint8Array)) throw new DecodeError('DECODE_AVRO', `a confluent-avro value must be bytes, got ${value === null ? 'null' : typeof value}`);
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < WIRE_HEADER_BYTES) {
    if (buf.length > 0 && buf[0] !== 0) throw new DecodeError('BAD_MAGIC_BYTE', magicDetail(buf[0]!));
    throw new DecodeError('TRUNCATED', `only ${buf.length} bytes; the Confluent wire format needs a 5-byte header (magic byte 0 + 4-byte schema id)`);
  }
  if (buf[0] !== 0) throw new DecodeError('BAD_MAGIC_BYTE', magicDetail(buf[0]!));
  return { schemaId: buf.readUInt32BE(1), body: buf.subarray(WIRE_HEADER_BYTES) };
}

function magicDetail(b: number): string {
  const hint = b === 0x7b ? " (looks like JSON: '{')" : b === 0x01 ? ' (a version-1 header, e.g. Protobuf/GUID framing?)' : '';
  return `first byte is 0x${b.toString(16).padStart(2, '0')}, expected 0x00 (Confluent wire format)${hint}`;
}

/** A writer schema as the decoder knows it. */
type WriterEntry =
  | { readonly state: 'ready'; readonly id: number; readonly type: avro.Type; resolver?: avro.Resolver | null; resolveError?: string; readonly identical: boolean }
  | { readonly state: 'unknown'; readonly id: number; readonly until: number; readonly reason: string }
  | { readonly state: 'invalid'; readonly id: number; readonly reason: string };

export class RegistryActivityDecoder implements RecordDecoder, ForeignRecordReader {
  private readonly registry: SchemaSource;
  private readonly reader: avro.Type;
  private readonly codec: ActivityCodec;
  private readonly mapped: MappedDecoder | null;
  private readonly unknownTtlMs: number;
  private readonly now: () => number;
  private readonly maxConcurrent: number;
  private readonly writers: LRUCache<number, WriterEntry>;
  private readonly inflight = new Map<number, Promise<void>>();
  /** Registry fetches made (successful or not): for metrics and tests. */
  fetches = 0;

  constructor(options: RegistryDecoderOptions) {
    this.registry = options.registry;
    this.reader = options.readerType ?? avroType('activity-event');
    const input = options.input !== undefined ? parseInputMapping(options.input) : null;
    // Declared kinds (input.kinds) hold for native records too: a producer may write the Custom branch itself.
    this.codec = new ActivityCodec(this.reader, { kinds: input?.kinds ?? [] });
    this.unknownTtlMs = options.unknownIdTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.writers = new LRUCache<number, WriterEntry>({ max: Math.max(1, options.maxCachedIds ?? 10_000) });
    this.maxConcurrent = Math.max(1, options.maxConcurrentFetches ?? 8);
    this.mapped = input && input.mappings.length > 0 ? new MappedDecoder(compileMappings(input, this.codec), this, this.nativeDecoder(), { noMatchLimit: input.noMatchLimit }) : null;
  }

  /** At the end of a finite input: fails (CF_MAPPING_NO_MATCH) if a mapping mapped none of the records it claimed. */
  finish(): void {
    this.mapped?.finish();
  }

  /** Fetches the writer schemas of a batch that are not known yet: each id once, in parallel. Throws (retriable) only when the registry is unreachable. */
  async prepare(records: readonly RawRecord[]): Promise<void> {
    const wanted = new Set<number>();
    const t = this.now();
    for (const r of records) {
      if (r.format !== 'confluent-avro') continue;
      const id = peekSchemaId(r.value);
      if (id === null) continue;
      const known = this.writers.get(id);
      if (known && (known.state !== 'unknown' || known.until > t)) continue;
      wanted.add(id);
    }
    if (wanted.size === 0) return;
    // In parallel, at most maxConcurrentFetches at a time (a burst of garbage ids must not flood the registry).
    const queue = [...wanted];
    const errors: unknown[] = [];
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        try {
          await this.fetch(id);
        } catch (err) {
          errors.push(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.maxConcurrent, queue.length) }, worker));
    if (errors.length > 0) throw errors[0];
  }

  decode(record: RawRecord): ActivityEvent {
    if (this.mapped && this.mapped.mappingFor(record)) return this.mapped.decode(record);
    return this.decodeNative(record);
  }

  /** A record's value decoded with its own writer schema, unions unwrapped: the input of input mappings. */
  readForeign(record: RawRecord): unknown {
    const { entry, body } = this.frame(record);
    let value: unknown;
    try {
      value = entry.type.fromBuffer(body);
    } catch (err) {
      throw bodyError(err, entry.id);
    }
    return plain(entry.type, value);
  }

  /** Schema ids this decoder knows, and ids it remembers as unknown. */
  knownIds(): { ready: number[]; unknown: number[]; invalid: number[] } {
    const out = { ready: [] as number[], unknown: [] as number[], invalid: [] as number[] };
    for (const e of this.writers.values()) out[e.state === 'ready' ? 'ready' : e.state].push(e.id);
    for (const ids of Object.values(out)) ids.sort((a, b) => a - b);
    return out;
  }

  private nativeDecoder(): RecordDecoder {
    return { decode: (r) => this.decodeNative(r) };
  }

  private decodeNative(record: RawRecord): ActivityEvent {
    if (record.format !== 'confluent-avro') return this.codec.decode(record);
    const { entry, body } = this.frame(record);
    if (entry.resolver === undefined && !entry.identical) {
      try {
        entry.resolver = this.reader.createResolver(entry.type);
      } catch (err) {
        entry.resolver = null;
        const problems = resolutionProblems(this.reader, entry.type, '');
        entry.resolveError = problems.length > 0 ? problems.slice(0, 3).join('; ') : errorMessage(err);
      }
    }
    if (entry.resolver === null) {
      throw new DecodeError('SCHEMA', `writer schema id ${entry.id} cannot be read as the engine's activity schema: ${entry.resolveError ?? 'incompatible'}`);
    }
    let obj: unknown;
    try {
      obj = entry.identical ? this.reader.fromBuffer(body) : this.reader.fromBuffer(body, entry.resolver);
    } catch (err) {
      throw bodyError(err, entry.id);
    }
    return this.codec.fromAvroObject(obj);
  }

  private frame(record: RawRecord): { entry: Extract<WriterEntry, { state: 'ready' }>; body: Buffer } {
    const { schemaId, body } = parseWireFormat(record.value);
    const entry = this.writers.get(schemaId);
    if (!entry) throw new DecodeError('UNKNOWN_SCHEMA_ID', `schema id ${schemaId} was not fetched (prepare() was not called for this record's batch)`);
    if (entry.state === 'unknown') throw new DecodeError('UNKNOWN_SCHEMA_ID', `schema id ${schemaId}: ${entry.reason}`);
    if (entry.state === 'invalid') throw new DecodeError('SCHEMA', `schema id ${schemaId}: ${entry.reason}`);
    return { entry, body };
  }

  private setEntry(entry: WriterEntry): void {
    this.writers.set(entry.id, entry);
  }

  /** The negative cache: the id is answered as unknown without asking the registry until the TTL passes. */
  private rememberUnknown(id: number): void {
    this.setEntry({ state: 'unknown', id, until: this.now() + this.unknownTtlMs, reason: 'the schema registry does not know this id' });
  }

  private fetch(id: number): Promise<void> {
    let p = this.inflight.get(id);
    if (p) return p;
    p = (async () => {
      this.fetches++;
      let schema: RegisteredSchema;
      try {
        schema = await this.registry.getSchemaById(id);
      } catch (err) {
        if (isNotFound(err)) {
          this.rememberUnknown(id);
          return;
        }
        throw err;
      }
      if (schema.schemaType.toUpperCase() !== 'AVRO') {
        this.setEntry({ state: 'invalid', id, reason: `is a ${schema.schemaType} schema, not Avro` });
        return;
      }
      try {
        const type = avro.Type.forSchema(JSON.parse(schema.schema) as avro.Schema, { wrapUnions: true });
        // Same canonical form = same binary layout: read directly, no resolver needed.
        const identical = type.equals(this.reader);
        this.setEntry({ state: 'ready', id, type, identical });
      } catch (err) {
        this.setEntry({ state: 'invalid', id, reason: `the registered schema does not parse as Avro: ${errorMessage(err)}` });
      }
    })().finally(() => this.inflight.delete(id));
    this.inflight.set(id, p);
    return p;
  }
}

/** The registry's "no such schema id" (a RegistryError with a 404xx code; other SchemaSources may throw anything with status 404). */
function isNotFound(err: unknown): boolean {
  if (err instanceof RegistryError) return RegistryClient.isNotFound(err);
  return (err as { status?: unknown } | null)?.status === 404;
}

/** The schema id of a framed value without throwing (null when the header is bad; decode() reports it). */
function peekSchemaId(value: unknown): number | null {
  if (!(value instanceof Uint8Array) || value.length < WIRE_HEADER_BYTES || value[0] !== 0) return null;
  return new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(1, false);
}

function bodyError(err: unknown, id: number): DecodeError {
  const msg = errorMessage(err);
  if (/truncated/i.test(msg)) return new DecodeError('TRUNCATED', `Avro body (writer schema id ${id}) ends early: ${msg}`);
  return new DecodeError('DECODE_AVRO', `Avro body (writer schema id ${id}) is corrupt: ${msg}`);
}

interface TypeShape {
  typeName: string;
  fields?: { name: string; type: avro.Type }[];
  types?: avro.Type[];
  itemsType?: avro.Type;
  valuesType?: avro.Type;
  branchName?: string;
}

/** An avsc value (wrapped unions) → plain JSON-like values: union wrappers removed, longs as numbers. */
export function plain(type: avro.Type, value: unknown): unknown {
  const t = type as unknown as TypeShape;
  if (value === null || value === undefined) return value;
  switch (t.typeName) {
    case 'record':
    case 'error': {
      const out: Record<string, unknown> = {};
      const rec = value as Record<string, unknown>;
      for (const f of t.fields ?? []) out[f.name] = plain(f.type, rec[f.name]);
      return out;
    }
    case 'array':
      return (value as unknown[]).map((v) => plain(t.itemsType!, v));
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = plain(t.valuesType!, v);
      return out;
    }
    case 'union:wrapped': {
      const [branch, inner] = Object.entries(value as Record<string, unknown>)[0] ?? [];
      const bt = t.types?.find((b) => (b as unknown as TypeShape).branchName === branch);
      return bt ? plain(bt, inner) : inner;
    }
    case 'union:unwrapped': {
      const bt = t.types?.find((b) => b.typeName !== 'null' && b.isValid(value));
      return bt ? plain(bt, value) : value;
    }
    case 'long':
      return typeof value === 'bigint' ? Number(value) : value;
    default:
      return value;
  }
}
