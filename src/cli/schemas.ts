// `churnflow schemas check|register`: compares the schemas in schemas/ with what a Schema Registry
// holds for their topics' `<topic>-value` subjects (TopicNameStrategy), and registers them.
// check: per subject "not registered" / "identical" / "compatible" / "INCOMPATIBLE" (with reasons),
// exit code 1 if any is incompatible. register: registers after a compatibility check, refusing
// incompatible schemas unless --force (the registry's own rule still applies), prints subject → id.
import { Command, InvalidArgumentError, Option } from 'commander';
import { ChurnflowError } from '../errors.js';
import { tlsOptions } from '../config/tls-options.js';
import { RegistryClient, subjectForTopic, type RegistryClientConfig } from '../serde/registry-client.js';
import { SCHEMA_NAMES, schemaJson, type SchemaName } from '../serde/schemas.js';
import { intFlag } from './common.js';

/** Default topic of each schema (before --topic-prefix). */
export const DEFAULT_TOPICS: Readonly<Record<SchemaName, string>> = Object.freeze({
  'activity-event': 'churnflow.activity',
  'risk-event': 'churnflow.risk',
  'current-risk': 'churnflow.current-risk',
  'drift-metric': 'churnflow.drift',
  'dead-letter': 'churnflow.dead-letter',
});

export interface SchemaTarget {
  readonly schema: SchemaName;
  readonly topic: string;
  readonly subject: string;
  /** The schema JSON to compare/register (schemas/<name>.avsc unless overridden). */
  readonly text: string;
}

/** Which schema goes to which subject: `<prefix><topic>-value`, topics overridable per schema. */
export function schemaTargets(options: {
  topicPrefix?: string;
  topics?: Partial<Record<SchemaName, string>>;
  only?: readonly SchemaName[];
  /** Schema overrides (tests, or checking a candidate schema before committing it). */
  schemas?: Partial<Record<SchemaName, string | object>>;
} = {}): SchemaTarget[] {
  const names = options.only && options.only.length > 0 ? SCHEMA_NAMES.filter((n) => options.only!.includes(n)) : SCHEMA_NAMES;
  return names.map((schema) => {
    const topic = `${options.topicPrefix ?? ''}${options.topics?.[schema] ?? DEFAULT_TOPICS[schema]}`;
    const override = options.schemas?.[schema];
    const text = override === undefined ? JSON.stringify(schemaJson(schema)) : typeof override === 'string' ? override : JSON.stringify(override);
    return { schema, topic, subject: subjectForTopic(topic), text };
  });
}

export type CheckStatus = 'not-registered' | 'identical' | 'compatible' | 'incompatible';

export interface SchemaCheck {
  readonly target: SchemaTarget;
  readonly status: CheckStatus;
  /** The subject's latest version, when it has one. */
  readonly latest: { readonly version: number; readonly id: number } | null;
  /** When our schema is registered under the subject (possibly not as the latest version). */
  readonly registered: { readonly version: number; readonly id: number } | null;
  /** The subject's compatibility level. */
  readonly level: string;
  readonly messages: readonly string[];
}

/** Compares each target with its subject's latest version, using the registry's compatibility endpoint. */
export async function checkSchemas(registry: RegistryClient, targets: readonly SchemaTarget[]): Promise<SchemaCheck[]> {
  return Promise.all(
    targets.map(async (target): Promise<SchemaCheck> => {
      const latest = await registry.latest(target.subject);
      if (!latest) return { target, status: 'not-registered', latest: null, registered: null, level: await registry.compatibilityLevel(target.subject), messages: [] };
      const found = await registry.lookup(target.subject, target.text);
      const registered = found ? { version: found.version, id: found.id } : null;
      const latestRef = { version: latest.version, id: latest.id };
      if (found && found.version === latest.version) {
        return { target, status: 'identical', latest: latestRef, registered, level: await registry.compatibilityLevel(target.subject), messages: [] };
      }
      const compat = await registry.checkCompatibility(target.subject, target.text);
      const messages = [...compat.messages];
      if (registered) messages.unshift(`this schema is registered as version ${registered.version} (id ${registered.id}), not as the latest`);
      return { target, status: compat.isCompatible ? 'compatible' : 'incompatible', latest: latestRef, registered, level: compat.level, messages };
    }),
  );
}

export interface SchemaRegistration {
  readonly target: SchemaTarget;
  readonly check: SchemaCheck;
  readonly outcome: 'registered' | 'unchanged' | 'refused' | 'failed';
  readonly id: number | null;
  readonly message: string | null;
}

/** Registers each target after a compatibility check; incompatible ones only with `force` (the registry may still refuse). */
export async function registerSchemas(registry: RegistryClient, targets: readonly SchemaTarget[], options: { force?: boolean } = {}): Promise<SchemaRegistration[]> {
  const checks = await checkSchemas(registry, targets);
  const out: SchemaRegistration[] = [];
  for (const check of checks) {
    const { target } = check;
    if (check.status === 'identical') {
      out.push({ target, check, outcome: 'unchanged', id: check.latest?.id ?? null, message: null });
      continue;
    }
    if (check.registered) {
      // registering it again would return the same id and add no version (Confluent and Apicurio alike)
      out.push({ target, check, outcome: 'unchanged', id: check.registered.id, message: `registered as version ${check.registered.version}; the latest is version ${check.latest?.version}` });
      continue;
    }
    if (check.status === 'incompatible' && !options.force) {
      out.push({ target, check, outcome: 'refused', id: null, message: `incompatible with version ${check.latest?.version} under ${check.level} (use --force to try anyway)` });
      continue;
    }
    try {
      const id = await registry.register(target.subject, target.text);
      out.push({ target, check, outcome: 'registered', id, message: null });
    } catch (err) {
      const e = err as ChurnflowError & { status?: number | null };
      if (e.retriable) throw err; // unreachable registry: stop, don't report half a run as refusals
      const hint = e.status === 409 ? ` (the registry enforces ${check.level} itself; to replace the schema anyway, change the subject's compatibility level first)` : '';
      out.push({ target, check, outcome: 'failed', id: null, message: `${e.message}${hint}` });
    }
  }
  return out;
}

function statusText(c: SchemaCheck): string {
  switch (c.status) {
    case 'not-registered':
      return 'not registered';
    case 'identical':
      return `identical (version ${c.latest?.version}, id ${c.latest?.id})`;
    case 'compatible':
      return `compatible with version ${c.latest?.version} (id ${c.latest?.id}) under ${c.level}`;
    case 'incompatible':
      return `INCOMPATIBLE with version ${c.latest?.version} (id ${c.latest?.id}) under ${c.level}`;
  }
}

export function formatChecks(checks: readonly SchemaCheck[]): string {
  const width = Math.max(...checks.map((c) => c.target.subject.length), 7);
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.target.subject.padEnd(width)}  ${c.target.schema.padEnd(14)}  ${statusText(c)}`);
    for (const m of c.messages) lines.push(`${' '.repeat(width + 2)}- ${m}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatRegistrations(regs: readonly SchemaRegistration[]): string {
  const width = Math.max(...regs.map((r) => r.target.subject.length), 7);
  const lines: string[] = [];
  for (const r of regs) {
    const what =
      r.outcome === 'registered'
        ? `id ${r.id} (registered${r.check.status === 'not-registered' ? ', new subject' : ''})`
        : r.outcome === 'unchanged'
          ? `id ${r.id} (${r.message ?? 'already the latest version'})`
          : `${r.outcome === 'refused' ? 'REFUSED' : 'FAILED'}: ${r.message}`;
    lines.push(`${r.target.subject.padEnd(width)}  ${r.target.schema.padEnd(14)}  → ${what}`);
    if (r.outcome === 'refused') for (const m of r.check.messages) lines.push(`${' '.repeat(width + 2)}- ${m}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Where the command writes; tests capture it. */
export interface SchemasIo {
  out(text: string): void;
  err(text: string): void;
  setExitCode(code: number): void;
  env: NodeJS.ProcessEnv;
}

const processIo: SchemasIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  env: process.env,
};

interface SchemasFlags {
  registry?: string;
  topicPrefix: string;
  topic?: Partial<Record<SchemaName, string>>;
  timeoutMs: number;
  json?: boolean;
  force?: boolean;
}

function topicFlag(value: string, previous: Partial<Record<SchemaName, string>> | undefined): Partial<Record<SchemaName, string>> {
  const eq = value.indexOf('=');
  const name = value.slice(0, eq) as SchemaName;
  if (eq < 1 || !SCHEMA_NAMES.includes(name) || value.slice(eq + 1) === '') {
    throw new InvalidArgumentError(`expected <schema>=<topic> with schema one of ${SCHEMA_NAMES.join(', ')}, got '${value}'`);
  }
  return { ...(previous ?? {}), [name]: value.slice(eq + 1) };
}

function namesArg(names: readonly string[]): SchemaName[] {
  for (const n of names) {
    if (!SCHEMA_NAMES.includes(n as SchemaName)) throw new ChurnflowError('CF_INPUT_INVALID', `unknown schema '${n}': expected ${SCHEMA_NAMES.join(', ')}`);
  }
  return names as SchemaName[];
}

function clientFrom(flags: SchemasFlags, io: SchemasIo): RegistryClient {
  const url = flags.registry ?? io.env['CHURNFLOW_SCHEMA_REGISTRY_URL'];
  if (!url) throw new ChurnflowError('CF_CONFIG_INVALID', 'no schema registry: pass --registry <url> or set CHURNFLOW_SCHEMA_REGISTRY_URL');
  const user = io.env['CHURNFLOW_SCHEMA_REGISTRY_USER'];
  // The same CA variable loadConfig reads (schemaRegistry.tls.caFile); this command takes no config file.
  const caFile = io.env['CHURNFLOW_SCHEMA_REGISTRY_CA_FILE'];
  const tls = tlsOptions(caFile ? { enabled: true, caFile, rejectUnauthorized: true } : undefined, 'schemaRegistry.tls');
  const config: RegistryClientConfig = {
    url,
    tls,
    timeoutMs: flags.timeoutMs,
    maxRetries: 1,
    basicAuth: user ? { username: user, password: io.env['CHURNFLOW_SCHEMA_REGISTRY_PASSWORD'] ?? '' } : undefined,
  };
  return new RegistryClient(config);
}

function addCommonFlags(cmd: Command): Command {
  return cmd
    .argument('[schemas...]', `only these schemas (${SCHEMA_NAMES.join(', ')}); default all`)
    .option('--registry <url>', 'Schema Registry (Confluent API) base URL; default $CHURNFLOW_SCHEMA_REGISTRY_URL. Basic auth from $CHURNFLOW_SCHEMA_REGISTRY_USER/_PASSWORD')
    .option('--topic-prefix <prefix>', 'prepended to every topic name, e.g. "staging." → staging.churnflow.activity', '')
    .option('--topic <schema=topic>', `topic of a schema (repeatable); defaults: ${Object.entries(DEFAULT_TOPICS).map(([s, t]) => `${s}=${t}`).join(', ')}`, topicFlag)
    .option('--timeout-ms <ms>', 'per-request timeout', intFlag('--timeout-ms', 100, 600_000), 10_000)
    .addOption(new Option('--json', 'print the results as JSON'));
}

export function schemasCommand(io: SchemasIo = processIo): Command {
  const cmd = new Command('schemas').description('compare or register the Avro schemas in schemas/ with a Schema Registry (subjects <topic>-value)');

  const check = addCommonFlags(new Command('check'))
    .description('compare each schema with its subject\'s latest version: not registered / identical / compatible / INCOMPATIBLE (exit 1)')
    .action(async (names: string[], flags: SchemasFlags) => {
      const registry = clientFrom(flags, io);
      try {
        const targets = schemaTargets({ topicPrefix: flags.topicPrefix, topics: flags.topic, only: namesArg(names) });
        const checks = await checkSchemas(registry, targets);
        io.out(flags.json ? `${JSON.stringify(checks.map(checkJson), null, 2)}\n` : `registry ${registry.url}\n${formatChecks(checks)}`);
        const bad = checks.filter((c) => c.status === 'incompatible').length;
        if (bad > 0) {
          io.err(`${bad} schema${bad === 1 ? ' is' : 's are'} incompatible with the registry\n`);
          io.setExitCode(1);
        }
      } finally {
        await registry.close();
      }
    })
    .addHelpText('after', '\nExit codes: 0 all identical/compatible/not registered, 1 some INCOMPATIBLE, 2 registry error.');

  const register = addCommonFlags(new Command('register'))
    .description('register each schema under its subject after a compatibility check; prints subject → id')
    .option('--force', 'register even when the compatibility check fails (the registry may still refuse under its own rule)')
    .action(async (names: string[], flags: SchemasFlags) => {
      const registry = clientFrom(flags, io);
      try {
        const targets = schemaTargets({ topicPrefix: flags.topicPrefix, topics: flags.topic, only: namesArg(names) });
        const regs = await registerSchemas(registry, targets, { force: flags.force === true });
        io.out(flags.json ? `${JSON.stringify(regs.map(registrationJson), null, 2)}\n` : `registry ${registry.url}\n${formatRegistrations(regs)}`);
        const bad = regs.filter((r) => r.outcome === 'refused' || r.outcome === 'failed').length;
        if (bad > 0) {
          io.err(`${bad} schema${bad === 1 ? ' was' : 's were'} not registered\n`);
          io.setExitCode(1);
        }
      } finally {
        await registry.close();
      }
    });

  return cmd.addCommand(check).addCommand(register);
}

function checkJson(c: SchemaCheck): Record<string, unknown> {
  return { schema: c.target.schema, topic: c.target.topic, subject: c.target.subject, status: c.status, latest: c.latest, registered: c.registered, level: c.level, messages: c.messages };
}

function registrationJson(r: SchemaRegistration): Record<string, unknown> {
  return { schema: r.target.schema, topic: r.target.topic, subject: r.target.subject, outcome: r.outcome, id: r.id, status: r.check.status, message: r.message };
}
