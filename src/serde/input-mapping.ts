// "Your events, not ours": a declarative mapping from a user's own records (JSON, or Avro decoded
// with the user's registered writer schema) to churnflow activity events. The mapping is validated
// once (zod, against the engine's activity schema: kinds and payload fields must exist, every
// required payload field needs a rule), compiled to plain functions, and every mapped record goes
// through ActivityCodec.fromJsonObject, so mapped and native events are held to one definition.
// A record the mapping cannot handle is a DecodeError('MAPPING') naming the mapping, rule and path.
// User-declared kinds (`input.kinds`) are mapping targets like the built-in ones and travel in the
// schema's generic Custom branch. A mapping that maps none of the records it meets fails the run
// (CF_MAPPING_NO_MATCH) instead of dead-lettering everything. The language is described in docs/input-mapping.md.
import { readFileSync } from 'node:fs';
import type avro from 'avsc';
import YAML from 'yaml';
import { z } from 'zod';
import type { ActivityEvent, RawRecord, Scalar } from '../events/activity-event.js';
import { ChurnflowError, errorMessage } from '../errors.js';
import { canonicalJson, sha256Hex } from '../features/canonical-json.js';
import { ActivityCodec, CUSTOM_KIND, DecodeError, kindOfBranch } from './activity-codec.js';
import { declaredKindSchema, type DeclaredKind } from './declared-kinds.js';
import type { RecordDecoder } from './record-decoder.js';
import { avroType } from './schemas.js';

// ---------------------------------------------------------------------------------------------
// Paths: `a.b.c`, `items[0].id`, `attrs["content-type"]`.

export type PathSegment = string | number;

/** Parses a field path; throws an Error naming the position of a syntax error. */
export function parsePath(path: string): PathSegment[] {
  const segs: PathSegment[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`bad path '${path}' at position ${i}: ${why}`);
  };
  if (path.length === 0) fail('empty path');
  let expectName = true; // at the start or after '.'
  while (i < path.length) {
    const c = path[i]!;
    if (c === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) fail("'[' without ']'");
      const inner = path.slice(i + 1, close).trim();
      if (/^\d+$/.test(inner)) segs.push(Number(inner));
      else if (/^"[^"]*"$/.test(inner) || /^'[^']*'$/.test(inner)) segs.push(inner.slice(1, -1));
      else fail(`expected an index like [0] or a quoted key like ["a.b"], got [${inner}]`);
      i = close + 1;
      expectName = false;
      if (i < path.length && path[i] !== '.' && path[i] !== '[') fail("expected '.' or '[' after ']'");
      if (path[i] === '.') {
        i++;
        expectName = true;
        if (i >= path.length) fail("path ends with '.'");
      }
    } else {
      if (!expectName) fail("expected '.' or '['");
      let j = i;
      while (j < path.length && path[j] !== '.' && path[j] !== '[') j++;
      const name = path.slice(i, j);
      if (name.length === 0) fail('empty field name');
      if (/[\]\s"']/.test(name)) fail(`unexpected character in field name '${name}'`);
      segs.push(name);
      i = j;
      expectName = false;
      if (path[i] === '.') {
        i++;
        expectName = true;
        if (i >= path.length) fail("path ends with '.'");
      }
    }
  }
  return segs;
}

interface PathValue {
  readonly value: unknown;
  /** Where the lookup stopped when the value is missing, e.g. `user` (null) or `items[3]` (out of range). */
  readonly missingAt?: string;
}

function formatSegments(segs: readonly PathSegment[]): string {
  return segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : /^[^.[\]\s"']+$/.test(s) ? (i === 0 ? s : `.${s}`) : `["${s}"]`)).join('');
}

function getPath(root: unknown, segs: readonly PathSegment[]): PathValue {
  let node: unknown = root;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return { value: undefined, missingAt: `${formatSegments(segs.slice(0, i)) || '(record)'} is ${kindOf(node)}, not a list` };
      node = node[seg];
    } else {
      if (node === null || typeof node !== 'object' || Array.isArray(node) || Buffer.isBuffer(node)) {
        return { value: undefined, missingAt: `${formatSegments(segs.slice(0, i)) || '(record)'} is ${kindOf(node)}, not an object` };
      }
      node = Object.prototype.hasOwnProperty.call(node, seg) ? (node as Record<string, unknown>)[seg] : undefined;
    }
    if (node === undefined) return { value: undefined, missingAt: formatSegments(segs.slice(0, i + 1)) };
  }
  return { value: node };
}

/** "missing", plus where the lookup stopped when that is not simply the last field. */
function missingText(missingAt: string | undefined, path: string): string {
  return missingAt && missingAt !== path && missingAt !== formatSegments(parsePath(path)) ? `missing (${missingAt})` : 'missing';
}

function kindOf(v: unknown): string {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (Buffer.isBuffer(v)) return 'bytes';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${describe(v)}`;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Buffer.isBuffer(v)) return `<${v.length} bytes>`;
  if (typeof v === 'bigint') return `${v}`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

// ---------------------------------------------------------------------------------------------
// The engine's activity schema as the mapping needs it: kinds, payload fields, which are required.

interface EngineField {
  readonly name: string;
  /** No default and not nullable: a mapping must produce it. */
  readonly required: boolean;
  readonly nullable: boolean;
}

let engineKindsCache: ReadonlyMap<string, readonly EngineField[]> | null = null;

/** Payload fields of each built-in kind of the engine's activity schema (the generic Custom branch carries declared kinds instead). */
export function engineKinds(): ReadonlyMap<string, readonly EngineField[]> {
  if (engineKindsCache) return engineKindsCache;
  const record = avroType('activity-event') as unknown as { fields: { name: string; type: { types?: avro.Type[] } }[] };
  const payload = record.fields.find((f) => f.name === 'payload');
  const out = new Map<string, readonly EngineField[]>();
  for (const branch of payload?.type.types ?? []) {
    const b = branch as unknown as { name: string; fields: { name: string; type: avro.Type; defaultValue(): unknown }[] };
    if (kindOfBranch(b.name) === CUSTOM_KIND) continue;
    out.set(
      kindOfBranch(b.name),
      b.fields.map((f) => {
        const types = (f.type as unknown as { types?: avro.Type[] }).types;
        const nullable = types?.some((t) => t.typeName === 'null') ?? false;
        return { name: f.name, nullable, required: !nullable && f.defaultValue() === undefined };
      }),
    );
  }
  engineKindsCache = out;
  return out;
}

/** Payload fields of the built-in kinds plus the declared ones (value, numeric fields, attributes). */
export function mappableKinds(declared: readonly DeclaredKind[]): ReadonlyMap<string, readonly EngineField[]> {
  if (declared.length === 0) return engineKinds();
  const out = new Map(engineKinds());
  for (const k of declared) {
    out.set(k.name, [
      { name: 'value', required: false, nullable: false },
      ...Object.entries(k.fields).map(([name, f]) => ({ name, required: f.required, nullable: false })),
      ...k.attributes.map((name) => ({ name, required: false, nullable: false })),
    ]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The config schema (zod). Shorthands: a string where a rule is expected is a path.

const pathSchema = z.string().superRefine((s, ctx) => {
  try {
    parsePath(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) });
  }
});

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const unitSchema = z.enum(['ms', 's', 'us', 'iso8601']);
export type TimeUnit = z.infer<typeof unitSchema>;

const asPath = (v: unknown): unknown => (typeof v === 'string' ? { path: v } : v);

const fieldRuleSchema = z.preprocess(
  asPath,
  z
    .object({
      /** Where the value is in the source record. */
      path: pathSchema.optional(),
      /** A constant instead of a path. */
      const: scalarSchema.optional(),
      /** Used when the path is missing or null (as is, no conversion). */
      default: scalarSchema.optional(),
      /** Value table, looked up by the value's text: {"1": true, "0": false}. */
      map: z.record(z.string(), scalarSchema).optional(),
      /** Result for values not in `map` (without it, such a value is a MAPPING error). */
      otherwise: scalarSchema.optional(),
      /** The value is a time in this unit; the result is epoch ms. */
      unit: unitSchema.optional(),
      convert: z.enum(['toNumber', 'toString', 'toBoolean']).optional(),
      /** Multiplies a numeric result (e.g. 0.001 for ms → s; 100 for dollars → cents). */
      multiply: z.number().refine(Number.isFinite, 'must be a finite number').optional(),
      /** Rounds a numeric result to an integer. */
      round: z.enum(['round', 'floor', 'ceil']).optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      if ((r.path === undefined) === (r.const === undefined)) ctx.addIssue({ code: 'custom', message: "a field rule needs exactly one of 'path' or 'const'" });
      if (r.otherwise !== undefined && r.map === undefined) ctx.addIssue({ code: 'custom', path: ['otherwise'], message: "'otherwise' only makes sense with 'map'" });
    }),
);
export type FieldRule = z.infer<typeof fieldRuleSchema>;

const idRuleSchema = z.preprocess(
  asPath,
  z
    .object({
      path: pathSchema.optional(),
      /** `{path}` placeholders, e.g. "sc-{user.id}-{occurred_at}"; `{{` and `}}` are literal braces. */
      template: z.string().min(1).optional(),
      /** A hash (sha256 of the values' canonical JSON, 32 hex chars) of these fields: for sources without an id. */
      hash: z.array(pathSchema).min(1).optional(),
      /** Prepended to a hash. */
      prefix: z.string().optional(),
    })
    .strict()
    .superRefine((r, ctx) => {
      const n = [r.path, r.template, r.hash].filter((x) => x !== undefined).length;
      if (n !== 1) ctx.addIssue({ code: 'custom', message: "an id rule needs exactly one of 'path', 'template' or 'hash'" });
      if (r.prefix !== undefined && r.hash === undefined) ctx.addIssue({ code: 'custom', path: ['prefix'], message: "'prefix' only applies to 'hash' (use a template)" });
      if (r.template !== undefined) {
        try {
          parseTemplate(r.template);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: ['template'], message: errorMessage(err) });
        }
      }
    }),
);
export type IdRule = z.infer<typeof idRuleSchema>;

const timeRuleSchema = z.preprocess(asPath, z.object({ path: pathSchema, unit: unitSchema.default('ms') }).strict());
export type TimeRule = z.infer<typeof timeRuleSchema>;

const kindRuleSchema = z
  .object({
    /** Every record of this mapping is of this kind. */
    constant: z.string().optional(),
    /** The field that says the kind … */
    path: pathSchema.optional(),
    /** … and its value → kind table, e.g. {LOGIN: login, PLAYBACK_STOP: session}. */
    values: z.record(z.string(), z.string()).optional(),
    /** Kind for values not in the table (without it such a record is a MAPPING error). */
    default: z.string().optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.constant !== undefined) {
      if (r.path !== undefined || r.values !== undefined || r.default !== undefined) ctx.addIssue({ code: 'custom', message: "'constant' excludes 'path', 'values' and 'default'" });
    } else if (r.path === undefined || r.values === undefined) {
      ctx.addIssue({ code: 'custom', message: "a kind rule needs 'constant', or 'path' with a 'values' table" });
    }
  });
export type KindRule = z.infer<typeof kindRuleSchema>;

const topicMappingSchema = z
  .object({
    /** For messages; defaults to the topics. */
    name: z.string().min(1).optional(),
    /** Topics whose records this mapping reads; absent = every record no earlier mapping claimed. */
    topics: z.array(z.string().min(1)).min(1).optional(),
    customerId: idRuleSchema,
    eventId: idRuleSchema,
    eventTime: timeRuleSchema,
    kind: kindRuleSchema,
    /** Per kind: engine payload field → rule. Fields without a rule get the engine schema's default. */
    payload: z.record(z.string(), z.record(z.string(), fieldRuleSchema)).default({}),
  })
  .strict();
export type TopicMapping = z.infer<typeof topicMappingSchema>;
export type TopicMappingInput = z.input<typeof topicMappingSchema>;

/** Kinds and payload fields of one mapping against the built-in and declared kinds (issues at `base`). */
function checkMappingKinds(m: TopicMapping, kinds: ReadonlyMap<string, readonly EngineField[]>, ctx: z.RefinementCtx, base: (string | number)[]): void {
  const known = [...kinds.keys()].join(', ');
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path: [...base, ...path], message });
  const notAKind = (k: string) => `'${k}' is not a kind of the activity schema nor declared in input.kinds (${known})`;
  const produced = new Set<string>();
  if (m.kind.constant !== undefined) produced.add(m.kind.constant);
  for (const [value, kind] of Object.entries(m.kind.values ?? {})) {
    if (!kinds.has(kind)) issue(['kind', 'values', value], notAKind(kind));
    produced.add(kind);
  }
  if (m.kind.default !== undefined) produced.add(m.kind.default);
  if (m.kind.constant !== undefined && !kinds.has(m.kind.constant)) issue(['kind', 'constant'], notAKind(m.kind.constant));
  if (m.kind.default !== undefined && !kinds.has(m.kind.default)) issue(['kind', 'default'], notAKind(m.kind.default));
  for (const [kind, rules] of Object.entries(m.payload)) {
    const fields = kinds.get(kind);
    if (!fields) {
      issue(['payload', kind], notAKind(kind));
      continue;
    }
    for (const name of Object.keys(rules)) {
      if (!fields.some((f) => f.name === name)) issue(['payload', kind, name], `'${name}' is not a field of ${kind} (${fields.map((f) => f.name).join(', ')})`);
    }
  }
  for (const kind of produced) {
    const fields = kinds.get(kind);
    if (!fields) continue;
    const rules = m.payload[kind] ?? {};
    for (const f of fields) {
      if (f.required && rules[f.name] === undefined) {
        issue(['payload', kind, f.name], `required: ${kind} events need '${f.name}' (no default in the activity schema, or declared required) but the mapping has no rule for it`);
      }
    }
  }
}

/** The `input` section of the engine config. */
export const inputMappingSchema = z
  .object({
    /** User-declared kinds beyond the subscription domain, carried by the schema's Custom branch. */
    kinds: z.array(declaredKindSchema).default([]),
    /** Tried in order; the first whose `topics` contain the record's topic (or has no `topics`) maps it. Records no mapping claims are read as churnflow's own activity format. */
    mappings: z.array(topicMappingSchema).default([]),
    /** A mapping that maps none of the first this-many records it claims fails the run (CF_MAPPING_NO_MATCH). */
    noMatchLimit: z.number().int().min(1).max(1_000_000).default(100),
  })
  .strict()
  .superRefine((input, ctx) => {
    const builtIn = engineKinds();
    input.kinds.forEach((k, i) => {
      if (builtIn.has(k.name) || k.name === CUSTOM_KIND) ctx.addIssue({ code: 'custom', path: ['kinds', i, 'name'], message: `'${k.name}' is a built-in kind (${[...builtIn.keys(), CUSTOM_KIND].join(', ')}); declare kinds of your own under other names` });
      if (input.kinds.findIndex((o) => o.name === k.name) !== i) ctx.addIssue({ code: 'custom', path: ['kinds', i, 'name'], message: `kind '${k.name}' is declared twice` });
    });
    const kinds = mappableKinds(input.kinds);
    input.mappings.forEach((m, i) => checkMappingKinds(m, kinds, ctx, ['mappings', i]));
  })
  .prefault({});
export type InputMappingConfig = z.infer<typeof inputMappingSchema>;
export type InputMappingConfigInput = z.input<typeof inputMappingSchema>;

/** Validates an `input` section; errors name every bad key. */
export function parseInputMapping(raw: unknown, source = 'input mapping'): InputMappingConfig {
  const res = inputMappingSchema.safeParse(raw);
  if (!res.success) {
    const problems = res.error.issues.map((i) => `input.${i.path.map(String).join('.')}: ${i.message}`.replace(/\.:/, ':'));
    throw new ChurnflowError('CF_CONFIG_INVALID', `invalid ${source}:\n  - ${problems.join('\n  - ')}`, { details: { problems } });
  }
  return res.data;
}

/** Reads a YAML/JSON file holding an `input:` section (or just its contents). */
export function loadInputMappingFile(path: string): InputMappingConfig {
  let parsed: unknown;
  try {
    parsed = YAML.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ChurnflowError('CF_CONFIG_INVALID', `cannot read input mapping ${path}: ${errorMessage(err)}`);
  }
  const section = parsed !== null && typeof parsed === 'object' && 'input' in parsed ? (parsed as { input: unknown }).input : parsed;
  return parseInputMapping(section, `input mapping in ${path}`);
}

// ---------------------------------------------------------------------------------------------
// Compilation.

type TemplatePart = { literal: string } | { path: PathSegment[]; text: string };

function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let lit = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c === '{' && template[i + 1] === '{') {
      lit += '{';
      i++;
    } else if (c === '}' && template[i + 1] === '}') {
      lit += '}';
      i++;
    } else if (c === '{') {
      const close = template.indexOf('}', i);
      if (close < 0) throw new Error(`template '${template}': '{' at ${i} is not closed`);
      if (lit) parts.push({ literal: lit });
      lit = '';
      const text = template.slice(i + 1, close).trim();
      parts.push({ path: parsePath(text), text });
      i = close;
    } else if (c === '}') {
      throw new Error(`template '${template}': unmatched '}' at ${i} (write '}}' for a literal brace)`);
    } else {
      lit += c;
    }
  }
  if (lit) parts.push({ literal: lit });
  if (!parts.some((p) => 'path' in p)) throw new Error(`template '${template}' has no {field} placeholder, so every record would get the same id`);
  return parts;
}

/** Thrown inside rules; turned into a DecodeError('MAPPING') naming the mapping. */
class RuleError extends Error {}

function idText(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'boolean') return String(v);
  throw new RuleError(`${where} is ${kindOf(v)}; ids need a string or a number`);
}

function compileId(rule: IdRule, what: string): (rec: unknown) => string {
  if (rule.path !== undefined) {
    const p = rule.path;
    const segs = parsePath(p);
    return (rec) => {
      const { value, missingAt } = getPath(rec, segs);
      if (value === undefined || value === null) throw new RuleError(`${what}: path '${p}' is ${value === null ? 'null' : missingText(missingAt, p)}`);
      const s = idText(value, `${what}: path '${p}'`);
      if (s === '') throw new RuleError(`${what}: path '${p}' is an empty string`);
      return s;
    };
  }
  if (rule.template !== undefined) {
    const parts = parseTemplate(rule.template);
    const t = rule.template;
    return (rec) =>
      parts
        .map((part) => {
          if ('literal' in part) return part.literal;
          const { value, missingAt } = getPath(rec, part.path);
          if (value === undefined || value === null) throw new RuleError(`${what}: template '${t}': {${part.text}} is ${value === null ? 'null' : missingText(missingAt, part.text)}`);
          return idText(value, `${what}: template '${t}': {${part.text}}`);
        })
        .join('');
  }
  const paths = (rule.hash ?? []).map((p) => ({ p, segs: parsePath(p) }));
  const prefix = rule.prefix ?? '';
  return (rec) => {
    const values = paths.map(({ p, segs }) => {
      const { value, missingAt } = getPath(rec, segs);
      if (value === undefined) throw new RuleError(`${what}: hash field '${p}' is ${missingText(missingAt, p)}`);
      return Buffer.isBuffer(value) ? value.toString('base64') : typeof value === 'bigint' ? value.toString() : value;
    });
    return prefix + sha256Hex(canonicalJson(values)).slice(0, 32);
  };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

/** A time value in `unit` → epoch ms (integer). */
export function toEpochMs(v: unknown, unit: TimeUnit, where: string): number {
  if (unit === 'iso8601') {
    if (typeof v !== 'string') throw new RuleError(`${where} is ${kindOf(v)}; unit iso8601 needs a string like 2025-01-01T12:00:00Z`);
    if (!ISO_8601.test(v.trim())) throw new RuleError(`${where} = ${describe(v)} is not an ISO 8601 date-time with a zone (e.g. 2025-01-01T12:00:00Z or +02:00)`);
    const t = Date.parse(v.trim().replace(' ', 'T').replace(',', '.'));
    if (!Number.isFinite(t)) throw new RuleError(`${where} = ${describe(v)} is not a valid date`);
    return t;
  }
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'bigint') n = Number(v);
  else if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) n = Number(v);
  else throw new RuleError(`${where} is ${kindOf(v)}; unit ${unit} needs a number`);
  if (!Number.isFinite(n)) throw new RuleError(`${where} = ${describe(v)} is not a finite number`);
  const ms = unit === 's' ? Math.round(n * 1000) : unit === 'us' ? Math.floor(n / 1000) : Math.round(n);
  if (!Number.isSafeInteger(ms)) throw new RuleError(`${where} = ${describe(v)} is out of range as epoch ${unit}`);
  return ms;
}

function toNumber(v: unknown, where: string): number {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RuleError(`${where} = ${describe(v)} is not a finite number`);
    return v;
  }
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v.trim());
    if (Number.isFinite(n)) return n;
  }
  throw new RuleError(`${where} = ${describe(v)} is not a number`);
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'y', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'n', 'off']);

function toBoolean(v: unknown, where: string): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number' && (v === 0 || v === 1)) return v === 1;
  if (typeof v === 'string') {
    const w = v.trim().toLowerCase();
    if (TRUE_WORDS.has(w)) return true;
    if (FALSE_WORDS.has(w)) return false;
  }
  throw new RuleError(`${where} = ${describe(v)} is not a boolean (true/false, 1/0, yes/no)`);
}

function toText(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  throw new RuleError(`${where} is ${kindOf(v)}; toString needs a scalar`);
}

const MISSING = Symbol('missing');

/** A compiled field rule: the mapped value, or MISSING (path missing/null, no default). */
function compileField(rule: FieldRule, where: string): (rec: unknown) => Scalar | typeof MISSING {
  const segs = rule.path !== undefined ? parsePath(rule.path) : null;
  const src = rule.path !== undefined ? `${where} (path '${rule.path}')` : where;
  const table = rule.map ? new Map(Object.entries(rule.map)) : null;
  return (rec) => {
    let v: unknown = segs ? getPath(rec, segs).value : rule.const;
    if (v === undefined || v === null) {
      if (rule.default !== undefined) return rule.default;
      return v === null ? null : MISSING;
    }
    if (table) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean' && typeof v !== 'bigint') throw new RuleError(`${src} is ${kindOf(v)}; 'map' needs a scalar`);
      const key = String(v);
      if (table.has(key)) v = table.get(key);
      else if (rule.otherwise !== undefined) v = rule.otherwise;
      else throw new RuleError(`${src} = ${describe(v)} is not in the map (${[...table.keys()].slice(0, 8).join(', ')}${table.size > 8 ? ', …' : ''}) and the rule has no 'otherwise'`);
      if (v === null) return null;
    }
    if (rule.unit) v = toEpochMs(v, rule.unit, src);
    switch (rule.convert) {
      case 'toNumber':
        v = toNumber(v, src);
        break;
      case 'toBoolean':
        v = toBoolean(v, src);
        break;
      case 'toString':
        v = toText(v, src);
        break;
      default:
        break;
    }
    if (rule.multiply !== undefined) v = toNumber(v, src) * rule.multiply;
    if (rule.round) {
      const n = toNumber(v, src);
      v = rule.round === 'floor' ? Math.floor(n) : rule.round === 'ceil' ? Math.ceil(n) : Math.round(n);
    }
    if (typeof v === 'bigint') v = Number(v);
    if (Buffer.isBuffer(v)) v = v.toString('utf8');
    if (typeof v === 'object' && v !== null) throw new RuleError(`${src} is ${kindOf(v)}; payload fields need a scalar (point the path at a field inside it)`);
    return v as Scalar;
  };
}

export interface CompiledMapping {
  readonly name: string;
  readonly topics: readonly string[] | null;
  /** Does this mapping read records of this topic? */
  matches(topic: string | undefined): boolean;
  /** The engine's NDJSON form of a source record (before the schema check); throws DecodeError('MAPPING'). */
  toActivityJson(source: unknown): Record<string, unknown>;
  /** The activity event of a source record, checked by ActivityCodec.fromJsonObject; throws DecodeError('MAPPING'). */
  apply(source: unknown): ActivityEvent;
}

/** Compiles one (validated) mapping. */
export function compileMapping(mapping: TopicMapping, options: { codec?: ActivityCodec; index?: number; kinds?: readonly DeclaredKind[] } = {}): CompiledMapping {
  const declared = new Map((options.kinds ?? options.codec?.declaredKinds ?? []).map((k) => [k.name, k]));
  const codec = options.codec ?? new ActivityCodec(undefined, { kinds: [...declared.values()] });
  const name = mapping.name ?? (mapping.topics ? mapping.topics.join(',') : `mappings[${options.index ?? 0}]`);
  const topics = mapping.topics ? new Set(mapping.topics) : null;
  const customerId = compileId(mapping.customerId, 'customerId');
  const eventId = compileId(mapping.eventId, 'eventId');
  const timeSegs = parsePath(mapping.eventTime.path);
  const timeUnit = mapping.eventTime.unit;
  const timeWhere = `eventTime (path '${mapping.eventTime.path}')`;
  const kinds = mappableKinds([...declared.values()]);

  let kindOfRecord: (rec: unknown) => string;
  if (mapping.kind.constant !== undefined) {
    const k = mapping.kind.constant;
    kindOfRecord = () => k;
  } else {
    const segs = parsePath(mapping.kind.path!);
    const table = new Map(Object.entries(mapping.kind.values ?? {}));
    const fallback = mapping.kind.default;
    const p = mapping.kind.path!;
    kindOfRecord = (rec) => {
      const { value } = getPath(rec, segs);
      if (value === undefined || value === null) {
        if (fallback !== undefined) return fallback;
        throw new RuleError(`kind: path '${p}' is ${value === null ? 'null' : 'missing'}`);
      }
      const key = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : null;
      const k = key === null ? undefined : table.get(key);
      if (k !== undefined) return k;
      if (fallback !== undefined) return fallback;
      throw new RuleError(`kind: path '${p}' = ${describe(value)} is not in the kind table (${[...table.keys()].join(', ')}) and there is no default kind`);
    };
  }

  const payloadRules = new Map<string, { field: string; required: boolean; rule: (rec: unknown) => Scalar | typeof MISSING; where: string }[]>();
  for (const [kind, fields] of kinds) {
    const rules = mapping.payload[kind] ?? {};
    payloadRules.set(
      kind,
      Object.entries(rules).map(([field, rule]) => {
        const where = `payload.${kind}.${field}`;
        return { field, required: fields.find((f) => f.name === field)?.required ?? false, rule: compileField(rule, where), where: rule.path !== undefined ? `${where} (path '${rule.path}')` : where };
      }),
    );
  }

  const fail = (detail: string): never => {
    throw new DecodeError('MAPPING', `mapping '${name}': ${detail}`);
  };

  const toActivityJson = (source: unknown): Record<string, unknown> => {
    if (source === null || typeof source !== 'object' || Array.isArray(source)) fail(`the source record is ${kindOf(source)}, not an object`);
    try {
      const kind = kindOfRecord(source);
      const payload: Record<string, Scalar> = {};
      for (const r of payloadRules.get(kind) ?? []) {
        const v = r.rule(source);
        if (v === MISSING) {
          if (r.required) throw new RuleError(`${r.where} is missing and the rule has no default (${kind} events need it)`);
          continue;
        }
        payload[r.field] = v;
      }
      const { value: t, missingAt } = getPath(source, timeSegs);
      if (t === undefined || t === null) throw new RuleError(`${timeWhere} is ${t === null ? 'null' : missingText(missingAt, mapping.eventTime.path)}`);
      const decl = declared.get(kind);
      const envelope = { event_id: eventId(source), customer_id: customerId(source), event_time: toEpochMs(t, timeUnit, timeWhere) };
      return decl ? { ...envelope, kind: CUSTOM_KIND, payload: customBody(decl, payload, payloadRules.get(kind) ?? []) } : { ...envelope, kind, payload };
    } catch (err) {
      if (err instanceof RuleError) return fail(err.message);
      throw err;
    }
  };

  return {
    name,
    topics: mapping.topics ?? null,
    matches: (topic) => topics === null || (topic !== undefined && topics.has(topic)),
    toActivityJson,
    apply(source) {
      const json = toActivityJson(source);
      try {
        return codec.fromJsonObject(json);
      } catch (err) {
        const kind = json['kind'] === CUSTOM_KIND ? String((json['payload'] as { name?: unknown }).name) : String(json['kind']);
      if (err instanceof DecodeError) return fail(`the mapped ${kind} event does not fit the activity schema: ${err.code}: ${err.detail}`);
        throw err;
      }
    },
  };
}

/**
 * The Custom branch body of a declared kind: `value` and the numeric fields as numbers (numeric
 * text, e.g. from CSV, is read as a number: the declaration says the type), attributes as text.
 */
function customBody(decl: DeclaredKind, payload: Readonly<Record<string, Scalar>>, rules: readonly { field: string; where: string }[]): Record<string, unknown> {
  const measures: Record<string, number> = {};
  const attributes: Record<string, string> = {};
  let value = 1;
  for (const [field, v] of Object.entries(payload)) {
    if (v === null) continue;
    const where = rules.find((r) => r.field === field)?.where ?? `payload.${decl.name}.${field}`;
    if (decl.attributes.includes(field)) attributes[field] = toText(v, where);
    else if (field === 'value') value = toNumber(v, where);
    else measures[field] = toNumber(v, where);
  }
  return { name: decl.name, value, measures, attributes };
}

/** Compiles every mapping of an `input` section. */
export function compileMappings(config: InputMappingConfig, codec = new ActivityCodec(undefined, { kinds: config.kinds })): CompiledMapping[] {
  return config.mappings.map((m, index) => compileMapping(m, { codec, index, kinds: config.kinds }));
}

// ---------------------------------------------------------------------------------------------
// The decoder.

/** What a mapped decoder needs to read Avro records in the Confluent wire format: the registry decoder. */
export interface ForeignRecordReader {
  /** The record's value decoded with its own writer schema, unions unwrapped (plain JSON-like values). */
  readForeign(record: RawRecord): unknown;
  prepare?(records: readonly RawRecord[]): Promise<void>;
}

/**
 * Decodes records of mapped topics through their mapping and everything else through `fallback`
 * (default: `base` if it is a RecordDecoder, else the engine's ActivityCodec).
 * Formats: json (text/bytes), json-object, avro-object (a record read from the user's container
 * file), confluent-avro (needs `base`, the registry decoder). Plain 'avro' has no schema, so it can't be mapped.
 */
export class MappedDecoder implements RecordDecoder {
  readonly mappings: readonly CompiledMapping[];
  private readonly base: ForeignRecordReader | undefined;
  private readonly fallback: RecordDecoder;
  private readonly guard: NoMatchGuard;

  constructor(mappings: readonly CompiledMapping[], base?: ForeignRecordReader, fallback?: RecordDecoder, options: { noMatchLimit?: number } = {}) {
    this.mappings = mappings;
    this.base = base;
    this.fallback = fallback ?? (base && isRecordDecoder(base) ? base : new ActivityCodec());
    this.guard = new NoMatchGuard(mappings, options.noMatchLimit ?? 100);
  }

  /** At the end of a finite input: throws CF_MAPPING_NO_MATCH if a mapping mapped none of the records it claimed, or no record decoded at all. */
  finish(): void {
    this.guard.finish();
  }

  /** The mapping for a record's topic, if any. */
  mappingFor(record: RawRecord): CompiledMapping | undefined {
    return this.mappings.find((m) => m.matches(record.topic));
  }

  async prepare(records: readonly RawRecord[]): Promise<void> {
    if (this.base?.prepare) await this.base.prepare(records);
    else if (this.fallback.prepare) await this.fallback.prepare(records);
  }

  decode(record: RawRecord): ActivityEvent {
    const mapping = this.mappingFor(record);
    try {
      const event = mapping ? mapping.apply(this.sourceObject(record)) : this.fallback.decode(record);
      this.guard.decoded(mapping);
      return event;
    } catch (err) {
      if (err instanceof DecodeError) this.guard.failed(mapping, record, err);
      throw err;
    }
  }

  /** The source record as a plain object, by format. */
  sourceObject(record: RawRecord): unknown {
    const v = record.value;
    switch (record.format) {
      case 'json': {
        const text = typeof v === 'string' ? v : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : null;
        if (text === null) throw new DecodeError('DECODE_JSON', 'a json record must be text or bytes');
        try {
          return JSON.parse(text) as unknown;
        } catch (err) {
          throw new DecodeError('DECODE_JSON', `not valid JSON: ${errorMessage(err)}`);
        }
      }
      case 'json-object':
      case 'avro-object':
        return v;
      case 'confluent-avro':
        if (!this.base) throw new DecodeError('DECODE_AVRO', 'Confluent-framed Avro needs a Schema Registry decoder as the base of the mapped decoder');
        return this.base.readForeign(record);
      default:
        throw new DecodeError('DECODE_AVRO', `format '${String(record.format)}' carries no writer schema, so it cannot be mapped (use the Confluent wire format or an Avro container file)`);
    }
  }
}

/**
 * "A mapping that matches nothing fails loudly": when every one of the first `limit` records a
 * mapping claims is a MAPPING dead letter (or, with mappings configured, no record of the first
 * `limit` is claimed and none reads as the native format), the configuration is wrong, not the
 * data; dead-lettering the whole input would hide that.
 */
class NoMatchGuard {
  private readonly claimed = new Map<CompiledMapping, { claimed: number; mapped: number; last: string; stream: string }>();
  private unclaimed = { seen: 0, decoded: 0, last: '', stream: '' };

  constructor(
    private readonly mappings: readonly CompiledMapping[],
    private readonly limit: number,
  ) {}

  decoded(mapping: CompiledMapping | undefined): void {
    if (!mapping) {
      this.unclaimed.seen++;
      this.unclaimed.decoded++;
      return;
    }
    const s = this.stats(mapping);
    s.claimed++;
    s.mapped++;
  }

  failed(mapping: CompiledMapping | undefined, record: RawRecord, err: DecodeError): void {
    const stream = record.topic ?? record.position.stream;
    if (!mapping) {
      const u = this.unclaimed;
      u.seen++;
      u.last = `${err.code}: ${err.detail}`;
      u.stream = stream;
      if (this.mappings.length > 0 && u.decoded === 0 && u.seen >= this.limit && this.claimed.size === 0) throw this.unclaimedError(`the first ${u.seen}`);
      return;
    }
    const s = this.stats(mapping);
    s.claimed++;
    s.last = err.detail;
    s.stream = stream;
    if (s.mapped === 0 && s.claimed >= this.limit) throw this.mappingError(mapping, `the first ${s.claimed}`);
  }

  finish(): void {
    for (const [mapping, s] of this.claimed) if (s.mapped === 0) throw this.mappingError(mapping, `all ${s.claimed}`);
    const u = this.unclaimed;
    if (this.mappings.length > 0 && this.claimed.size === 0 && u.seen > 0 && u.decoded === 0) throw this.unclaimedError(`all ${u.seen}`);
  }

  private stats(mapping: CompiledMapping) {
    let s = this.claimed.get(mapping);
    if (!s) this.claimed.set(mapping, (s = { claimed: 0, mapped: 0, last: '', stream: '' }));
    return s;
  }

  private mappingError(mapping: CompiledMapping, which: string): ChurnflowError {
    const s = this.stats(mapping);
    return new ChurnflowError('CF_MAPPING_NO_MATCH', `input mapping '${mapping.name}' mapped none of ${which} records it claimed (${s.stream}); the last failed with: ${s.last}`, {
      details: { mapping: mapping.name, claimed: s.claimed, stream: s.stream },
    });
  }

  private unclaimedError(which: string): ChurnflowError {
    const u = this.unclaimed;
    const names = this.mappings.map((m) => `'${m.name}'${m.topics ? ` (topics ${m.topics.join(', ')})` : ''}`).join(', ');
    return new ChurnflowError(
      'CF_MAPPING_NO_MATCH',
      `no input mapping claimed any of ${which} records of ${u.stream} and none reads as churnflow's own format (the last: ${u.last}); mappings: ${names}. ` +
        'A mapping with topics reads only those Kafka topics; a mapping without topics reads files and every other record.',
      { details: { mappings: this.mappings.map((m) => m.name), seen: u.seen, stream: u.stream } },
    );
  }
}

function isRecordDecoder(x: unknown): x is RecordDecoder {
  return typeof (x as { decode?: unknown }).decode === 'function';
}

/**
 * A RecordDecoder for users' own records. `mapping`: an `input` section (validated or raw), one
 * mapping, or a list. `base`: the registry decoder for Confluent-framed Avro (its writer-schema
 * decode is used, without the activity resolver); unmapped records go to `fallback` (default `base`, else an ActivityCodec).
 */
export function createMappedDecoder(
  mapping: InputMappingConfigInput | TopicMappingInput | readonly TopicMappingInput[],
  base?: ForeignRecordReader,
  options: { codec?: ActivityCodec; fallback?: RecordDecoder } = {},
): MappedDecoder {
  const raw = Array.isArray(mapping) ? { mappings: mapping } : mapping !== null && typeof mapping === 'object' && 'mappings' in mapping ? mapping : { mappings: [mapping] };
  const config = parseInputMapping(raw);
  return new MappedDecoder(compileMappings(config, options.codec), base, options.fallback, { noMatchLimit: config.noMatchLimit });
}
