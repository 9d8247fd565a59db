// A small wrapper over @confluentinc/schemaregistry for what churnflow needs from a Schema Registry
// (Confluent REST API; locally Apicurio's ccompat API): register, schema by id (cached: an id never
// changes meaning), latest version of a subject, lookup, and compatibility checks with reasons.
// Every failure is a RegistryError (a ChurnflowError) that says which operation failed against which
// registry; network and 5xx failures are retriable. Credentials are never part of a message.
//
// Deep imports on purpose: the package index pulls in every KMS SDK (AWS, Azure, GCP) and takes
// ~0.6 s to load; the client alone takes ~0.1 s. The package has no `exports` map, so these paths
// are public files of the package.
import { Agent as HttpsAgent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import avro from 'avsc';
import { LRUCache } from 'lru-cache';
import { SchemaRegistryClient, type Client, type SchemaInfo } from '@confluentinc/schemaregistry/dist/schemaregistry-client.js';
import { RestService, type BasicAuthCredentials } from '@confluentinc/schemaregistry/dist/rest-service.js';
import { RestError } from '@confluentinc/schemaregistry/dist/rest-error.js';
import { ChurnflowError, errorMessage, type ErrorCode } from '../errors.js';

export interface RegistryClientConfig {
  /** Base URL(s) of the Confluent-compatible API, e.g. http://127.0.0.1:18081/apis/ccompat/v7. `user:pass@` in a URL is used as basic auth and stripped. */
  readonly url: string | readonly string[];
  /** Basic auth; never logged. */
  readonly basicAuth?: { readonly username: string; readonly password: string } | undefined;
  /** TLS of https URLs: CA, client certificate and key, servername, rejectUnauthorized (config/tls-options.ts). */
  readonly tls?: ConnectionOptions | undefined;
  /** Per-request timeout (default 10 s). */
  readonly timeoutMs?: number | undefined;
  /** Retries of network errors and 408/429/5xx answers (default 2), with full-jitter backoff from retryWaitMs (default 100 ms) up to 2 s. */
  readonly maxRetries?: number | undefined;
  readonly retryWaitMs?: number | undefined;
  /** Schemas kept by id, least recently used forgotten first (default 10,000). */
  readonly maxCachedIds?: number | undefined;
  /** Code of the ChurnflowErrors this client throws (default CF_SOURCE_FAILED; encoders rewrap as CF_SINK_FAILED). */
  readonly errorCode?: ErrorCode | undefined;
}

/** A schema as the registry stores it under an id. */
export interface RegisteredSchema {
  readonly id: number;
  /** The schema text (JSON for Avro). */
  readonly schema: string;
  /** AVRO when the registry omits it (Confluent and Apicurio 3 do for Avro). */
  readonly schemaType: string;
}

/** One version of a subject. */
export interface SubjectVersion extends RegisteredSchema {
  readonly subject: string;
  readonly version: number;
}

export interface CompatibilityResult {
  readonly isCompatible: boolean;
  /** Why not (empty when compatible). From the registry when it says (Confluent's verbose mode), else from a local avsc check. */
  readonly messages: readonly string[];
  /** The subject's compatibility level as the registry reports it (e.g. BACKWARD). */
  readonly level: string;
  /** False when the subject has no versions yet (anything is compatible then). */
  readonly subjectExists: boolean;
}

export class RegistryError extends ChurnflowError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly operation: string,
    readonly status: number | null,
    readonly registryErrorCode: number | null,
    options: { retriable: boolean; cause?: unknown },
  ) {
    super(code, message, { retriable: options.retriable, cause: options.cause, details: { operation, status, registryErrorCode } });
    this.name = 'RegistryError';
  }
}

/** TopicNameStrategy: the value schema of topic `t` lives under subject `t-value`. */
export function subjectForTopic(topic: string): string {
  return `${topic}-value`;
}

/** Schema JSON as the registry wants it: a string. Objects are serialised as they are. */
export function schemaText(schema: string | object): string {
  return typeof schema === 'string' ? schema : JSON.stringify(schema);
}

const RETRIABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export class RegistryClient {
  /** The underlying package client (for AvroSerializer/AvroDeserializer if someone needs them). */
  readonly client: Client;
  /** The first base URL without credentials, for messages. */
  readonly url: string;
  private readonly rest: RestService;
  private readonly errorCode: ErrorCode;
  /** Schemas by id: an id never changes meaning, but a flood of distinct ids must not grow memory without bound. */
  private readonly byId: LRUCache<number, Promise<RegisteredSchema>>;
  private readonly httpsAgent: HttpsAgent | undefined;

  constructor(config: RegistryClientConfig) {
    const urls = (typeof config.url === 'string' ? [config.url] : [...config.url]).map((u) => u.trim()).filter((u) => u !== '');
    if (urls.length === 0) throw new ChurnflowError('CF_CONFIG_INVALID', 'schema registry URL is empty (set --registry or CHURNFLOW_SCHEMA_REGISTRY_URL)');
    let auth = config.basicAuth;
    const baseURLs = urls.map((u) => {
      let parsed: URL;
      try {
        parsed = new URL(u);
      } catch {
        throw new ChurnflowError('CF_CONFIG_INVALID', `schema registry URL is not a URL: '${redactUrl(u)}'`);
      }
      if (parsed.username !== '' && auth === undefined) auth = { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
      parsed.username = '';
      parsed.password = '';
      return parsed.toString().replace(/\/+$/, '');
    });
    this.url = baseURLs[0]!;
    this.errorCode = config.errorCode ?? 'CF_SOURCE_FAILED';
    this.byId = new LRUCache({ max: Math.max(1, config.maxCachedIds ?? 10_000) });
    const basicAuthCredentials: BasicAuthCredentials | undefined = auth ? { credentialsSource: 'USER_INFO', userInfo: `${auth.username}:${auth.password}` } : undefined;
    const timeout = config.timeoutMs ?? 10_000;
    // Both transports below go through axios: one agent carries the CA and client certificate to each.
    this.httpsAgent = config.tls ? new HttpsAgent({ ...config.tls, keepAlive: true }) : undefined;
    const axiosDefaults = { timeout, ...(this.httpsAgent ? { httpsAgent: this.httpsAgent } : {}) };
    const maxRetries = config.maxRetries ?? 2;
    const retriesWaitMs = config.retryWaitMs ?? 100;
    this.client = new SchemaRegistryClient({
      baseURLs,
      createAxiosDefaults: axiosDefaults,
      ...(basicAuthCredentials ? { basicAuthCredentials } : {}),
      maxRetries,
      retriesWaitMs,
      retriesMaxWaitMs: 2000,
    });
    // The package client serialises every getBySubjectAndId behind one mutex and has no verbose
    // compatibility call; those requests go through the package's own transport (same auth, retries, failover).
    this.rest = new RestService(baseURLs, false, axiosDefaults, basicAuthCredentials, undefined, maxRetries, retriesWaitMs, 2000);
  }

  /** Registers a schema under a subject (a no-op returning the existing id when it is already there). */
  async register(subject: string, schema: string | object): Promise<number> {
    const info: SchemaInfo = { schemaType: 'AVRO', schema: schemaText(schema) };
    const id = await this.call(`register a schema under subject '${subject}'`, () => this.client.register(subject, info, false));
    return id;
  }

  /** The schema with this id; cached for the client's lifetime, concurrent calls share one request. */
  getSchemaById(id: number): Promise<RegisteredSchema> {
    let pending = this.byId.get(id);
    if (!pending) {
      pending = this.call(`fetch schema id ${id}`, async () => {
        const res = await this.rest.handleRequest<{ schema: string; schemaType?: string }>(`/schemas/ids/${id}`, 'GET');
        return { id, schema: res.data.schema, schemaType: res.data.schemaType ?? 'AVRO' };
      });
      this.byId.set(id, pending);
      pending.catch(() => this.byId.delete(id)); // failures are not cached here; the decoder keeps its own "unknown" memory
    }
    return pending;
  }

  /**
   * True when an error means "the registry has no such subject / version / schema id" (Confluent
   * error codes 404xx), not a transport problem or a wrong base URL (a 404 without a registry code).
   */
  static isNotFound(err: unknown): boolean {
    return err instanceof RegistryError && err.status === 404 && err.registryErrorCode !== null && err.registryErrorCode >= 40400 && err.registryErrorCode < 40500;
  }

  /** The latest version of a subject, fresh from the registry; null when the subject does not exist. */
  async latest(subject: string): Promise<SubjectVersion | null> {
    try {
      return await this.call(`read the latest version of subject '${subject}'`, async () => {
        const res = await this.rest.handleRequest<{ subject: string; version: number; id: number; schema: string; schemaType?: string }>(
          `/subjects/${encodeURIComponent(subject)}/versions/latest`,
          'GET',
        );
        const d = res.data;
        return { subject: d.subject, version: d.version, id: d.id, schema: d.schema, schemaType: d.schemaType ?? 'AVRO' };
      });
    } catch (err) {
      if (RegistryClient.isNotFound(err)) return null;
      throw err;
    }
  }

  /** Id of the latest version of a subject; null when the subject does not exist. */
  async latestId(subject: string): Promise<number | null> {
    return (await this.latest(subject))?.id ?? null;
  }

  /** The version of `subject` whose schema is this one (any version, not only the latest); null if none. */
  async lookup(subject: string, schema: string | object): Promise<SubjectVersion | null> {
    try {
      return await this.call(`look up a schema under subject '${subject}'`, async () => {
        const res = await this.rest.handleRequest<{ subject: string; version: number; id: number; schema: string; schemaType?: string }>(
          `/subjects/${encodeURIComponent(subject)}?normalize=false`,
          'POST',
          { schemaType: 'AVRO', schema: schemaText(schema) },
        );
        const d = res.data;
        return { subject: d.subject ?? subject, version: d.version, id: d.id, schema: d.schema, schemaType: d.schemaType ?? 'AVRO' };
      });
    } catch (err) {
      if (RegistryClient.isNotFound(err)) return null; // 40401 subject or 40403 schema not found
      throw err;
    }
  }

  /** The compatibility level in force for a subject (its own, else the global one; BACKWARD if the registry says neither). */
  async compatibilityLevel(subject: string): Promise<string> {
    for (const path of [`/config/${encodeURIComponent(subject)}?defaultToGlobal=true`, '/config']) {
      try {
        const res = await this.call(`read the compatibility level of '${subject}'`, () =>
          this.rest.handleRequest<{ compatibilityLevel?: string; compatibility?: string }>(path, 'GET'),
        );
        const level = res.data.compatibilityLevel ?? res.data.compatibility;
        if (level) return level;
      } catch (err) {
        if (!RegistryClient.isNotFound(err)) throw err; // 40401/40408: no level of its own (Apicurio 3.0 answers 404 here)
      }
    }
    return 'BACKWARD';
  }

  /**
   * Is `schema` compatible with the latest version of `subject`, by the registry's rule for it? The
   * registry decides; when it says "no" without saying why (Apicurio ignores verbose=true), the
   * messages come from a local avsc resolution check in the direction(s) the level demands.
   */
  async checkCompatibility(subject: string, schema: string | object): Promise<CompatibilityResult> {
    const text = schemaText(schema);
    const [latest, level] = await Promise.all([this.latest(subject), this.compatibilityLevel(subject)]);
    if (!latest) return { isCompatible: true, messages: [], level, subjectExists: false };
    const res = await this.call(`check compatibility of a schema with subject '${subject}'`, () =>
      this.rest.handleRequest<{ is_compatible: boolean; messages?: unknown }>(
        `/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest?verbose=true`,
        'POST',
        { schemaType: 'AVRO', schema: text },
      ),
    );
    const isCompatible = res.data.is_compatible === true;
    if (isCompatible) return { isCompatible, messages: [], level, subjectExists: true };
    let messages = Array.isArray(res.data.messages) ? res.data.messages.map((m) => String(m)) : [];
    if (messages.length === 0) {
      messages = explainIncompatibility(latest.schema, text, level).map((m) => `${m} (local avsc check; the registry gave no reason)`);
      if (messages.length === 0) messages = [`the registry reports the schema incompatible with version ${latest.version} (id ${latest.id}) under ${level} but gave no reason`];
    }
    return { isCompatible, messages, level, subjectExists: true };
  }

  /** Forgets cached schemas (ids are immutable, so this is only for tests and memory). */
  clearCache(): void {
    this.byId.clear();
    this.client.clearCaches();
  }

  async close(): Promise<void> {
    this.httpsAgent?.destroy();
    await this.client.close();
  }

  /** Runs one registry call and turns its failure into a RegistryError naming the operation and the registry. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.toError(operation, err);
    }
  }

  private toError(operation: string, err: unknown): RegistryError {
    if (err instanceof RegistryError) return err;
    if (err instanceof RestError) {
      const retriable = RETRIABLE_STATUS.has(err.status);
      const registryCode = err.errorCode > 0 ? err.errorCode : null;
      const hint =
        err.status === 404 && registryCode === null
          ? ` (no such API path: is ${this.url} the base URL of the Confluent-compatible API? For Apicurio it ends in /apis/ccompat/v7)`
          : err.status === 401 || err.status === 403
            ? ' (check the registry credentials)'
            : '';
      return new RegistryError(
        this.errorCode,
        `schema registry at ${this.url} refused to ${operation}: HTTP ${err.status}${registryCode !== null ? ` (error ${registryCode})` : ''}: ${redactText(err.message)}${hint}`,
        operation,
        err.status,
        registryCode,
        { retriable, cause: err },
      );
    }
    const e = err as { code?: unknown; response?: { status?: unknown }; errors?: { code?: unknown }[] };
    const status = typeof e.response?.status === 'number' ? e.response.status : null;
    if (status !== null) {
      return new RegistryError(this.errorCode, `schema registry at ${this.url} failed to ${operation}: HTTP ${status}`, operation, status, null, {
        retriable: RETRIABLE_STATUS.has(status),
        cause: err,
      });
    }
    const code = typeof e.code === 'string' ? e.code : typeof e.errors?.[0]?.code === 'string' ? e.errors[0].code : null;
    const why = code === 'ECONNABORTED' || code === 'ETIMEDOUT' ? 'timed out' : 'is unreachable';
    return new RegistryError(
      this.errorCode,
      `schema registry at ${this.url} ${why} (${code ?? redactText(errorMessage(err))}) while trying to ${operation}`,
      operation,
      null,
      null,
      { retriable: true, cause: err },
    );
  }
}

/** A URL without `user:password@`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

function redactText(text: string): string {
  return text.replace(/\/\/[^/@\s]*@/g, '//');
}

/**
 * Why `next` may not replace `previous` under a compatibility level, by avsc schema resolution:
 * BACKWARD = the new schema reads data written with the old; FORWARD = the old reads the new; FULL = both.
 * Names the field path where resolution fails. Empty when avsc finds no problem.
 */
export function explainIncompatibility(previous: string | object, next: string | object, level = 'BACKWARD'): string[] {
  let prevType: avro.Type;
  let nextType: avro.Type;
  try {
    prevType = avro.Type.forSchema(JSON.parse(schemaText(previous)) as avro.Schema, { wrapUnions: true });
  } catch (err) {
    return [`the registered schema does not parse: ${errorMessage(err)}`];
  }
  try {
    nextType = avro.Type.forSchema(JSON.parse(schemaText(next)) as avro.Schema, { wrapUnions: true });
  } catch (err) {
    return [`the new schema does not parse: ${errorMessage(err)}`];
  }
  const upper = level.toUpperCase();
  const out: string[] = [];
  if (upper === 'NONE') return out;
  if (upper.startsWith('BACKWARD') || upper.startsWith('FULL')) {
    for (const m of resolutionProblems(nextType, prevType, '')) out.push(`new schema cannot read data written with the registered one: ${m}`);
  }
  if (upper.startsWith('FORWARD') || upper.startsWith('FULL')) {
    for (const m of resolutionProblems(prevType, nextType, '')) out.push(`registered schema cannot read data written with the new one: ${m}`);
  }
  return out;
}

interface TypeShape {
  typeName: string;
  name?: string;
  fields?: { name: string; type: avro.Type; aliases?: string[]; defaultValue(): unknown }[];
  types?: avro.Type[];
  itemsType?: avro.Type;
  valuesType?: avro.Type;
}

/** Where (by field path) a reader cannot resolve a writer; falls back to avsc's own message. */
export function resolutionProblems(reader: avro.Type, writer: avro.Type, path: string): string[] {
  try {
    reader.createResolver(writer);
    return [];
  } catch (err) {
    const r = reader as unknown as TypeShape;
    const w = writer as unknown as TypeShape;
    const at = path || '(root)';
    if (r.typeName === 'record' && w.typeName === 'record' && r.fields && w.fields) {
      const problems: string[] = [];
      for (const rf of r.fields) {
        const names = [rf.name, ...(rf.aliases ?? [])];
        const wf = w.fields.find((f) => names.includes(f.name));
        const p = path ? `${path}.${rf.name}` : rf.name;
        if (!wf) {
          if (rf.defaultValue() === undefined) problems.push(`${p}: field is missing in the writer schema and has no default`);
        } else {
          problems.push(...resolutionProblems(rf.type, wf.type, p));
        }
      }
      if (problems.length > 0) return problems;
    }
    if (r.typeName.endsWith('union') && w.typeName.endsWith('union') && r.types && w.types) {
      const problems: string[] = [];
      for (const wb of w.types) {
        const wn = (wb as unknown as TypeShape).name ?? wb.typeName;
        const rb = r.types.find((t) => ((t as unknown as TypeShape).name ?? t.typeName) === wn);
        if (rb) problems.push(...resolutionProblems(rb, wb, `${path}<${wn}>`));
        else {
          try {
            reader.createResolver(wb);
          } catch {
            problems.push(`${at}: union branch ${wn} of the writer has no matching branch in the reader`);
          }
        }
      }
      if (problems.length > 0) return problems;
    }
    if (r.typeName === 'array' && w.typeName === 'array' && r.itemsType && w.itemsType) {
      const problems = resolutionProblems(r.itemsType, w.itemsType, `${path}[]`);
      if (problems.length > 0) return problems;
    }
    if (r.typeName === 'map' && w.typeName === 'map' && r.valuesType && w.valuesType) {
      const problems = resolutionProblems(r.valuesType, w.valuesType, `${path}{}`);
      if (problems.length > 0) return problems;
    }
    return [`${at}: ${errorMessage(err)}`];
  }
}
