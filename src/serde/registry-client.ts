// A small wrapper over @confluentinc/schemaregistry for what churnflow needs from a Schema Registry
// (Confluent REST API; locally Apicurio's ccompat API): register, schema by id (cached: an id never
// changes meaning), latest version of a subject, lookup, and compatibility checks with reasons.
// Every failure is a RegistryError (a ChurnflowError) that says which operation failed against which
// registry; network and 5xx failures are retriable. Credentials are never part of a message.
//
// Only the package's public exports are used (its index, loaded on first use: registry-package.ts),
// so an upgrade of the package cannot break a path into its dist/ folder.
import { Agent as HttpsAgent } from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import avro from 'avsc';
import type { Client, ClientConfig, SchemaInfo, SchemaMetadata } from '@confluentinc/schemaregistry';
import { LRUCache } from 'lru-cache';
import { ChurnflowError, errorMessage, type ErrorCode } from '../errors.js';
import { loadRegistryPackage, type RegistryPackage } from './registry-package.js';

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
  /** The first base URL without credentials, for messages. */
  readonly url: string;
  private readonly clientConfig: ClientConfig;
  private readonly errorCode: ErrorCode;
  /** Schemas by id: an id never changes meaning, but a flood of distinct ids must not grow memory without bound. */
  private readonly byId: LRUCache<number, Promise<RegisteredSchema>>;
  private loaded: Promise<{ readonly pkg: RegistryPackage; readonly main: Client }> | undefined;
  /**
   * Package clients for schema-by-id fetches, idle ones only. The package client runs every
   * getBySubjectAndId behind one mutex, so one client fetches one id at a time; a fetch takes an idle
   * client or makes one, so distinct ids are fetched in parallel (the decoder bounds how many at once).
   */
  private readonly idleFetchers: Client[] = [];
  private readonly fetchers: Client[] = [];
  private closed = false;
  /** Carries the CA and client certificate (schemaRegistry.tls) to every axios transport of the package. */
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
    this.httpsAgent = config.tls ? new HttpsAgent({ ...config.tls, keepAlive: true }) : undefined;
    this.clientConfig = {
      baseURLs,
      createAxiosDefaults: { timeout: config.timeoutMs ?? 10_000, ...(this.httpsAgent ? { httpsAgent: this.httpsAgent } : {}) },
      ...(auth ? { basicAuthCredentials: { credentialsSource: 'USER_INFO' as const, userInfo: `${auth.username}:${auth.password}` } } : {}),
      maxRetries: config.maxRetries ?? 2,
      retriesWaitMs: config.retryWaitMs ?? 100,
      retriesMaxWaitMs: 2000,
    };
  }

  /** The package client (for its AvroSerializer / AvroDeserializer, e.g. in interop tests). */
  async packageClient(): Promise<Client> {
    return (await this.load()).main;
  }

  /** Registers a schema under a subject (a no-op returning the existing id when it is already there). */
  async register(subject: string, schema: string | object): Promise<number> {
    const info: SchemaInfo = { schemaType: 'AVRO', schema: schemaText(schema) };
    return this.call(`register a schema under subject '${subject}'`, async () => (await this.load()).main.register(subject, info, false));
  }

  /** The schema with this id; cached for the client's lifetime, concurrent calls share one request. */
  getSchemaById(id: number): Promise<RegisteredSchema> {
    let pending = this.byId.get(id);
    if (!pending) {
      pending = this.call(`fetch schema id ${id}`, async () => {
        const fetcher = await this.takeFetcher();
        try {
          // No subject: a record's writer schema may be registered under any subject.
          const info = await fetcher.getBySubjectAndId('', id);
          return { id, schema: info.schema, schemaType: info.schemaType ?? 'AVRO' };
        } finally {
          if (!this.closed) this.idleFetchers.push(fetcher);
        }
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

  /** Every subject the registry holds (also the start-up check: one cheap GET). */
  async subjects(): Promise<string[]> {
    return this.call('list the subjects', async () => (await this.load()).main.getAllSubjects());
  }

  /** The latest version of a subject, fresh from the registry; null when the subject does not exist. */
  async latest(subject: string): Promise<SubjectVersion | null> {
    try {
      return await this.call(`read the latest version of subject '${subject}'`, async () => {
        const { main } = await this.load();
        main.clearLatestCaches(); // the package keeps "latest" until evicted; a schema check must see a version registered since
        return this.subjectVersion(subject, await main.getLatestSchemaMetadata(subject));
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
    const info: SchemaInfo = { schemaType: 'AVRO', schema: schemaText(schema) };
    try {
      return await this.call(`look up a schema under subject '${subject}'`, async () => {
        const found = await (await this.load()).main.getIdFullResponse(subject, info, false);
        return this.subjectVersion(subject, { ...found, schema: found.schema ?? info.schema });
      });
    } catch (err) {
      if (RegistryClient.isNotFound(err)) return null; // 40401 subject or 40403 schema not found
      throw err;
    }
  }

  /** The compatibility level in force for a subject (its own, else the global one; BACKWARD if the registry says neither). */
  async compatibilityLevel(subject: string): Promise<string> {
    const reads = [(c: Client) => c.getConfig(subject), (c: Client) => c.getDefaultConfig()];
    for (const read of reads) {
      try {
        const config = await this.call(`read the compatibility level of '${subject}'`, async () => read((await this.load()).main));
        const level = config.compatibilityLevel ?? config.compatibility;
        if (level) return level;
      } catch (err) {
        if (!RegistryClient.isNotFound(err)) throw err; // 40401/40408: no level of its own (Apicurio 3.0 answers 404 here)
      }
    }
    return 'BACKWARD';
  }

  /**
   * Is `schema` compatible with the latest version of `subject`, by the registry's rule for it? The
   * registry decides; the reasons come from a local avsc resolution check in the direction(s) the
   * level demands: the package's public client returns the verdict only (Apicurio gives no reasons
   * either way, it ignores `verbose=true`).
   */
  async checkCompatibility(subject: string, schema: string | object): Promise<CompatibilityResult> {
    const text = schemaText(schema);
    const [latest, level] = await Promise.all([this.latest(subject), this.compatibilityLevel(subject)]);
    if (!latest) return { isCompatible: true, messages: [], level, subjectExists: false };
    const isCompatible = await this.call(`check compatibility of a schema with subject '${subject}'`, async () =>
      (await this.load()).main.testSubjectCompatibility(subject, { schemaType: 'AVRO', schema: text }),
    );
    if (isCompatible === true) return { isCompatible: true, messages: [], level, subjectExists: true };
    let messages = explainIncompatibility(latest.schema, text, level).map((m) => `${m} (local avsc check)`);
    if (messages.length === 0) messages = [`the registry reports the schema incompatible with version ${latest.version} (id ${latest.id}) under ${level}; the local avsc check finds no reason`];
    return { isCompatible: false, messages, level, subjectExists: true };
  }

  /** Forgets cached schemas (ids are immutable, so this is only for tests and memory). */
  clearCache(): void {
    this.byId.clear();
    for (const c of this.fetchers) c.clearCaches();
    void this.loaded?.then(({ main }) => main.clearCaches(), () => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.fetchers) c.close();
    this.idleFetchers.length = 0;
    const loaded = await this.loaded?.catch(() => undefined);
    loaded?.main.close();
    this.httpsAgent?.destroy();
  }

  /** A subject version from the package's answer (AVRO when the registry omits the type, as Confluent and Apicurio 3 do for Avro). */
  private subjectVersion(subject: string, d: SchemaMetadata): SubjectVersion {
    if (typeof d.id !== 'number' || typeof d.version !== 'number') {
      const missing = typeof d.id !== 'number' ? 'id' : 'version';
      throw new RegistryError(this.errorCode, `schema registry at ${this.url} answered for subject '${subject}' without a schema ${missing}`, 'read a subject version', null, null, { retriable: false });
    }
    return { subject: d.subject ?? subject, version: d.version, id: d.id, schema: d.schema, schemaType: d.schemaType ?? 'AVRO' };
  }

  /** The package and the main client, made on first use. */
  private load(): Promise<{ readonly pkg: RegistryPackage; readonly main: Client }> {
    this.loaded ??= loadRegistryPackage().then((pkg) => ({ pkg, main: new pkg.SchemaRegistryClient(this.clientConfig) }));
    return this.loaded;
  }

  private async takeFetcher(): Promise<Client> {
    const idle = this.idleFetchers.pop();
    if (idle) return idle;
    const { pkg } = await this.load();
    // cacheCapacity 1: this wrapper caches schemas by id itself (bounded by maxCachedIds).
    const fetcher = new pkg.SchemaRegistryClient({ ...this.clientConfig, cacheCapacity: 1 });
    this.fetchers.push(fetcher);
    return fetcher;
  }

  /** Runs one registry call and turns its failure into a RegistryError naming the operation and the registry. */
  private async call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.toError(operation, err, (await this.loaded?.catch(() => undefined))?.pkg);
    }
  }

  private toError(operation: string, err: unknown, pkg: RegistryPackage | undefined): RegistryError {
    if (err instanceof RegistryError) return err;
    if (pkg !== undefined && err instanceof pkg.RestError) {
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
