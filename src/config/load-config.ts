// Loads config: defaults ← YAML/JSON file ← environment ← explicit overrides (CLI flags), validated
// once and frozen. Errors name every bad key, what was given and what is allowed.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { z } from 'zod';
import { configSchema, type ChurnflowConfig } from './config-schema.js';
import { isSecretPath, REDACTED, redactSecrets, redactText, rememberSecretValues } from './redact-secrets.js';
import { resolveSecretFiles } from './secret-files.js';

type Tree = Record<string, unknown>;

/** Environment variables with the config key each one sets. */
export const ENV_KEYS: Readonly<Record<string, { path: string; type: 'string' | 'number' | 'boolean' | 'list' }>> = Object.freeze({
  CHURNFLOW_KAFKA_BROKERS: { path: 'kafka.brokers', type: 'list' },
  CHURNFLOW_KAFKA_GROUP_ID: { path: 'kafka.groupId', type: 'string' },
  CHURNFLOW_SCHEMA_REGISTRY_URL: { path: 'schemaRegistry.url', type: 'string' },
  CHURNFLOW_LOG_LEVEL: { path: 'log.level', type: 'string' },
  CHURNFLOW_HTTP_PORT: { path: 'http.port', type: 'number' },
  CHURNFLOW_HTTP_HOST: { path: 'http.host', type: 'string' },
  CHURNFLOW_MODEL_DIR: { path: 'model.dir', type: 'string' },
  CHURNFLOW_MODEL_NAME: { path: 'model.name', type: 'string' },
  CHURNFLOW_MODEL_REGISTRY_DIR: { path: 'model.registry.dir', type: 'string' },
  CHURNFLOW_MODEL_ALIAS_STORE: { path: 'model.registry.aliasStore', type: 'string' },
  CHURNFLOW_FEATURE_SPEC: { path: 'features.spec', type: 'string' },
  CHURNFLOW_STATE_KIND: { path: 'state.kind', type: 'string' },
  CHURNFLOW_REDIS_URL: { path: 'state.redis.url', type: 'string' },
  CHURNFLOW_REDIS_PASSWORD_FILE: { path: 'state.redis.passwordFile', type: 'string' },
  CHURNFLOW_REDIS_TLS_CA_FILE: { path: 'state.redis.tls.caFile', type: 'string' },
  CHURNFLOW_KAFKA_SSL_ENABLED: { path: 'kafka.ssl.enabled', type: 'boolean' },
  CHURNFLOW_KAFKA_SSL_CA_FILE: { path: 'kafka.ssl.caFile', type: 'string' },
  CHURNFLOW_KAFKA_SASL_MECHANISM: { path: 'kafka.sasl.mechanism', type: 'string' },
  CHURNFLOW_KAFKA_SASL_USERNAME: { path: 'kafka.sasl.username', type: 'string' },
  CHURNFLOW_KAFKA_SASL_PASSWORD_FILE: { path: 'kafka.sasl.passwordFile', type: 'string' },
  CHURNFLOW_SCHEMA_REGISTRY_CA_FILE: { path: 'schemaRegistry.tls.caFile', type: 'string' },
  CHURNFLOW_HTTP_BEARER_TOKEN_FILE: { path: 'http.customerLookup.bearerTokenFile', type: 'string' },
  CHURNFLOW_ALLOWED_LATENESS_MS: { path: 'engine.allowedLatenessMs', type: 'number' },
  CHURNFLOW_BATCH_MAX_SIZE: { path: 'engine.batch.maxSize', type: 'number' },
  CHURNFLOW_BATCH_MAX_WAIT_MS: { path: 'engine.batch.maxWaitMs', type: 'number' },
  CHURNFLOW_INSTANCE_ID: { path: 'instance.id', type: 'string' },
});

export function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = tree;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    node = (next && typeof next === 'object' ? next : (node[k] = {})) as Tree;
  }
  node[keys[keys.length - 1]!] = value;
}

function envOverrides(env: NodeJS.ProcessEnv): Tree {
  const tree: Tree = {};
  for (const [name, { path, type }] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (type === 'number') {
      value = Number(raw);
      if (!Number.isFinite(value)) throw new ChurnflowError('CF_CONFIG_INVALID', `environment ${name} (config key ${path}) must be a number, got '${raw}'`);
    } else if (type === 'boolean') {
      value = raw === 'true' || raw === '1';
    } else if (type === 'list') {
      value = raw.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
    }
    setPath(tree, path, value);
  }
  return tree;
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? deepMerge(b as Tree, v as Tree) : v;
  }
  return out;
}

export function readConfigFile(path: string): Tree {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `cannot read config file ${path}: ${errorMessage(err)}`);
  }
  try {
    const parsed: unknown = YAML.parse(text);
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('the top level must be a mapping of keys');
    return parsed as Tree;
  } catch (err) {
    // Only the first line: the parser's excerpt of the file could quote a secret.
    throw new ChurnflowError('CF_CONFIG_INVALID', `config file ${path} is not valid YAML/JSON: ${redactText(errorMessage(err).split('\n')[0] ?? '')}`);
  }
}

/** `readSecretFile`: how `<secret>File` keys are read (default: the file system; tests of deployment manifests map them to a Secret's keys). */
export function loadConfig(options: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Tree; readSecretFile?: (path: string) => string } = {}): Readonly<ChurnflowConfig> {
  let tree: Tree = options.file ? readConfigFile(options.file) : {};
  tree = deepMerge(tree, envOverrides(options.env ?? process.env));
  if (options.overrides) tree = deepMerge(tree, options.overrides);
  tree = resolveSecretFiles(tree, options.readSecretFile);
  const res = configSchema.safeParse(tree);
  if (!res.success) {
    const problems = res.error.issues.flatMap((i) => describeIssue(i, tree));
    throw new ChurnflowError('CF_CONFIG_INVALID', `invalid configuration${options.file ? ` in ${options.file}` : ''}:\n  - ${problems.join('\n  - ')}`, {
      details: { problems },
    });
  }
  rememberSecretValues(res.data);
  return deepFreeze(res.data);
}

/**
 * One line per problem: the full key path, what is allowed, and what was given — never the value of
 * a secret-named key, and URLs without their password.
 */
function describeIssue(issue: z.core.$ZodIssue, tree: Tree): string[] {
  const at = (path: readonly PropertyKey[]) => path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const allowed = allowedKeysAt(issue.path);
    return issue.keys.map((k) => `${at([...issue.path, k])}: unknown key${allowed ? ` (allowed under ${at(issue.path) || 'the top level'}: ${allowed.join(', ')})` : ''}`);
  }
  const key = at(issue.path) || '(root)';
  const got = issue.path.reduce<unknown>((node, k) => (node && typeof node === 'object' ? (node as Tree)[String(k)] : undefined), tree);
  const shown = got === undefined ? '' : isSecretPath(issue.path) ? ` (got ${REDACTED})` : ` (got ${JSON.stringify(redactSecrets(got))})`;
  return [`${key}: ${redactText(issue.message)}${shown}`];
}

/** The keys the schema declares at a path (through defaults, optionals and arrays), for "allowed: …". */
function allowedKeysAt(path: readonly PropertyKey[]): string[] | undefined {
  let node: z.core.$ZodType | undefined = configSchema;
  for (const k of [...path, undefined]) {
    // Unwrap default/prefault/optional/nullable/pipe wrappers down to the object or array.
    for (let i = 0; node && i < 10; i++) {
      const def = node._zod.def as { innerType?: z.core.$ZodType; in?: z.core.$ZodType };
      if (def.innerType) node = def.innerType;
      else if (node._zod.def.type === 'pipe' && def.in) node = def.in;
      else break;
    }
    if (!node || k === undefined) break;
    const def = node._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    node = def.type === 'object' ? def.shape?.[String(k)] : def.type === 'array' ? def.element : undefined;
  }
  const def = node?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : undefined;
}

function deepFreeze<T>(obj: T): T {
  if (obj && typeof obj === 'object') {
    for (const v of Object.values(obj)) deepFreeze(v);
    Object.freeze(obj);
  }
  return obj;
}
